"""Unit tests of kit/store.py's filter helpers: flat where the clauses allow, the same meaning always."""

from services.kit.store import eq, flat_and, membership


def test_clauses_on_different_fields_merge_flat():
    assert flat_and({"city": eq("济南")}, None, {}, {"kind": eq("fault")}) == {"city": {"$eq": "济南"},
                                                                            "kind": {"$eq": "fault"}}


def test_nested_and_is_opened_up_and_equal_clauses_collapse():
    assert flat_and({"$and": [{"a": 1}, {"$and": [{"b": 2}]}]}, {"a": 1}) == {"a": 1, "b": 2}


def test_ranges_on_one_field_merge_when_their_operators_differ():
    assert flat_and({"k": {"$lt": "b"}}, {"k": {"$gte": "a"}}) == {"k": {"$lt": "b", "$gte": "a"}}
    assert flat_and({"p": {"$in": ["x", "y"]}}, {"p": eq("x")}) == {"p": {"$in": ["x", "y"], "$eq": "x"}}


def test_what_collides_stays_in_an_and():
    merged = flat_and({"k": {"$lt": "b"}}, {"k": {"$lt": "c"}}, {"c": 1}, {"c": 2}, {"$or": [{"x": 1}]},
                      {"$or": [{"y": 1}]})
    assert merged == {"k": {"$lt": "b"}, "c": 1, "$or": [{"x": 1}],
                      "$and": [{"k": {"$lt": "c"}}, {"c": 2}, {"$or": [{"y": 1}]}]}


def test_membership_rewrites_equalities_for_a_query_beside_text():
    assert membership({"city": eq("济南"), "k": {"$lt": "b"}, "$text": {"$search": '"x"'}}) == {
        "city": {"$in": ["济南"]}, "k": {"$lt": "b"}, "$text": {"$search": '"x"'}}
    assert membership({"p": {"$in": ["a", "b"], "$eq": "a"}}) == {"p": {"$in": ["a"]}}
    assert membership({"p": {"$in": ["a", "b"], "$eq": "c"}}) == {"p": {"$in": []}}
