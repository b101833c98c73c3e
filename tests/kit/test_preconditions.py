"""If-Match parsing and checking (services/kit/preconditions.py), and instants to the store's millisecond."""

from datetime import UTC, datetime

import pytest

from services.kit.clock import to_milliseconds
from services.kit.preconditions import check_version, parse_if_match
from services.kit.problems import Problem


@pytest.mark.parametrize("value, expected", [('"3"', 3), ("3", 3), ('W/"12"', 12), (" 4 ", 4), (None, None),
                                             ("*", None)])
def test_if_match_names_a_version_or_none(value, expected):
    assert parse_if_match(value) == expected


@pytest.mark.parametrize("value", [None, "*", '""'])
def test_where_it_is_required_a_missing_if_match_is_428(value):
    with pytest.raises(Problem) as error:
        parse_if_match(value, what="article", required=True)
    assert (error.value.status, error.value.slug) == (428, "precondition-required")


def test_a_malformed_if_match_is_400_and_a_stale_one_412():
    with pytest.raises(Problem) as error:
        parse_if_match("abc", what="ticket")
    assert error.value.status == 400 and "ticket version" in error.value.detail
    check_version(3, None)
    check_version(3, 3)
    with pytest.raises(Problem) as error:
        check_version(3, 2, what="article")
    assert error.value.status == 412 and error.value.extra == {"current_version": 3}


def test_instants_keep_the_millisecond_the_store_keeps():
    assert to_milliseconds(datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)).microsecond == 123000
