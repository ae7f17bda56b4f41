"""Hostile input: every public entry point, given any odd object anywhere in a spec or its
options, either compiles or raises ``SpecError`` with a code from the stable list, never
anything else (an exception the input raises itself is kept as ``__cause__``).

A table of odd objects is placed at every position of a spec (the spec itself, ``op``, ``attr``,
``val``, deep inside ``val``, as a key, in a condition, in the options), then random
combinations of them are tried with a fixed seed (a property test without extra packages)."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from cqrs_mongo_spec import SpecError, compile, compile_json, validate
from cqrs_mongo_spec.compat import MongoQueryBuilder
from golden_support import load_cases

# The stable codes: every code of the compiler has a golden case (the Rust coverage test checks
# both directions), so the corpus lists them all.
CODES = {case.data["error"]["code"] for case in load_cases() if "error" in case.data}


class Boom(Exception):
    pass


class RaisingStr:
    def __str__(self) -> str:
        raise Boom("__str__")

    def __repr__(self) -> str:
        raise Boom("__repr__")

    def __eq__(self, other: object) -> bool:
        raise Boom("__eq__")

    __hash__ = object.__hash__


class RaisingEq(str):
    def __eq__(self, other: object) -> bool:
        raise Boom("__eq__")

    def __hash__(self) -> int:
        return str.__hash__(self)

    def __str__(self) -> str:
        raise Boom("__str__")


class RaisingClass:
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise Boom("__class__")


class BadDecimal(decimal.Decimal):
    def __str__(self) -> str:
        raise Boom("decimal __str__")


class BadDate(datetime.datetime):
    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        raise Boom("isoformat")


class NotTextDate(datetime.date):
    def isoformat(self) -> Any:
        return 5


class BadUuid(uuid.UUID):
    def __str__(self) -> str:
        raise Boom("uuid __str__")


class BadList(list):  # type: ignore[type-arg]
    def __iter__(self) -> Iterator[Any]:
        raise Boom("__iter__")

    def __len__(self) -> int:
        raise Boom("__len__")


class BadDict(dict):  # type: ignore[type-arg]
    def __iter__(self) -> Iterator[Any]:
        raise Boom("__iter__")

    def items(self) -> Any:
        raise Boom("items")

    def __getitem__(self, key: Any) -> Any:
        raise Boom("__getitem__")


class BadMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise Boom("__getitem__")

    def __iter__(self) -> Iterator[str]:
        raise Boom("__iter__")

    def __len__(self) -> int:
        return 1


class BadToDict:
    def to_dict(self) -> Any:
        raise Boom("to_dict")


class Shouting(str):
    pass


class Level(enum.IntEnum):
    HIGH = 3


class Flag(int):
    """An int subclass standing in for a bool subclass (``bool`` cannot be subclassed)."""

    def __bool__(self) -> bool:
        raise Boom("__bool__")

    def __index__(self) -> int:
        raise Boom("__index__")


def recursive_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


def recursive_dict() -> dict[str, Any]:
    node: dict[str, Any] = {"a": 1}
    node["self"] = node
    return node


def deep_dict(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"x": 1}
    for _ in range(levels):
        node = {"x": node}
    return node


def deep_list(levels: int) -> list[Any]:
    items: list[Any] = []
    for _ in range(levels):
        items = [items]
    return items


class Mutating(decimal.Decimal):
    """Empties the dict holding it while being read."""

    holder: dict[str, Any] = {}

    def __str__(self) -> str:
        Mutating.holder.clear()
        return "1"


def mutating_dict() -> dict[str, Any]:
    holder: dict[str, Any] = {"a": 1, "b": Mutating("1"), "c": 2}
    Mutating.holder = holder
    return holder


ODD: dict[str, Callable[[], Any]] = {
    "lone high surrogate": lambda: "\ud800",
    "lone low surrogate inside text": lambda: "a\udfffb",
    "surrogate pair (valid)": lambda: "\ud83d\ude00",
    "2**64": lambda: 2**64,
    "-2**63-1": lambda: -(2**63) - 1,
    "10**400": lambda: 10**400,
    "nan": lambda: float("nan"),
    "inf": lambda: float("inf"),
    "-inf": lambda: float("-inf"),
    "-0.0": lambda: -0.0,
    "bytes": lambda: b"\x00\xff",
    "bytearray": lambda: bytearray(b"x"),
    "memoryview": lambda: memoryview(b"x"),
    "set": lambda: {1, 2},
    "frozenset": lambda: frozenset({"a"}),
    "object()": object,
    "raising __str__/__repr__/__eq__": RaisingStr,
    "str subclass raising __eq__/__str__": lambda: RaisingEq("x"),
    "raising __class__": RaisingClass,
    "Decimal raising __str__": lambda: BadDecimal("1"),
    "datetime raising isoformat": lambda: BadDate(2024, 1, 1),
    "date with non-text isoformat": lambda: NotTextDate(2024, 1, 1),
    "UUID raising __str__": lambda: BadUuid(int=1),
    "list raising __iter__/__len__": lambda: BadList([1, 2]),
    "dict raising items/__iter__": lambda: BadDict(a=1),
    "Mapping raising __iter__": BadMapping,
    "to_dict raising": BadToDict,
    "str subclass": lambda: Shouting("x"),
    "IntEnum": lambda: Level.HIGH,
    "int subclass raising __bool__/__index__": lambda: Flag(1),
    "True": lambda: True,
    "recursive list": recursive_list,
    "recursive dict": recursive_dict,
    "dict nested 10 000 deep": lambda: deep_dict(10_000),
    "list nested 10 000 deep": lambda: deep_list(10_000),
    "dict changed while read": mutating_dict,
    "complex": lambda: 1j,
    "range": lambda: range(3),
    "slice": lambda: slice(1),
    "Ellipsis": lambda: ...,
    "type": lambda: int,
    "function": lambda: (lambda: 1),
    "generator": lambda: (i for i in range(3)),
    "module": lambda: json,
    "time": lambda: datetime.time(1, 2),
    "timedelta": lambda: datetime.timedelta(1),
    "dict with int key": lambda: {1: "a"},
    "dict with None key": lambda: {None: "a"},
    "dict with tuple key": lambda: {("a",): 1},
    "dict with bytes key": lambda: {b"k": 1},
    "dict with raising-__eq__ key": lambda: {RaisingStr(): 1},
    "dict with lone-surrogate key": lambda: {"\udc00": 1},
    "dict with $ key": lambda: {"$where": "1"},
}

# Where an odd object goes: a function from the object to (spec, options).
PLACES: dict[str, Callable[[Any], tuple[Any, Any]]] = {
    "spec": lambda odd: (odd, None),
    "op": lambda odd: ({"op": odd, "attr": "a", "val": 1}, None),
    "attr": lambda odd: ({"op": "=", "attr": odd, "val": 1}, None),
    "val": lambda odd: ({"op": "=", "attr": "a", "val": odd}, None),
    "val of in, deep": lambda odd: ({"op": "in", "attr": "a", "val": [1, {"k": [odd]}]}, None),
    "value_type": lambda odd: ({"op": "=", "attr": "a", "val": 1, "value_type": odd}, None),
    "condition": lambda odd: ({"op": "or", "conditions": [{"op": "=", "attr": "a", "val": 1}, odd]}, None),
    "options": lambda odd: ({"op": "is_null", "attr": "a"}, odd),
    "options.limit": lambda odd: ({"op": "is_null", "attr": "a"}, {"limit": odd}),
    "options.order_by": lambda odd: ({"op": "is_null", "attr": "a"}, {"order_by": [odd]}),
}


def outcome(call: Callable[[], Any]) -> str:
    """"ok" or the SpecError code; any other exception fails the test."""
    try:
        call()
    except SpecError as err:
        assert err.code in CODES, f"unstable code {err.code!r}"
        assert isinstance(err.path, list) and all(type(s) in (str, int) for s in err.path), err.path
        assert str(err)
        return err.code
    except BaseException as err:  # noqa: BLE001 - the point of the test
        pytest.fail(f"raised {type(err).__name__}: {err!r}"[:300])
    return "ok"


def every_entry_point(spec: Any, options: Any) -> list[str]:
    builder = MongoQueryBuilder()
    results = [
        outcome(lambda: compile(spec, options)),
        outcome(lambda: validate(spec, options)),
        outcome(lambda: compile_json(spec, options)),
        outcome(lambda: builder.build_match(spec)),
        outcome(lambda: builder.build_match(spec, allow_raw_filter=True)),
    ]
    if options is not None:
        results.append(outcome(lambda: builder.build_sort(options)))
        results.append(outcome(lambda: builder.build_project(options)))
    return results


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("odd", ODD)
def test_every_odd_object_in_every_place_raises_only_spec_errors(odd: str, place: str) -> None:
    spec, options = PLACES[place](ODD[odd]())
    every_entry_point(spec, options)
    try:  # the same spec as JSON text, where Python's json can write it
        text = json.dumps(spec)
    except Exception:
        return
    outcome(lambda: compile_json(text))
    outcome(lambda: compile(text, options))


def test_random_combinations_raise_only_spec_errors() -> None:
    rng = random.Random(20240611)
    names = list(ODD)
    for _ in range(400):
        parts = [ODD[rng.choice(names)]() for _ in range(3)]
        spec = {
            "op": rng.choice(["and", "or", "not", "=", "in", "between", "json_contains", "IN", parts[0]]),
            "attr": rng.choice(["a", "b.c", parts[1]]),
            "val": rng.choice([parts[2], [parts[2], parts[0]], {"k": parts[2]}]),
            "conditions": [{"op": "=", "attr": "a", "val": parts[1]}],
            "condition": {"op": "is_null", "attr": "a", "val": parts[0]},
        }
        if rng.random() < 0.5:
            del spec["conditions"], spec["condition"]
        every_entry_point(spec, rng.choice([None, {"limit": parts[0]}, {"order_by": [parts[1]]}]))


def test_lone_surrogates_are_invalid_value_naming_the_problem() -> None:
    def error(call: Callable[[], Any]) -> SpecError:
        with pytest.raises(SpecError) as info:
            call()
        return info.value

    err = error(lambda: compile({"op": "=", "attr": "a", "val": "\ud800"}))
    assert (err.code, err.path) == ("invalid_value", ["val"])
    assert "not valid Unicode: lone surrogate \\ud800" in str(err)
    for text in ('{"op": "=", "attr": "a", "val": "\\ud800"}', '{"op": "=", "attr": "a", "val": "\ud800"}'):
        assert (error(lambda: compile_json(text)).code, error(lambda: compile_json(text)).path) == (
            "invalid_value",
            ["val"],
        )
        assert [(e["code"], e["path"]) for e in validate(text)] == [("invalid_value", ["val"])]
    assert error(lambda: compile({"op": "=", "attr": "a\udfff", "val": 1})).path == ["attr"]
    key = error(lambda: compile({"op": "=", "attr": "a", "val": {"ok": 1, "\udbff": 2}}))
    assert (key.code, key.path) == ("invalid_value", ["val"])
    assert "an object key that is not valid Unicode" in str(key)
    assert error(lambda: compile({"op": "=", "attr": "a", "val": 1, "\ud800": 1})).path == []
    options = error(lambda: compile({"op": "is_null", "attr": "a"}, {"order_by": ["\ud800"]}))
    assert (options.code, options.path) == ("invalid_value", ["options", "order_by", 0])
    text_options = error(lambda: compile_json('{"op": "is_null", "attr": "a"}', '{"order_by": ["\ud800"]}'))
    assert text_options.path == ["options", "order_by", 0]
    assert compile({"op": "=", "attr": "a", "val": "\ud83d\ude00"}).filter == {"a": {"$eq": "\U0001f600"}}
