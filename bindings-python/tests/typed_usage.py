"""Typed use of the public API and the compat builder.

``test_install.py`` checks this file with ``mypy --strict`` (against the editable install and
against the installed wheel) and runs it in a fresh venv without pymongo. It must stay valid
with and without pymongo, so it only looks at values whose type does not depend on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import cqrs_mongo_spec
from cqrs_mongo_spec import (
    CompiledQuery,
    Compiler,
    DecompileError,
    DecompileErrorCode,
    EvalErrorCode,
    MatchError,
    Matcher,
    Settings,
    SpecError,
    SupportsToDict,
    compile,
    compile_json,
    decompile,
    decompile_json,
    matcher,
    matches,
    operators,
    validate,
)
from cqrs_mongo_spec import filter as filter_documents
from cqrs_mongo_spec.compat import MongoQueryBuilder


class StatusIs:
    """A legacy-style specification object."""

    def __init__(self, status: str) -> None:
        self.status = status

    def to_dict(self) -> Mapping[str, Any]:
        return {"op": "=", "attr": "status", "val": self.status}


class Paging:
    """A legacy ``QueryOptions``-like object."""

    def __init__(self, specification: SupportsToDict, limit: int | None = None) -> None:
        self.specification = specification
        self.limit = limit
        self.order_by: list[str] = ["-total"]


def find_arguments(query: CompiledQuery) -> dict[str, Any]:
    """Keyword arguments for ``Collection.find``."""
    kwargs: dict[str, Any] = {"filter": query.filter}
    sort: dict[str, int] | None = query.sort
    if sort is not None:
        kwargs["sort"] = list(sort.items())
    skip: int | None = query.skip
    if skip is not None:
        kwargs["skip"] = skip
    limit: int | None = query.limit
    if limit is not None:
        kwargs["limit"] = limit
    projection: dict[str, int] | None = query.projection
    if projection is not None:
        kwargs["projection"] = projection
    return kwargs


def errors_of(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = validate(spec, {"limit": 0}, allowed_fields=["status", "total"])
    return [(str(error["code"]), ".".join(str(segment) for segment in error["path"])) for error in found]


def describe(err: SpecError) -> str:
    code: str = err.code
    path: list[str | int] = err.path
    return f"{code} at {path}"


def editable(filter_: Mapping[str, Any]) -> dict[str, Any] | tuple[DecompileErrorCode | str, list[str | int]]:
    """A stored filter as a spec for an editor, or why it cannot be one."""
    try:
        spec: dict[str, Any] = decompile(filter_)
    except DecompileError as err:
        return err.code, err.path
    return spec


def paid(orders: list[dict[str, Any]]) -> list[dict[str, Any]] | EvalErrorCode | str:
    """The paid orders, evaluated in memory, or why the filter needs the server."""
    try:
        kept: list[Any] = filter_documents({"op": "=", "attr": "status", "val": "paid"}, orders)
    except MatchError as err:
        return err.code
    return kept


def big_orders(orders: list[dict[str, Any]]) -> list[Any]:
    """A filter prepared once for several lists."""
    prepared: Matcher = Compiler(allowed_fields=["total"]).matcher({"op": ">", "attr": "total", "val": 6})
    first: bool = prepared.matches(orders[0])
    return prepared.filter(orders) if not first else orders


def main() -> None:
    spec: dict[str, Any] = {
        "op": "and",
        "conditions": [
            {"op": "in", "attr": "region", "val": ["eu", "us"]},
            {"op": ">=", "attr": "total", "val": "100.00", "value_type": "decimal"},
        ],
    }
    query = compile(spec, {"order_by": ["-total"], "limit": 20, "offset": 40}, max_nodes=100, max_depth=8)
    kwargs = find_arguments(query)
    assert kwargs["sort"] == [("total", -1)] and kwargs["limit"] == 20 and kwargs["skip"] == 40
    stages: list[dict[str, Any]] = query.pipeline
    assert [next(iter(stage)) for stage in stages] == ["$match", "$sort", "$skip", "$limit"]
    as_dict: dict[str, Any] = query.to_dict()
    assert set(as_dict) == {"filter", "sort", "skip", "limit", "pipeline"}

    legacy = compile(options=Paging(StatusIs("active"), limit=5))
    assert legacy.filter == {"status": {"$eq": "active"}} and legacy.limit == 5

    text: str = compile_json(json.dumps(spec), '{"limit": 1}', allowed_fields=["region", "total"])
    assert json.loads(text)["limit"] == {"$numberInt": "1"}

    try:
        compile({"op": "=", "attr": "password", "val": "x"}, allowed_fields=["status"])
    except SpecError as err:
        assert describe(err) == "field_not_allowed at ['attr']"
    else:
        raise AssertionError("no SpecError")
    assert errors_of({"op": "=", "attr": "status"}) == [("missing_field", "val"), ("invalid_option", "options.limit")]

    settings: Settings = {"max_nodes": 100, "allowed_fields": ["region", "total", "status"]}
    orders = Compiler(**settings)
    prepared: CompiledQuery = orders.compile(spec, {"limit": 20})
    assert prepared.limit == 20 and prepared.filter == compile(spec, **settings).filter
    prepared_text: str = orders.compile_json(json.dumps(spec))
    assert json.loads(prepared_text)["filter"] == json.loads(compile_json(json.dumps(spec)))["filter"]
    assert orders.validate({"op": "=", "attr": "password", "val": 1})[0]["code"] == "field_not_allowed"
    with_schema = Compiler(schema={"fields": [{"name": "status", "type": "string", "values": ["placed", "paid"]}]})
    fields: list[dict[str, Any]] = with_schema.querybuilder_fields()
    assert [field["name"] for field in fields] == ["status"]

    names: list[str] = [str(op["name"]) for op in operators() if op["supported"]]
    assert "between" in names and names == [str(op["name"]) for op in cqrs_mongo_spec.operators() if op["supported"]]

    again = compile(spec)
    assert compile(decompile(again.filter)).filter == again.filter
    spec_text: str = decompile_json(json.dumps({"status": "paid"}))
    assert json.loads(spec_text) == {"op": "=", "attr": "status", "val": "paid"}
    assert editable({"$where": "1"}) == ("unsupported_filter", ["$where"])

    sales: list[dict[str, Any]] = [{"status": "paid", "total": 5}, {"status": "placed", "total": 7}]
    assert paid(sales) == [sales[0]]
    one: bool = matches({"op": ">", "attr": "total", "val": 6}, sales[1])
    assert one and Compiler(allowed_fields=["total"]).filter({"op": ">", "attr": "total", "val": 6}, sales) == [sales[1]]
    assert paid([{"status": "paid", "n": {"$numberLong": "1"}}]) != []
    assert big_orders(sales) == [sales[1]] and matcher({"op": "=", "attr": "status", "val": "paid"}).filter(sales) == [sales[0]]

    builder = MongoQueryBuilder()
    match: dict[str, Any] = builder.build_match(StatusIs("active"))
    raw: dict[str, Any] = builder.build_match({"status": "active"}, allow_raw_filter=True)
    sort: list[tuple[str, int]] = builder.build_sort(["-created_at", ["name", "asc"]])
    project: dict[str, int] = builder.build_project(["name", "total"])
    assert match == {"status": {"$eq": "active"}} and raw == {"status": "active"}
    assert sort == [("created_at", -1), ("name", 1)] and project == {"name": 1, "total": 1}


if __name__ == "__main__":
    main()
    print("typed usage ok")
