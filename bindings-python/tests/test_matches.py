"""``matches`` / ``filter`` through the pip package (mirrors bindings-wasm/test/matches.test.mjs).

- ``test_golden_matches[family/case]``: every golden case with ``matches`` keeps exactly those
  documents of tests/golden/dataset.json (the check of spec-compiler/tests/matches_golden.rs
  through ``Compiler.filter``), with the data set read twice: as Extended JSON dicts
  (``json.loads``) and as the values pymongo gives (``bson.json_util.loads``: ``datetime``,
  ``Int64``, ``ObjectId``, ``Decimal128``, ``Binary``, ``UUID``); text searches are refused with
  ``needs_server``.
- the objects given come back; errors with their classes, codes and paths; hostile documents.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from typing import Any

import bson
import bson.json_util
import pytest

from cqrs_mongo_spec import Compiler, MatchError, SpecError, filter, matches
from golden_support import GOLDEN, Case, load_cases

CASES = [case for case in load_cases() if "matches" in case.data]
DATASET_TEXT = (GOLDEN / "dataset.json").read_text(encoding="utf-8")
AS_JSON: list[dict[str, Any]] = json.loads(DATASET_TEXT)
AS_PYMONGO: list[dict[str, Any]] = bson.json_util.loads(
    DATASET_TEXT, json_options=bson.json_util.JSONOptions(uuid_representation=bson.binary.UuidRepresentation.STANDARD)
)


def _has_text(value: Any) -> bool:
    if isinstance(value, dict):
        return any(key == "$text" or _has_text(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_text(item) for item in value)
    return False


def _ids(documents: list[Any]) -> list[str]:
    return sorted(str(document["_id"]) for document in documents)


_COMPILERS: dict[str, Compiler] = {}


def _compiler(case: Case) -> Compiler:
    key = json.dumps(case.settings, sort_keys=True)
    if key not in _COMPILERS:
        _COMPILERS[key] = Compiler(**case.settings)
    return _COMPILERS[key]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_matches(case: Case) -> None:
    compiler = _compiler(case)
    spec = case.data["spec"]
    for dataset in (AS_JSON, AS_PYMONGO):
        if _has_text(case.data["expected"]["filter"]):
            with pytest.raises(MatchError) as info:
                compiler.filter(spec, dataset)
            assert info.value.code == "needs_server"
            continue
        kept = compiler.filter(spec, dataset)
        assert _ids(kept) == case.data["matches"]
        assert all(any(document is given for given in dataset) for document in kept), "the objects given"
        assert [document for document in dataset if compiler.matches(spec, document)] == kept


def test_there_are_golden_cases_with_matches() -> None:
    assert len(CASES) >= 150


def test_python_values_in_documents() -> None:
    utc = datetime.timezone.utc
    spec = {
        "op": "and",
        "conditions": [
            {"op": "<", "attr": "at", "val": {"$date": "2024-01-02T00:00:00Z"}},
            {"op": "=", "attr": "n", "val": 5},
        ],
    }
    assert matches(spec, {"at": datetime.datetime(2024, 1, 1, tzinfo=utc), "n": bson.Int64(5)})
    assert matches(spec, {"at": datetime.datetime(2024, 1, 1, 23, 59), "n": 5.0}), "a naive datetime is UTC"
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    assert matches(spec, {"at": datetime.datetime(2024, 1, 2, 1, 0, tzinfo=plus_two), "n": 5}), "00:00 UTC is not < itself"
    assert not matches(spec, {"at": datetime.datetime(2024, 1, 2, 3, 0, tzinfo=plus_two), "n": 5})
    assert matches(spec, {"at": datetime.date(2024, 1, 1), "n": 5}), "a date is its midnight UTC"
    assert matches(spec, {"at": {"$date": {"$numberLong": "0"}}, "n": {"$numberDouble": "5.0"}}), "canonical"
    assert not matches({"op": ">", "attr": "n", "val": 1}, {"n": "2"}), "a string is no number"
    assert matches({"op": "=", "attr": "n", "val": 2**62}, {"n": 2**62})
    assert matches({"op": "=", "attr": "x", "val": {"$numberDouble": "NaN"}}, {"x": float("nan")})
    oid = bson.ObjectId("65e1a2b3c4d5e6f708091a2b")
    assert matches({"op": "=", "attr": "o", "val": {"$oid": str(oid)}}, {"o": oid})


def test_filter_gives_back_the_objects_given() -> None:
    documents = [{"qty": 1}, {"qty": 3.5}, {"qty": "9"}, {"qty": 4}]
    kept = filter({"op": ">", "attr": "qty", "val": 2}, documents)
    assert kept == [documents[1], documents[3]] and kept[0] is documents[1]
    assert filter({"op": ">", "attr": "qty", "val": 2}, tuple(documents)) == kept
    compiler = Compiler(allowed_fields=["qty"])
    assert compiler.filter({"op": ">", "attr": "qty", "val": 2}, documents) == kept
    assert compiler.filter({"op": ">", "attr": "qty", "val": 2}, []) == []
    with pytest.raises(SpecError) as info:
        compiler.matches({"op": "=", "attr": "secret", "val": 1}, {})
    assert (info.value.code, info.value.path) == ("field_not_allowed", ["attr"])


def _spec_error(call: Any) -> tuple[str, list[str | int]]:
    with pytest.raises(SpecError) as info:
        call()
    assert not isinstance(info.value, MatchError)
    return info.value.code, info.value.path


def _match_error(call: Any) -> tuple[str, list[str | int]]:
    with pytest.raises(MatchError) as info:
        call()
    assert isinstance(info.value, ValueError) and not isinstance(info.value, SpecError)
    return info.value.code, info.value.path


LEAF = {"op": "=", "attr": "a", "val": 1}


def test_errors_of_the_spec_the_documents_and_the_server_only() -> None:
    assert _spec_error(lambda: matches({"op": "betwen", "attr": "a", "val": [1, 2]}, {})) == ("unknown_operator", ["op"])
    assert _match_error(lambda: matches({"op": "fts", "attr": "body", "val": "coffee"}, {})) == ("needs_server", ["$text"])
    text_in_or = {"op": "or", "conditions": [LEAF, {"op": "fts", "attr": "body", "val": "x"}]}
    assert _match_error(lambda: filter(text_in_or, [{"a": 1}])) == ("needs_server", ["$or", 1, "$text"])
    assert _spec_error(lambda: matches(LEAF, {"a": {"$date": "yesterday"}})) == ("invalid_extended_json", ["document", "a"])
    assert _spec_error(lambda: matches(LEAF, None)) == ("invalid_value", ["document"])  # type: ignore[arg-type]
    assert _spec_error(lambda: filter(LEAF, {"a": 1})) == ("invalid_value", ["documents"])  # type: ignore[arg-type]
    assert _spec_error(lambda: filter(LEAF, [{"a": 1}, 5])) == ("invalid_value", ["documents", 1])  # type: ignore[list-item]
    assert _spec_error(lambda: filter(LEAF, [{"a": 1}, {"b": {"c": object()}}])) == (
        "invalid_value",
        ["documents", 1, "b", "c"],
    )
    assert _spec_error(lambda: filter(LEAF, [{"b": 2**64}])) == ("invalid_value", ["documents", 0, "b"])
    assert _spec_error(lambda: matches(LEAF, {1: 2})) == ("invalid_value", ["document"])


class _Boom(Exception):
    pass


class _RaisingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise _Boom("getitem")

    def __iter__(self) -> Iterator[str]:
        return iter(["a"])

    def __len__(self) -> int:
        return 1


class _BadZone(datetime.tzinfo):
    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta | None:
        raise _Boom("utcoffset")


def test_hostile_documents_raise_only_spec_errors_at_their_path() -> None:
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    code, path = _spec_error(lambda: matches(LEAF, cyclic))
    assert code == "too_deep" and path[0] == "document"
    code, path = _spec_error(lambda: filter(LEAF, [cyclic]))
    assert code == "too_deep" and path[:2] == ["documents", 0]
    assert _spec_error(lambda: matches(LEAF, {"a": "\ud800"})) == ("invalid_value", ["document", "a"])
    assert _spec_error(lambda: matches(LEAF, _RaisingMapping())) == ("invalid_value", ["document"])
    bad_zone = datetime.datetime(2024, 1, 1, tzinfo=_BadZone())
    assert _spec_error(lambda: matches(LEAF, {"a": bad_zone})) == ("invalid_value", ["document", "a"])
    assert _spec_error(lambda: matches(LEAF, {"a": {"$numberLong": "x"}})) == ("invalid_extended_json", ["document", "a"])
    assert matches(LEAF, bson.SON([("a", 1)])), "a dict subclass is a dict"
