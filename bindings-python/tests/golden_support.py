"""Reading the golden cases of /tests/golden/ and decoding canonical Extended JSON.

Shared by ``test_golden.py`` (and usable by other tests). No pymongo-free fallback here: the
project venv has pymongo, and the golden runner checks the pymongo value types.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bson

GOLDEN = Path(__file__).resolve().parents[2] / "tests" / "golden"

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    name: str  # "family/case"
    path: Path
    text: str
    data: dict[str, Any]
    raw: dict[str, str]  # the JSON text of each top-level member, cut out of the file

    @property
    def spec_text(self) -> str:
        """The spec as JSON text: a string spec *is* the text, otherwise the file's own text."""
        spec = self.data["spec"]
        return spec if isinstance(spec, str) else self.raw["spec"]

    @property
    def options_text(self) -> str | None:
        return self.raw.get("options")

    @property
    def settings(self) -> dict[str, Any]:
        """``config`` as keyword settings (the names are the same)."""
        return dict(self.data.get("config") or {})


def case_files() -> list[Path]:
    """Every case file, sorted, without dataset.json / README.md at the root."""
    return sorted(p for p in GOLDEN.rglob("*.json") if p.parent != GOLDEN)


def load_cases() -> list[Case]:
    cases = []
    for path in case_files():
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(GOLDEN).with_suffix("").as_posix()
        cases.append(Case(name, path, text, json.loads(text), raw_members(text)))
    return cases


def raw_members(text: str) -> dict[str, str]:
    """The raw JSON text of each top-level member of an object, without parsing numbers
    (a port of ``rawMembers`` in bindings-wasm/test/golden.test.mjs)."""
    members: dict[str, str] = {}
    i = text.index("{") + 1
    n = len(text)

    def skip_ws() -> None:
        nonlocal i
        while i < n and text[i].isspace():
            i += 1

    def skip_string() -> None:
        nonlocal i
        i += 1
        while text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        i += 1

    while True:
        skip_ws()
        if text[i] == "}":
            return members
        key_start = i
        skip_string()
        key = json.loads(text[key_start:i])
        skip_ws()
        i += 1  # the colon
        skip_ws()
        start = i
        depth = 0
        while i < n:
            c = text[i]
            if c == '"':
                skip_string()
                continue
            if c in "{[":
                depth += 1
            if c in "}]":
                if depth == 0:
                    break
                depth -= 1
            if c == "," and depth == 0:
                break
            i += 1
        members[key] = text[start:i].strip()
        skip_ws()
        if text[i] == ",":
            i += 1


class Obj(tuple):  # type: ignore[type-arg]
    """A JSON object as its ordered (key, value) pairs (``json.loads`` object_pairs_hook)."""


def parse_ordered(text: str) -> Any:
    return json.loads(text, object_pairs_hook=Obj)


# --- canonical Extended JSON -> typed, order-preserving tuples (for compile_json) ----------


def _date_ms(value: Any) -> int:
    assert isinstance(value, Obj) and len(value) == 1 and value[0][0] == "$numberLong", value
    return int(value[0][1])


def _binary(value: Any) -> tuple[int, bytes]:
    body = dict(value)
    assert isinstance(value, Obj) and set(body) == {"base64", "subType"}, value
    return int(body["subType"], 16), base64.b64decode(body["base64"], validate=True)


def _double_key(text: str) -> str:
    # repr keeps -0.0 apart from 0.0 and gives one spelling for NaN / infinities.
    return repr(float(text))


TYPED_WRAPPERS: dict[str, Callable[[Any], Any]] = {
    "$numberInt": lambda v: ("int32", int(v)),
    "$numberLong": lambda v: ("int64", int(v)),
    "$numberDouble": lambda v: ("double", _double_key(v)),
    "$numberDecimal": lambda v: ("decimal", v),
    "$date": lambda v: ("date", _date_ms(v)),
    "$oid": lambda v: ("oid", v.lower()),
    "$binary": lambda v: ("binary", *_binary(v)),
}


def typed(value: Any) -> Any:
    """Canonical Extended JSON (parsed with :func:`parse_ordered`) to tagged tuples, so that
    comparing two results compares types, values and key order, never text."""
    if isinstance(value, Obj):
        if len(value) == 1 and value[0][0] in TYPED_WRAPPERS:
            key, inner = value[0]
            return TYPED_WRAPPERS[key](inner)
        return ("document", tuple((key, typed(item)) for key, item in value))
    if isinstance(value, list):
        return ("array", tuple(typed(item) for item in value))
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, int):
        return ("json-int", value)  # never in canonical output; kept apart from wrappers
    if isinstance(value, float):
        return ("json-float", repr(value))
    raise TypeError(f"unexpected JSON value {value!r}")


# --- canonical Extended JSON -> the Python values pymongo uses (for compile) ---------------


def _py_binary(value: Any) -> Any:
    subtype, data = _binary(value)
    if subtype == 4 and len(data) == 16:
        return uuid.UUID(bytes=data)
    return bson.Binary(data, subtype)


PY_WRAPPERS: dict[str, Callable[[Any], Any]] = {
    "$numberInt": lambda v: int(v),
    "$numberLong": lambda v: bson.Int64(int(v)),
    "$numberDouble": lambda v: float(v),
    "$numberDecimal": lambda v: bson.Decimal128(v),
    "$date": lambda v: EPOCH + datetime.timedelta(milliseconds=_date_ms(v)),
    "$oid": lambda v: bson.ObjectId(v),
    "$binary": _py_binary,
}


def to_python(value: Any) -> Any:
    """Canonical Extended JSON (parsed with :func:`parse_ordered`) to pymongo's Python values."""
    if isinstance(value, Obj):
        if len(value) == 1 and value[0][0] in PY_WRAPPERS:
            key, inner = value[0]
            return PY_WRAPPERS[key](inner)
        return {key: to_python(item) for key, item in value}
    if isinstance(value, list):
        return [to_python(item) for item in value]
    return value


def assert_same(actual: Any, expected: Any, where: str = "<result>") -> None:
    """Deep equality with exact types (``type(a) is type(b)``) and dict key order."""
    assert type(actual) is type(expected), (
        f"{where}: {type(actual).__name__} {actual!r} != {type(expected).__name__} {expected!r}"
    )
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{where}: {len(actual)} items != {len(expected)}"
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{where}[{index}]")
    elif isinstance(expected, float):
        same = (math.isnan(actual) and math.isnan(expected)) or (
            actual == expected and math.copysign(1, actual) == math.copysign(1, expected)
        )
        assert same, f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, datetime.datetime):
        assert actual == expected and actual.tzinfo == expected.tzinfo, f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, bson.Binary):
        assert (bytes(actual), actual.subtype) == (bytes(expected), expected.subtype), f"{where}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
