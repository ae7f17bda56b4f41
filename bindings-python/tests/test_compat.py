"""The legacy surface: specification objects with ``to_dict()``, ``QueryOptions``-like objects,
and ``cqrs_mongo_spec.compat.MongoQueryBuilder`` (the one-import switch)."""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from typing import Any

import pytest

import cqrs_mongo_spec
from cqrs_mongo_spec import SpecError, SupportsToDict, compile, validate
from cqrs_mongo_spec.compat import MongoQueryBuilder

ACTIVE = {"op": "=", "attr": "status", "val": "active"}
BIG = {"op": ">=", "attr": "total", "val": 100}
BOTH = {"op": "and", "conditions": [ACTIVE, BIG]}
BOTH_FILTER = {"$and": [{"status": {"$eq": "active"}}, {"total": {"$gte": 100}}]}


class LegacySpec:
    """Stand-in for a legacy specification object: only ``to_dict()`` matters."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.calls = 0

    def to_dict(self) -> Mapping[str, Any]:
        self.calls += 1
        return self.data


class LegacyAnd:
    """A composite legacy specification that builds its dict from its children."""

    def __init__(self, *children: LegacySpec) -> None:
        self.children = children

    def to_dict(self) -> dict[str, Any]:
        return {"op": "and", "conditions": [dict(child.to_dict()) for child in self.children]}


class QueryOptionsLike:
    """Stand-in for the legacy ``QueryOptions``: plain attributes, unset ones None/empty."""

    def __init__(
        self,
        specification: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        order_by: Any = None,
        select_fields: Any = None,
        distinct: bool = False,
        group_by: Any = None,
    ) -> None:
        self.specification = specification
        self.limit = limit
        self.offset = offset
        self.order_by = [] if order_by is None else order_by
        self.select_fields = [] if select_fields is None else select_fields
        self.distinct = distinct
        self.group_by = [] if group_by is None else group_by


def _spec_error(call: Any) -> tuple[str, list[str | int]]:
    with pytest.raises(SpecError) as info:
        call()
    return info.value.code, info.value.path


# --- specification objects ---------------------------------------------------------------


def test_spec_object_with_to_dict_is_compiled() -> None:
    legacy = LegacySpec(BOTH)
    assert isinstance(legacy, SupportsToDict)
    query = compile(legacy)
    assert query.filter == BOTH_FILTER
    assert query.to_dict() == compile(BOTH).to_dict()
    assert legacy.calls == 1


def test_composite_spec_object() -> None:
    query = compile(LegacyAnd(LegacySpec(ACTIVE), LegacySpec(BIG)))
    assert query.filter == BOTH_FILTER
    assert list(query.filter["$and"][0]) == ["status"]


def test_spec_object_to_dict_may_return_any_mapping() -> None:
    assert compile(LegacySpec(types.MappingProxyType(BOTH))).filter == BOTH_FILTER


def test_non_dict_mapping_spec_and_options() -> None:
    query = compile(types.MappingProxyType(ACTIVE), types.MappingProxyType({"limit": 3}))
    assert query.filter == {"status": {"$eq": "active"}}
    assert query.limit == 3


def test_spec_object_errors_keep_code_and_path() -> None:
    bad = LegacySpec({"op": "and", "conditions": [ACTIVE, {"op": "betwen", "attr": "total", "val": [1, 2]}]})
    assert _spec_error(lambda: compile(bad)) == ("unknown_operator", ["conditions", 1, "op"])
    assert [(e["code"], e["path"]) for e in validate(bad)] == [("unknown_operator", ["conditions", 1, "op"])]


def test_validate_accepts_spec_objects_and_options_objects() -> None:
    assert validate(LegacySpec(ACTIVE), QueryOptionsLike(limit=5, order_by=["-total"])) == []
    errors = validate(LegacySpec(ACTIVE), QueryOptionsLike(limit=0))
    assert [(e["code"], e["path"]) for e in errors] == [("invalid_option", ["options", "limit"])]


# --- QueryOptions-like objects -----------------------------------------------------------


def test_query_options_object_find_plan() -> None:
    options = QueryOptionsLike(limit=10, offset=20, order_by=["-created_at", "name"], select_fields=["name", "total"])
    query = compile(ACTIVE, options)
    assert query.filter == {"status": {"$eq": "active"}}
    assert query.sort == {"created_at": -1, "name": 1}
    assert list(query.sort) == ["created_at", "name"]
    assert (query.skip, query.limit) == (20, 10)
    assert query.projection == {"name": 1, "total": 1}
    assert query.pipeline == [
        {"$match": {"status": {"$eq": "active"}}},
        {"$sort": {"created_at": -1, "name": 1}},
        {"$skip": 20},
        {"$limit": 10},
        {"$project": {"name": 1, "total": 1}},
    ]
    assert query.to_dict() == compile(
        ACTIVE,
        {"limit": 10, "offset": 20, "order_by": ["-created_at", "name"], "select_fields": ["name", "total"]},
    ).to_dict()


def test_query_options_object_carries_the_specification() -> None:
    for spec in (BOTH, LegacySpec(BOTH), json.dumps(BOTH)):
        query = compile(options=QueryOptionsLike(specification=spec, limit=2))
        assert query.filter == BOTH_FILTER
        assert query.limit == 2


def test_explicit_spec_wins_over_options_specification() -> None:
    query = compile(ACTIVE, QueryOptionsLike(specification=BIG))
    assert query.filter == {"status": {"$eq": "active"}}


def test_query_options_object_without_specification() -> None:
    assert _spec_error(lambda: compile(options=QueryOptionsLike())) == ("invalid_node", [])
    assert _spec_error(lambda: compile()) == ("invalid_node", [])


def test_query_options_object_unset_fields_are_dropped() -> None:
    # None, [] and () mean "not set" (group_by=[] would be an invalid_option error).
    for options in (
        QueryOptionsLike(),
        QueryOptionsLike(order_by=(), select_fields=(), group_by=()),
        QueryOptionsLike(offset=0, distinct=False),
    ):
        query = compile(ACTIVE, options)
        assert query.to_dict() == {
            "filter": {"status": {"$eq": "active"}},
            "pipeline": [{"$match": {"status": {"$eq": "active"}}}],
        }


def test_query_options_object_with_only_some_attributes() -> None:
    class Paging:
        limit = 5
        offset = 10

    query = compile(ACTIVE, Paging())
    assert (query.skip, query.limit, query.sort, query.projection) == (10, 5, None, None)


def test_query_options_object_distinct_and_group_by() -> None:
    distinct = compile(ACTIVE, QueryOptionsLike(select_fields=["region", "customer.tier"], distinct=True))
    assert distinct.to_dict() == {
        "filter": {"status": {"$eq": "active"}},
        "pipeline": [
            {"$match": {"status": {"$eq": "active"}}},
            {"$group": {"_id": {"f0": "$region", "f1": "$customer.tier"}}},
            {"$project": {"_id": 0, "region": "$_id.f0", "customer.tier": "$_id.f1"}},
        ],
    }
    grouped = compile(ACTIVE, QueryOptionsLike(group_by=["region"], order_by=["-count"], limit=3))
    assert grouped.sort is None and grouped.limit is None  # find cannot express a group
    assert grouped.pipeline == [
        {"$match": {"status": {"$eq": "active"}}},
        {"$group": {"_id": {"f0": "$region"}, "count": {"$sum": 1}}},
        {"$project": {"_id": 0, "region": "$_id.f0", "count": 1}},
        {"$sort": {"count": -1}},
        {"$limit": 3},
    ]


def test_query_options_object_errors_point_into_options() -> None:
    assert _spec_error(lambda: compile(ACTIVE, QueryOptionsLike(limit=0))) == ("invalid_option", ["options", "limit"])
    assert _spec_error(lambda: compile(ACTIVE, QueryOptionsLike(order_by=["name", "-name"]))) == (
        "invalid_option",
        ["options", "order_by", 1],
    )
    assert _spec_error(lambda: compile(ACTIVE, QueryOptionsLike(distinct=True))) == (
        "invalid_option",
        ["options", "distinct"],
    )


def test_options_as_json_text() -> None:
    query = compile(json.dumps(ACTIVE), json.dumps({"order_by": [["created_at", "DESC"]], "limit": 1}))
    assert (query.sort, query.limit) == ({"created_at": -1}, 1)


# --- MongoQueryBuilder --------------------------------------------------------------------


def test_compat_module_exports_the_builder() -> None:
    import cqrs_mongo_spec.compat as compat

    assert compat.__all__ == ["MongoQueryBuilder"]
    assert set(cqrs_mongo_spec.__all__) >= {"compile", "compile_json", "validate", "operators", "SpecError"}


def test_build_match_forms() -> None:
    builder = MongoQueryBuilder()
    for spec in (BOTH, json.dumps(BOTH), LegacySpec(BOTH), LegacyAnd(LegacySpec(ACTIVE), LegacySpec(BIG))):
        assert builder.build_match(spec) == BOTH_FILTER
    assert builder.build_match(ACTIVE) == compile(ACTIVE).filter


def test_build_match_refuses_raw_filters() -> None:
    builder = MongoQueryBuilder()
    for raw in ({"status": "active"}, {"$where": "this.total > 100"}, {}):
        assert _spec_error(lambda raw=raw: builder.build_match(raw)) == ("missing_field", ["op"])
    # A raw filter inside a spec is no better: the $-key in a value is refused.
    assert _spec_error(lambda: builder.build_match({"op": "=", "attr": "a", "val": {"$where": "1"}})) == (
        "invalid_value",
        ["val", "$where"],
    )


def test_build_match_allow_raw_filter() -> None:
    builder = MongoQueryBuilder()
    raw = {"$where": "this.total > 100", "status": "active"}
    out = builder.build_match(raw, allow_raw_filter=True)
    assert out == raw and list(out) == list(raw)
    assert out is not raw  # a copy, as the legacy builder's callers may mutate it
    assert builder.build_match(types.MappingProxyType({"a": 1}), allow_raw_filter=True) == {"a": 1}
    # Specs (with "op") are still compiled and still checked.
    assert builder.build_match(BOTH, allow_raw_filter=True) == BOTH_FILTER
    assert _spec_error(lambda: builder.build_match({"op": "=", "attr": "a"}, allow_raw_filter=True)) == (
        "missing_field",
        ["val"],
    )
    # JSON text is never a raw filter.
    assert _spec_error(lambda: builder.build_match('{"status": "active"}', allow_raw_filter=True)) == (
        "missing_field",
        ["op"],
    )


def test_build_sort_both_forms() -> None:
    builder = MongoQueryBuilder()
    expected = [("created_at", -1), ("name", 1)]
    assert builder.build_sort(["-created_at", "name"]) == expected
    assert builder.build_sort(["-created_at", "+name"]) == expected
    assert builder.build_sort([["created_at", "desc"], ["name", "asc"]]) == expected
    assert builder.build_sort([("created_at", "DESC"), ("name", "Asc")]) == expected
    assert builder.build_sort(("-created_at", ["name", "asc"])) == expected
    sort = builder.build_sort(["-created_at"])
    assert type(sort) is list and type(sort[0]) is tuple and type(sort[0][1]) is int
    assert builder.build_sort(None) == [] and builder.build_sort([]) == []


def test_build_sort_errors() -> None:
    builder = MongoQueryBuilder()
    assert _spec_error(lambda: builder.build_sort(["$where"])) == ("invalid_field_path", ["options", "order_by", 0])
    assert _spec_error(lambda: builder.build_sort(["a", "-a"])) == ("invalid_option", ["options", "order_by", 1])
    assert _spec_error(lambda: builder.build_sort([["a", "sideways"]])) == ("invalid_option", ["options", "order_by", 0])


def test_build_project() -> None:
    builder = MongoQueryBuilder()
    projection = builder.build_project(["name", "total", "customer.tier"])
    assert projection == {"name": 1, "total": 1, "customer.tier": 1}
    assert list(projection) == ["name", "total", "customer.tier"]
    assert all(type(flag) is int for flag in projection.values())
    assert builder.build_project(None) == {} and builder.build_project([]) == {}
    assert _spec_error(lambda: builder.build_project(["a", "a.b"])) == (
        "invalid_option",
        ["options", "select_fields", 1],
    )
    assert _spec_error(lambda: builder.build_project([""])) == ("invalid_field_path", ["options", "select_fields", 0])
