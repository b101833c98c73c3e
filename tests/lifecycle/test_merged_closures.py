"""A suggestion closed as a duplicate of another is not counted in the backlog: the ticket it was merged into is,
when it closes, so one issue raised twice by one requester counts once."""

from services.lifecycle.domain import backlog
from tests.lifecycle.test_domain import closed_ticket


def test_a_merged_duplicate_does_not_qualify_for_the_backlog():
    ticket = closed_ticket()
    assert backlog.qualifies(ticket)
    duplicate = ticket.model_copy(update={"close_reason": "merged", "merged_into": "JY-20261102-00002"})
    assert not backlog.qualifies(duplicate)
