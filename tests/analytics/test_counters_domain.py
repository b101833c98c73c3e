"""Unit tests of the counters' pure rules (domain/counters.py): what a ticket contributes and where, how a later
state corrects it, how a period is tiled, how figures come out of sums."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from services.analytics.domain import counters as c

OPENED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, Monday 2 March


def ticket(**changes):
    base = dict(ticket_id="TS-1", kind="complaint", channel="call_center", product_code="mobile_office",
                city="济南", industry=None, cause=None, opened_at=OPENED, tier_reached=1)
    return {**base, **changes}


def test_an_open_ticket_counts_on_the_day_the_requester_called():
    late_evening = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)  # 23:30 on 1 March in Shanghai
    cells = c.contribution(ticket(received_at=late_evening, opened_at=late_evening + timedelta(hours=1)))
    assert cells == {("20260301", ("mobile_office", "济南", "complaint", "call_center", "-", "-")): {"opened": 1}}


def test_each_moment_counts_on_its_own_day():
    cells = c.contribution(ticket(
        tier_reached=3, first_response_at=OPENED + timedelta(hours=1), responded_timely=True,
        resolved_at=OPENED + timedelta(days=1, hours=6), timely=False, reopen_count=1,
        closed_at=OPENED + timedelta(days=3), satisfied=True, cause="usage_misunderstanding"))
    keys = ("mobile_office", "济南", "complaint", "call_center", "-", "usage_misunderstanding")
    assert cells[("20260302", keys)] == {"opened": 1, "tier2": 1, "tier3": 1, "responded": 1, "responded_timely": 1}
    resolved = cells[("20260303", keys)]
    assert resolved["resolved"] == resolved["judged"] == resolved["reopened"] == 1 and "timely" not in resolved
    assert resolved[c.RESOLUTION_SECONDS] == 30 * 3600
    assert resolved[c.HIST] == [c.hour_bucket(30), 1]  # a run of counts from its first bucket (`dense`)
    assert cells[("20260305", keys)] == {"closed": 1, "feedback": 1, "satisfied": 1}


def test_a_later_state_moves_the_resolution_and_nothing_counts_twice():
    first = c.contribution(ticket(resolved_at=OPENED + timedelta(hours=2), timely=True))
    again = c.contribution(ticket(resolved_at=OPENED + timedelta(days=2), timely=True, reopen_count=1))
    delta = c.difference(again, first)
    keys = c.dimension_keys(ticket())
    assert delta[("20260302", keys)]["resolved"] == -1
    assert delta[("20260304", keys)]["resolved"] == 1
    assert "opened" not in delta[("20260302", keys)]  # unchanged figures are not in the change
    assert c.difference(first, first) == {}


def test_a_ticket_that_changes_city_leaves_its_old_cell():
    delta = c.difference(c.contribution(ticket(city="青岛")), c.contribution(ticket()))
    assert {keys[1]: m["opened"] for (_, keys), m in delta.items()} == {"青岛": 1, "济南": -1}


def test_roll_up_reaches_every_cuboid_and_grain():
    buckets = c.roll_up(c.contribution(ticket()))
    assert sum(len(cuboids) for cuboids in buckets.values()) == len(c.CUBOIDS) * len(c.GRAINS)
    assert buckets[c.bucket_id("P", "d", "20260302")]["P"] == {"mobile_office|complaint": {"opened": 1}}
    assert buckets[c.bucket_id("C", "w", "2026W10")]["C"] == {"济南|complaint": {"opened": 1}}
    assert buckets[c.bucket_id("K", "m", "202603")]["K"] == {"complaint": {"opened": 1}}
    assert buckets["ALL|d|20260302|mobile_office"]["ALL"] == {
        "mobile_office|济南|complaint|call_center|-|-": {"opened": 1}}
    assert buckets["ALLC|d|20260302|济南"]["ALL_C"] == {"mobile_office|济南|complaint|call_center|-|-": {"opened": 1}}


def test_free_text_product_codes_cannot_break_a_field_name():
    keys = c.dimension_keys(ticket(product_code="a.b|c$%"))
    assert "." not in keys[0] and "|" not in keys[0] and "$" not in keys[0]
    assert c.unescape(keys[0]) == "a.b|c$%"


def test_merging_to_zero_drops_the_cell():
    cells = {"x": {"opened": 1, c.HIST: {"3": 1}}}
    assert c.merge_cells(cells, {"x": {"opened": -1, c.HIST: {"3": -1}}}) == {}


@pytest.mark.parametrize("needed,filtered,cuboid", [
    ((), (), "K"), (("kind",), ("kind",), "K"), (("product_code",), (), "P"), (("city", "kind"), ("kind",), "C"),
    (("channel",), ("channel",), "CH"),
    (("product_code", "city"), ("product_code",), "PC"), (("product_code", "city"), ("city",), "CP"),
    (("industry", "city"), ("city",), "CI"), (("industry", "city"), ("industry",), "I_C"),
    (("industry", "product_code"), ("product_code",), "P_I"), (("industry", "product_code"), ("industry",), "I_P"),
    (("channel", "industry"), ("channel", "industry"), "CH_I"),
    (("channel", "industry", "city"), ("channel", "industry"), "C_CH_I"),
    (("channel", "industry", "city"), ("city", "industry"), "C_CH_I"),
    (("channel", "industry", "product_code"), ("product_code", "industry"), "P_CH_I"),
    (("channel", "industry", "cause", "product_code"), ("product_code",), "ALL"),
    (("channel", "industry", "cause"), ("channel",), "CH_I_CA"),
    (("product_code", "city", "channel"), ("product_code", "channel"), "ALL"),
    (("product_code", "city", "channel"), ("city", "channel"), "ALL_C"),
])
def test_the_cuboid_that_reads_least(needed, filtered, cuboid):
    assert c.choose_cuboid(needed, filtered) == cuboid


def test_a_split_cuboid_is_read_by_the_parts_asked_for():
    assert c.reads("PC", {"product_code": 2}) == (2, 2 * 17 * 4)
    assert c.reads("PC", {"city": 1}) == (30, 30 * 17 * 4)  # not split by city: every part
    assert c.reads("K", {}) == (1, 4)


def test_cover_takes_whole_months_then_whole_weeks_then_days():
    tiles = c.cover(date(2026, 2, 27), date(2026, 4, 15))
    assert tiles == [("d", date(2026, 2, 27)), ("d", date(2026, 2, 28)), ("m", date(2026, 3, 1)),
                     ("d", date(2026, 4, 1)), ("d", date(2026, 4, 2)), ("d", date(2026, 4, 3)),
                     ("d", date(2026, 4, 4)), ("d", date(2026, 4, 5)), ("w", date(2026, 4, 6)),
                     ("d", date(2026, 4, 13)), ("d", date(2026, 4, 14))]
    days = set()
    for grain, first in tiles:
        length = {"d": 1, "w": 7}.get(grain) or 31
        days |= {first + timedelta(days=i) for i in range(length)}
    assert min(days) == date(2026, 2, 27) and date(2026, 4, 14) in days and date(2026, 4, 15) not in days
    assert c.cover(date(2026, 3, 1), date(2026, 3, 31), ("d",))[-1] == ("d", date(2026, 3, 30))


def test_weeks_of_a_series_start_on_monday_and_are_clipped():
    points = list(c.intervals(date(2026, 3, 4), date(2026, 3, 20), "week"))
    assert points == [(date(2026, 3, 4), date(2026, 3, 9)), (date(2026, 3, 9), date(2026, 3, 16)),
                      (date(2026, 3, 16), date(2026, 3, 20))]
    assert list(c.intervals(date(2026, 1, 15), date(2026, 3, 1), "month"))[1] == (date(2026, 2, 1), date(2026, 3, 1))


def test_figures_from_sums():
    sums = {"opened": 4, "closed": 3, "resolved": 2, "judged": 2, "timely": 1, "feedback": 2, "satisfied": 2,
            c.RESOLUTION_SECONDS: 3 * 3600, c.HIST: {str(c.hour_bucket(1)): 1, str(c.hour_bucket(2)): 1},
            "tier2": 2}
    figures = c.figures(sums, carried_in=2)
    assert figures["count"] == 6 and figures["backlog"] == 3
    assert figures["timeliness_rate"] == {"response": None, "resolution": 0.5}
    assert figures["resolution_hours"] == {"avg": 1.5, "p90": 2.0}
    assert figures["escalation_rate"] == {"tier2": 0.5, "tier3": 0.0}


def test_p90_is_the_upper_edge_of_its_bucket():
    hist: dict[str, int] = {}
    for hours in (0.1, 0.3, 5.2, 5.4, 6.0, 7, 9, 10, 11.2, 100):
        hist[str(c.hour_bucket(hours))] = hist.get(str(c.hour_bucket(hours)), 0) + 1
    assert c.histogram_percentile(hist, 90) == 11.5  # the 9th of 10 is 11.2 h, in the (11, 11.5] bucket
    assert c.histogram_percentile(hist, 50) == 6.0   # the 5th is exactly 6 h: an edge is its bucket's upper end
    assert c.histogram_percentile({}, 90) is None
    assert c.histogram_percentile({str(len(c.HOUR_EDGES)): 1}, 90) == c.HOUR_EDGES[-1]


def _as_counts(hist) -> dict[int, int]:
    """A histogram in any of its shapes as {bucket: count}, without 0s: what the shapes must agree on."""
    runs = c.dense(hist)
    return {runs[0] + offset: count for offset, count in enumerate(runs[1:]) if count} if runs else {}


def test_histograms_add_as_runs_of_counts_in_either_stored_shape():
    rng = random.Random(3)
    expected: dict[int, int] = {}
    held: dict = {}
    for _ in range(300):
        buckets = {rng.randrange(len(c.HOUR_EDGES) + 1): rng.randint(1, 3) for _ in range(rng.randint(1, 6))}
        sign = rng.choice([1, 1, -1])
        shape = rng.choice(["run", "mapping"])
        other = ({str(b): n for b, n in buckets.items()} if shape == "mapping"
                 else c.dense({str(b): n for b, n in buckets.items()}))
        c.add_measures(held, {c.HIST: other}, sign)
        for bucket, count in buckets.items():
            expected[bucket] = expected.get(bucket, 0) + sign * count
            if not expected[bucket]:
                del expected[bucket]
        assert _as_counts(held.get(c.HIST)) == expected
        hist = held.get(c.HIST)
        if isinstance(hist, list):
            assert hist[1] and hist[-1]  # no 0 at either end
        elif hist is not None:
            assert all(hist.values())
        stored = c.compact(hist) if hist else None
        assert _as_counts(stored) == expected  # what is stored reads back the same
        if stored is not None:
            held[c.HIST] = stored  # and is added to as stored, in whichever shape


def test_a_sparse_histogram_is_stored_as_its_buckets_and_a_dense_one_as_a_run():
    assert c.compact([60, 1]) == [60, 1]
    assert c.compact([3, 1, 0, 0, 0, 2]) == {"3": 1, "7": 2}
    assert c.compact([3, 1, 2, 0, 4]) == [3, 1, 2, 0, 4]
    cells = c.merge_cells({}, {"x": {c.HIST: [3, 1]}})
    cells = c.merge_cells(cells, {"x": {c.HIST: [40, 1]}})
    assert cells == {"x": {c.HIST: {"3": 1, "40": 1}}}
    assert c.merge_cells(cells, {"x": {"opened": 1}}) == {"x": {"opened": 1, c.HIST: {"3": 1, "40": 1}}}


def test_a_query_accumulates_what_add_measures_sums():
    rng = random.Random(5)
    summed: dict = {}
    accumulated: dict = {}
    for _ in range(200):
        cell = {"opened": rng.randint(0, 3), "closed": rng.randint(0, 2)}
        if rng.random() < 0.7:
            buckets = {str(rng.randrange(len(c.HOUR_EDGES) + 1)): rng.randint(1, 4) for _ in range(rng.randint(1, 5))}
            cell[c.HIST] = buckets if rng.random() < 0.5 else c.dense(buckets)
        c.add_measures(summed, cell)
        c.accumulate(accumulated, cell)
    assert _as_counts(accumulated[c.HIST]) == _as_counts(summed[c.HIST])
    assert {k: v for k, v in accumulated.items() if k != c.HIST} == {k: v for k, v in summed.items() if k != c.HIST}
    for pct in (50, 90, 99):
        assert c.histogram_percentile(accumulated[c.HIST], pct) == c.histogram_percentile(summed[c.HIST], pct)
