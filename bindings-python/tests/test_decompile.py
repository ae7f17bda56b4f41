"""``decompile`` through the pip package (mirrors bindings-wasm/test/decompile.test.mjs).

- ``test_round_trip[family/case]``: every compiling golden case, ``compile(decompile(compile(s)))
  == compile(s)``, compared as the golden runner compares results (canonical Extended JSON
  decoded to typed values, key order significant; the Python values with exact types): once
  through JSON text (``decompile_json``) and once through the filter dict ``compile`` returns,
  with its ``datetime``, ``bson.Int64``, ``ObjectId``, ... values.
- the refusals of spec-compiler/tests/decompile.rs, with the same code and path;
- hostile input: non-``str`` keys, cycles, huge ints, bytes, values that raise while read; only
  ``DecompileError`` ever comes out.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from typing import Any

import bson
import pytest

from cqrs_mongo_spec import (
    DecompileError,
    SpecError,
    compile,
    compile_json,
    decompile,
    decompile_json,
)
from golden_support import Case, assert_same, load_cases, parse_ordered, typed

CASES = [case for case in load_cases() if "expected" in case.data]
CODES = {"invalid_json", "invalid_extended_json", "invalid_filter", "unsupported_filter", "too_deep"}


def _without_schema(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in settings.items() if key != "schema"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_round_trip(case: Case) -> None:
    settings = case.settings
    # With a schema the decompiled spec names stored paths with cast values: it is compiled
    # without the schema and the filters compared (as spec-compiler/tests/decompile_golden.rs).
    schema = "schema" in settings

    # Text: the canonical filter in, the spec's JSON text out, compiled again.
    original = json.loads(compile_json(case.spec_text, case.options_text, **settings))
    spec_json = decompile_json(json.dumps(original["filter"]))
    if schema:
        again = parse_ordered(compile_json(spec_json, None, **_without_schema(settings)))
        assert typed(dict(again)["filter"]) == typed(parse_ordered(json.dumps(original["filter"]))), spec_json
    else:
        again = parse_ordered(compile_json(spec_json, case.options_text, **settings))
        assert typed(again) == typed(parse_ordered(json.dumps(original))), spec_json

    # Objects: the filter dict compile returns (pymongo's values) in, a spec dict out.
    query = compile(case.data["spec"], case.data.get("options"), **settings)
    spec = decompile(query.filter)
    assert isinstance(spec, dict)
    if schema:
        assert_same(compile(spec, **_without_schema(settings)).filter, query.filter)
    else:
        assert_same(compile(spec, case.data.get("options"), **settings).to_dict(), query.to_dict())


def _regex(pattern: str, options: str) -> dict[str, Any]:
    return {"$regularExpression": {"pattern": pattern, "options": options}}


# The refusals of spec-compiler/tests/decompile.rs (`refusals_name_their_code_and_place`) that
# Extended JSON can write, with the same code and path.
REFUSALS: list[tuple[dict[str, Any], str, list[str | int]]] = [
    ({"$where": "this.a > 1"}, "unsupported_filter", ["$where"]),
    ({"a": 1, "$or": [{"b": 1}, {"$expr": {"$add": [1, 2]}}]}, "unsupported_filter", ["$or", 1, "$expr", "$add"]),
    ({"$expr": {"$gt": ["$a", 5]}}, "unsupported_filter", ["$expr", "$gt", 1]),
    ({"$expr": {"$gt": ["$$NOW", "$a"]}}, "unsupported_filter", ["$expr", "$gt", 0]),
    ({"$expr": True}, "unsupported_filter", ["$expr"]),
    ({"scores": {"$elemMatch": {"$gte": 80}}}, "unsupported_filter", ["scores", "$elemMatch"]),
    ({"items": {"$elemMatch": {"$text": {"$search": "x"}}}}, "invalid_filter", ["items", "$elemMatch", "$text"]),
    ({"items": {"$elemMatch": 1}}, "invalid_filter", ["items", "$elemMatch"]),
    ({"$jsonSchema": {}}, "unsupported_filter", ["$jsonSchema"]),
    ({"$foo": 1}, "invalid_filter", ["$foo"]),
    ({"$gt": 1}, "invalid_filter", ["$gt"]),
    ({}, "unsupported_filter", []),
    ({"$and": [{}]}, "unsupported_filter", ["$and", 0]),
    ({"$and": []}, "invalid_filter", ["$and"]),
    ({"$or": {"a": 1}}, "invalid_filter", ["$or"]),
    ({"$or": [1]}, "invalid_filter", ["$or", 0]),
    ({"a": {"$in": 5}}, "invalid_filter", ["a", "$in"]),
    ({"a": {"$options": "i"}}, "invalid_filter", ["a", "$options"]),
    ({"a": {"$regex": "x", "$options": "q"}}, "invalid_filter", ["a", "$options"]),
    ({"a": {"$regex": 5}}, "invalid_filter", ["a", "$regex"]),
    ({"a": {"$gt": 1, "b": 2}}, "invalid_filter", ["a", "b"]),
    ({"a": {"$bogus": 1}}, "invalid_filter", ["a", "$bogus"]),
    ({"a": {"$gt": None}}, "unsupported_filter", ["a", "$gt"]),
    ({"a": {"$lt": [1]}}, "unsupported_filter", ["a", "$lt"]),
    ({"a": {"$size": 2}}, "unsupported_filter", ["a", "$size"]),
    ({"a": {"$type": "string"}}, "unsupported_filter", ["a", "$type"]),
    ({"a": {"$mod": [2, 0]}}, "unsupported_filter", ["a", "$mod"]),
    ({"a": {"$near": {"$geometry": {"type": "Point", "coordinates": [0, 0]}}}}, "unsupported_filter", ["a", "$near"]),
    ({"a": {"$geoWithin": {"$box": [[0, 0], [1, 1]]}}}, "unsupported_filter", ["a", "$geoWithin", "$box"]),
    ({"a": {"$eq": _regex("x", "")}}, "unsupported_filter", ["a", "$eq"]),
    ({"a": {"$in": [_regex("x", "")]}}, "unsupported_filter", ["a", "$in", 0]),
    ({"a": {"$eq": {"b": {"$c": 1}}}}, "unsupported_filter", ["a", "$eq", "b", "$c"]),
    ({"a..b": 1}, "unsupported_filter", ["a..b"]),
    ({"$text": {"$search": "x", "$language": "fr"}}, "unsupported_filter", ["$text", "$language"]),
    ({"a": {"$not": 5}}, "invalid_filter", ["a", "$not"]),
    # extended_json_text_in_either_flavour
    ({"a": {"$oid": "nope"}}, "invalid_extended_json", ["a"]),
    ({"a": {"$gt": {"$date": "yesterday"}}}, "invalid_extended_json", ["a", "$gt"]),
    ({"a": {"$regularExpression": {"pattern": 1}}}, "invalid_extended_json", ["a"]),
]


def _refusal(call: Any) -> tuple[str, list[str | int]]:
    with pytest.raises(DecompileError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError) and not isinstance(err, SpecError)
    assert err.code in CODES
    assert all(type(segment) in (str, int) for segment in err.path)
    return err.code, err.path


@pytest.mark.parametrize(("filter_", "code", "path"), REFUSALS, ids=[json.dumps(f) for f, _, _ in REFUSALS])
def test_refusals_match_rust(filter_: dict[str, Any], code: str, path: list[str | int]) -> None:
    assert _refusal(lambda: decompile(filter_)) == (code, path)
    assert _refusal(lambda: decompile_json(json.dumps(filter_))) == (code, path)
    assert _refusal(lambda: decompile(json.dumps(filter_))) == (code, path)


def test_message_names_the_place_in_the_filter() -> None:
    with pytest.raises(DecompileError, match=r"^at <filter>\.\$or\[1\]\.\$where: \$where has no specification form$"):
        decompile({"$or": [{"a": 1}, {"$where": "x"}]})
    with pytest.raises(DecompileError, match=r'^at <filter>\["items\.sku"\]\.\$gt: '):
        decompile({"items.sku": {"$gt": object()}})


def test_text_errors() -> None:
    assert _refusal(lambda: decompile_json('{"a": ')) == ("invalid_json", [])
    assert _refusal(lambda: decompile_json({"a": 1})) == ("invalid_json", [])  # type: ignore[arg-type]
    assert _refusal(lambda: decompile_json("[1]")) == ("invalid_filter", [])
    assert _refusal(lambda: decompile_json('{"a": {"$in": [18446744073709551616]}}')) == (
        "invalid_filter",
        ["a", "$in", 0],
    )
    # Past the parser's 127 levels the reader refuses a dict where the parser refuses its text;
    # below them, the decompiler stops at MongoDB's 100 levels.
    for levels, depth in ((55, 100), (300, 127)):
        nested: dict[str, Any] = {"a": 1}
        for _ in range(levels):
            nested = {"$and": [nested]}
        for call in (lambda: decompile(nested), lambda: decompile_json(json.dumps(nested))):
            code, path = _refusal(call)
            assert (code, len(path)) == ("too_deep", depth)


def test_hand_written_filters_relaxed_and_canonical() -> None:
    assert decompile({"status": "paid", "qty": {"$gt": 1, "$lt": 5}}) == {
        "op": "and",
        "conditions": [
            {"op": "=", "attr": "status", "val": "paid"},
            {"op": ">", "attr": "qty", "val": 1},
            {"op": "<", "attr": "qty", "val": 5},
        ],
    }
    expected = {
        "op": "and",
        "conditions": [
            {"op": ">=", "attr": "at", "val": {"$date": "2024-05-01T10:00:00Z"}},
            {"op": "in", "attr": "n", "val": [1, 3000000000, 1.5]},
        ],
    }
    relaxed = {"at": {"$gte": {"$date": "2024-05-01T10:00:00Z"}}, "n": {"$in": [1, 3000000000, 1.5]}}
    canonical = {
        "at": {"$gte": {"$date": {"$numberLong": "1714557600000"}}},
        "n": {"$in": [{"$numberInt": "1"}, {"$numberLong": "3000000000"}, {"$numberDouble": "1.5"}]},
    }
    for filter_ in (relaxed, canonical):
        assert decompile(filter_) == expected
        assert json.loads(decompile_json(json.dumps(filter_))) == expected
    assert decompile({"name": _regex("^ab", "i")}) == {"op": "istartswith", "attr": "name", "val": "ab"}


def test_python_values_as_compile_reads_them() -> None:
    utc = datetime.timezone.utc
    spec = decompile(
        {
            "at": {"$lt": datetime.datetime(2024, 3, 1, 10, tzinfo=utc)},
            "n": bson.Int64(5),
            "d": 1.0,
            "o": bson.ObjectId("65e1a2b3c4d5e6f708091a2b"),
            "b": b"xyz",
            "big": 2**62,
        }
    )
    assert [condition["val"] for condition in spec["conditions"]] == [
        {"$date": "2024-03-01T10:00:00Z"},
        {"$numberLong": "5"},
        1.0,
        {"$oid": "65e1a2b3c4d5e6f708091a2b"},
        {"$binary": {"base64": "eHl6", "subType": "00"}},
        2**62,
    ]
    assert type(spec["conditions"][2]["val"]) is float, "a Double stays a float"
    # NaN and infinities, which compile returns as floats, read back as the wrappers.
    assert decompile({"a": float("nan"), "b": {"$gt": float("-inf")}}) == {
        "op": "and",
        "conditions": [
            {"op": "=", "attr": "a", "val": {"$numberDouble": "NaN"}},
            {"op": ">", "attr": "b", "val": {"$numberDouble": "-Infinity"}},
        ],
    }
    # A Mapping that is not a dict is read as a dict, like a spec.
    assert decompile(_Frozen({"a": 1})) == {"op": "=", "attr": "a", "val": 1}


class _Frozen(Mapping[str, Any]):
    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class _Boom(Exception):
    pass


class _RaisingStr:
    def __str__(self) -> str:
        raise _Boom("__str__")


class _RaisingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise _Boom("getitem")

    def __iter__(self) -> Iterator[str]:
        return iter(["a"])

    def __len__(self) -> int:
        return 1



def _cyclic_dict() -> dict[str, Any]:
    node: dict[str, Any] = {"a": 1}
    node["self"] = node
    return node


def _cyclic_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


ODD: dict[str, Any] = {
    "int key": lambda: {1: 2},
    "tuple key": lambda: {(1, 2): 3},
    "int beyond Int64": lambda: 2**64,
    "negative int beyond Int64": lambda: -(2**63) - 1,
    "huge int": lambda: 10**400,
    "NaN": lambda: float("nan"),
    "infinity": lambda: float("inf"),
    "bytes": lambda: b"\x00\xff",
    "bytearray": lambda: bytearray(b"x"),
    "lone surrogate": lambda: "\ud800",
    "lone surrogate key": lambda: {"\udc00": 1},
    "cyclic dict": _cyclic_dict,
    "cyclic list": _cyclic_list,
    "set": lambda: {1, 2},
    "object": lambda: object(),
    "raising __str__ (as a Decimal would be read)": lambda: _RaisingStr(),
    "raising Mapping": lambda: _RaisingMapping(),
    "Decimal": lambda: __import__("decimal").Decimal("1.5"),
    "date": lambda: datetime.date(2024, 1, 1),
    "tuple": lambda: (1, "a"),
    "nested 100 000 deep": lambda: _deep(100_000),
    "a $ key": lambda: {"$where": "sleep(1000)"},
    "None": lambda: None,
}


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"x": value}
    return value


PLACES: dict[str, Any] = {
    "filter": lambda odd: odd,
    "field value": lambda odd: {"a": odd},
    "$eq value": lambda odd: {"a": {"$eq": odd}},
    "$in item": lambda odd: {"a": {"$in": [1, odd]}},
    "$and item": lambda odd: {"$and": [{"a": 1}, odd]},
}


@pytest.mark.parametrize("odd", list(ODD), ids=list(ODD))
def test_hostile_input_raises_only_decompile_errors(odd: str) -> None:
    for place, put in PLACES.items():
        for call in (decompile, decompile_json):
            try:
                result = call(put(ODD[odd]()))
            except DecompileError as err:
                assert err.code in CODES, (odd, place, err.code)
                assert all(type(segment) in (str, int) for segment in err.path), (odd, place)
            else:
                assert isinstance(result, (dict, str)), (odd, place)


def test_hostile_input_codes_and_paths() -> None:
    assert _refusal(lambda: decompile({"a": {1: 2}})) == ("invalid_filter", ["a"])
    assert _refusal(lambda: decompile({"a": {"$in": [2**64]}})) == ("invalid_filter", ["a", "$in", 0])
    assert _refusal(lambda: decompile({"a": "\ud800"})) == ("invalid_filter", ["a"])
    assert _refusal(lambda: decompile_json('{"a": {"$in": ["x", "\ud800"]}}')) == ("invalid_filter", ["a", "$in", 1])
    assert _refusal(lambda: decompile(_cyclic_dict()))[0] == "too_deep"
    with pytest.raises(DecompileError) as info:
        decompile({"a": {"$eq": _RaisingStr()}})
    assert (info.value.code, info.value.path) == ("invalid_filter", ["a", "$eq"])
    with pytest.raises(DecompileError) as info:
        decompile(_RaisingMapping())
    assert (info.value.code, info.value.path) == ("invalid_filter", [])
    assert isinstance(info.value.__cause__, _Boom)
    # A surrogate pair written as two code points is the character it forms, as in JSON text.
    assert decompile({"a": "\ud83d\ude00"}) == {"op": "=", "attr": "a", "val": "\U0001f600"}
