"""``matches`` / ``filter`` through the pip package (mirrors bindings-wasm/test/matches.test.mjs).

- ``test_golden_matches[family/case]``: every golden case with ``matches`` keeps exactly those
  documents of tests/golden/dataset.json (the check of spec-compiler/tests/matches_golden.rs
  through ``Compiler.filter``), with the data set read twice: as Extended JSON dicts
  (``json.loads``) and as the values pymongo gives (``bson.json_util.loads``: ``datetime``,
  ``Int64``, ``ObjectId``, ``Decimal128``, ``Binary``, ``UUID``); text searches are refused with
  ``needs_server``.
- the same through the prepared matcher (``Compiler.matcher``): the golden cases, errors,
  hostile documents, its reuse across threads.
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

from cqrs_mongo_spec import Compiler, Matcher, MatchError, SpecError, filter, matcher, matches
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
            with pytest.raises(MatchError) as info:
                compiler.matcher(spec)
            assert info.value.code == "needs_server", "refused when prepared"
            continue
        kept = compiler.filter(spec, dataset)
        assert _ids(kept) == case.data["matches"]
        assert all(any(document is given for given in dataset) for document in kept), "the objects given"
        assert [document for document in dataset if compiler.matches(spec, document)] == kept
        prepared = compiler.matcher(spec)
        assert prepared.filter(dataset) == kept, "the prepared matcher keeps the same documents"
        assert [document for document in dataset if prepared.matches(document)] == kept


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
    assert _spec_error(lambda: filter(LEAF, [{"a": 1}, {"a": {"c": object()}}])) == (
        "invalid_value",
        ["documents", 1, "a", "c"],
    )
    assert _spec_error(lambda: filter(LEAF, [{"a": 2**64}])) == ("invalid_value", ["documents", 0, "a"])
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
    cyclic["a"] = cyclic
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


def test_a_prepared_matcher_reads_only_documents() -> None:
    compiler = Compiler(allowed_fields=["qty", "at"])
    spec = {
        "op": "and",
        "conditions": [
            {"op": ">", "attr": "qty", "val": 2},
            {"op": "<", "attr": "at", "val": {"$date": "2024-01-02T00:00:00Z"}},
        ],
    }
    utc = datetime.timezone.utc
    documents = [
        {"qty": 1, "at": datetime.datetime(1970, 1, 1, tzinfo=utc)},
        {"qty": 3.5, "at": datetime.datetime(1970, 1, 1)},
        {"qty": bson.Int64(5), "at": datetime.datetime(2025, 1, 1, tzinfo=utc)},
        {"qty": 4, "at": {"$date": "2023-01-01T00:00:00Z"}},
    ]
    prepared = compiler.matcher(spec)
    assert isinstance(prepared, Matcher)
    kept = prepared.filter(documents)
    assert kept == [documents[1], documents[3]] and kept[0] is documents[1]
    assert prepared.filter(tuple(documents)) == kept == compiler.filter(spec, documents)
    assert [prepared.matches(document) for document in documents] == [False, True, False, True]
    assert prepared.matches(bson.SON([("qty", 3), ("at", datetime.datetime(2000, 1, 1))])), "a Mapping"
    assert prepared.filter([]) == []
    assert matcher({"op": "=", "attr": "a", "val": 1}, allowed_fields=["a"]).matches({"a": 1})
    assert not matcher(json.dumps({"op": "=", "attr": "a", "val": 1})).matches({"a": 2})
    with pytest.raises(TypeError):
        Matcher()


def test_a_prepared_matcher_raises_for_the_spec_the_filter_and_the_documents() -> None:
    assert _spec_error(lambda: matcher({"op": "betwen", "attr": "a", "val": [1, 2]})) == ("unknown_operator", ["op"])
    assert _spec_error(lambda: matcher({"op": "=", "attr": "b", "val": 1}, allowed_fields=["a"])) == (
        "field_not_allowed",
        ["attr"],
    )
    assert _match_error(lambda: matcher({"op": "fts", "attr": "body", "val": "x"})) == ("needs_server", ["$text"])
    prepared = matcher(LEAF)
    assert _spec_error(lambda: prepared.matches({"a": {"$date": "yesterday"}})) == ("invalid_extended_json", ["document", "a"])
    assert _spec_error(lambda: prepared.matches({"a": [{"$oid": "xyz"}]})) == ("invalid_extended_json", ["document", "a", 0])
    assert _spec_error(lambda: prepared.matches({"$date": 0})) == ("invalid_value", ["document"]), "a wrapper, not a document"
    assert _spec_error(lambda: prepared.matches(None)) == ("invalid_value", ["document"])  # type: ignore[arg-type]
    assert _spec_error(lambda: prepared.filter({"a": 1})) == ("invalid_value", ["documents"])  # type: ignore[arg-type]
    assert _spec_error(lambda: prepared.filter([{"a": 1}, 5])) == ("invalid_value", ["documents", 1])  # type: ignore[list-item]
    assert _spec_error(lambda: prepared.filter([{"a": 1}, {"a": {"c": object()}}])) == ("invalid_value", ["documents", 1, "a", "c"])
    assert _spec_error(lambda: prepared.filter([{"a": [{"$numberLong": "x"}]}])) == (
        "invalid_extended_json",
        ["documents", 0, "a", 0],
    )


def test_a_prepared_matcher_refuses_hostile_documents_at_their_path() -> None:
    prepared = matcher(LEAF)
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["a"] = cyclic
    code, path = _spec_error(lambda: prepared.matches(cyclic))
    assert code == "too_deep" and path[0] == "document"
    code, path = _spec_error(lambda: prepared.filter([cyclic]))
    assert code == "too_deep" and path[:2] == ["documents", 0]
    assert _spec_error(lambda: prepared.matches({"a": "\ud800"})) == ("invalid_value", ["document", "a"])
    assert _spec_error(lambda: prepared.matches(_RaisingMapping())) == ("invalid_value", ["document"])
    assert _spec_error(lambda: prepared.matches({"a": 2**64})) == ("invalid_value", ["document", "a"])


def test_a_prepared_matcher_serves_every_thread() -> None:
    from concurrent.futures import ThreadPoolExecutor

    prepared = matcher({"op": "ilike", "attr": "note", "val": "%urgent%"})
    documents = [{"note": "URGENT" if i % 3 == 0 else "later"} for i in range(3000)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(lambda _: len(prepared.filter(documents)), range(8)))
    assert counts == [1000] * 8


def test_of_a_document_only_the_top_level_fields_the_filter_reads_are_read() -> None:
    leaf = {"op": "=", "attr": "a.b", "val": 1}
    cyclic: dict[str, Any] = {"a": {"b": 1}}
    cyclic["self"] = cyclic
    unread: list[dict[Any, Any]] = [
        {"a": {"b": 1}, "f": object()},
        {"a": {"b": 1}, "n": 2**64, "d": {"$date": "yesterday"}},
        {"a": {"b": 1}, "\ud800": 1},
        cyclic,
    ]
    for document in unread:
        assert matches(leaf, document), "other fields are neither read nor checked"
    assert filter(leaf, unread) == unread
    # Keys that are not strings are still refused, `$` keys always read (a wrapper is a value, not
    # a document), and all of a document when the filter may read any field ($expr).
    assert _spec_error(lambda: matches(leaf, {"a": {"b": 1}, 1: 2})) == ("invalid_value", ["document"])
    assert _spec_error(lambda: matches(leaf, {"$date": 0})) == ("invalid_value", ["document"])
    both = {"op": "=", "attr": "a", "field": "x"}
    assert _spec_error(lambda: matches(both, unread[1])) == ("invalid_value", ["document", "n"])
