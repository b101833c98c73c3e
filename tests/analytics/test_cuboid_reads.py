"""Every form of metrics query reads a bounded number of bucket documents (domain/counters.py `LAYOUT`,
`choose_cuboid`, `reads`): any of the six filters, with or without a breakdown dimension, reads one document per
tile for each value it asks of one dimension, never every part of a split cuboid, except the 16 forms the layout
names (at most the 17 city parts); a product's or a city's part of the all-dimensions cuboid is read only by a
form that asks for both a product and a city, or for one of them with all three of channel, industry and cause. With the ten cuboids of 0251278, 172 of the 448 forms read all 30 product parts
of the all-dimensions cuboid a tile (bench/cuboids.py prints both)."""

from itertools import combinations

import pytest

from services.analytics.domain import counters as c

FORMS = [(frozenset(filtered), group) for r in range(len(c.DIMENSIONS) + 1)
         for filtered in combinations(c.DIMENSIONS, r) for group in (None, *c.DIMENSIONS)]
OTHERS = {"channel", "industry", "cause"}


def residual(filtered: frozenset, group: str | None) -> bool:
    """A breakdown by product or city under two or more of channel, industry and cause, and neither product nor
    city: what the layout leaves to the all-dimensions cuboid split by city (its comment says why)."""
    return group in ("product_code", "city") and not filtered & {"product_code", "city"} \
        and len(filtered & OTHERS) >= 2


def reading(filtered, group):
    needed = set(filtered) | ({group} if group else set())
    cuboid = c.choose_cuboid(needed, dict.fromkeys(filtered, 1))
    assert needed <= set(c.CUBOIDS[cuboid])
    return cuboid, c.reads(cuboid, dict.fromkeys(filtered, 1))[0]


def test_there_are_448_forms_and_16_left_to_a_whole_cuboid():
    assert len(FORMS) == 64 * 7
    assert sum(residual(f, g) for f, g in FORMS) == 16


@pytest.mark.parametrize("filtered,group", FORMS,
                         ids=[f"{'+'.join(sorted(f)) or 'none'}/{g or '-'}" for f, g in FORMS])
def test_each_form_reads_one_document_a_tile(filtered, group):
    cuboid, docs = reading(filtered, group)
    if residual(filtered, group):  # the 17 city parts: of city by those others for a breakdown by city, else of all six
        assert docs == 17
        if group == "city" and len(filtered & OTHERS) == 2:
            assert c.SPLIT[cuboid] == "city" and set(c.CUBOIDS[cuboid]) == {"city", "kind", *filtered}
        else:
            assert cuboid == "ALL_C"
        return
    assert docs == 1, f"{cuboid} reads {docs} documents a tile"
    split = c.SPLIT.get(cuboid)
    assert split is None or split in filtered  # a split cuboid is read by the part asked for, never whole


@pytest.mark.parametrize("place", ["product_code", "city"])
def test_a_product_or_city_by_two_others_reads_a_part_without_the_other_place(place):
    """One product (city) by two of channel, industry and cause reads a part of at most 308 cells, not the part of
    the all-dimensions cuboid, which holds every combination of the five others (11,000 cells a month for the
    largest product at a million tickets a year)."""
    for others in combinations(sorted(OTHERS), 2):
        for group in (None, *others):
            cuboid, docs = reading(frozenset({place, *others}), group)
            assert docs == 1 and c.reads(cuboid, {place: 1})[1] <= 308, (others, group, cuboid)
            assert set(c.CUBOIDS[cuboid]) == {place, "kind", *others}, (others, group, cuboid)


def test_a_product_managers_products_read_one_part_each():
    """A product manager's scope is their products: a breakdown by city reads one part per product."""
    products = frozenset({"a", "b", "c"})
    cuboid = c.choose_cuboid({"product_code", "city"}, {"product_code": products})
    assert c.SPLIT[cuboid] == "product_code" and c.reads(cuboid, {"product_code": 3})[0] == 3


def test_the_cells_a_part_can_hold_are_bounded_by_the_vocabulary():
    """However many tickets, a part holds at most the product of its other dimensions' values; only the
    all-dimensions cuboid's parts hold more than a few hundred."""
    for name in c.CUBOIDS:
        docs, cells = c.reads(name, {d: 1 for d in c.DIMENSIONS})
        assert docs == 1 and cells <= (40_000 if name.startswith("ALL") else 1_232), name


def test_every_cuboid_is_written_and_shares_documents_by_its_split():
    cell = ("20260302", ("mobile_office", "济南", "complaint", "call_center", "-", "-"))
    buckets = c.roll_up({cell: {"opened": 1}})
    assert sum(len(cuboids) for cuboids in buckets.values()) == len(c.CUBOIDS) * len(c.GRAINS)
    families = {c.FAMILY[name] for name in c.CUBOIDS}
    assert len(buckets) == len(families) * len(c.GRAINS)  # one document per family, period and part
    assert buckets[c.bucket_id("PC", "m", "202603", "mobile_office")] == {
        "PC": {"mobile_office|济南|complaint": {"opened": 1}},
        "P_CH": {"mobile_office|complaint|call_center": {"opened": 1}},
        "P_I": {"mobile_office|complaint|-": {"opened": 1}},
        "P_CA": {"mobile_office|complaint|-": {"opened": 1}}}
    assert buckets[c.bucket_id("P_CH_I", "m", "202603", "mobile_office")] == {
        "P_CH_I": {"mobile_office|complaint|call_center|-": {"opened": 1}},
        "P_CH_CA": {"mobile_office|complaint|call_center|-": {"opened": 1}},
        "P_I_CA": {"mobile_office|complaint|-|-": {"opened": 1}}}
