"""Integers outside Int64, wherever they are and however they arrive: JSON text (serde_json would
turn a literal beyond 2^64 into a double), Python ``int`` and ``bson.Int64`` values. The golden
cases numbers/above_* and numbers/below_* pin the text forms in every runtime."""

from __future__ import annotations

import json
from typing import Any

import bson
import pytest

from cqrs_mongo_spec import SpecError, compile, compile_json, validate

BEYOND = 2**64


def spec_error(call: Any) -> tuple[str, list[str | int]]:
    with pytest.raises(SpecError) as info:
        call()
    return info.value.code, info.value.path


def leaf(val: Any, op: str = ">") -> dict[str, Any]:
    return {"op": op, "attr": "a", "val": val}


CASES = [
    (leaf(BEYOND), ["val"]),
    (leaf({"n": {"m": BEYOND}}), ["val", "n", "m"]),
    (leaf([1, -(2**63) - 1], op="in"), ["val", 1]),
    ({"op": "and", "conditions": [leaf(1), leaf(2), leaf(2**63)]}, ["conditions", 2, "val"]),
    ({"op": "=", "attr": "a", "val": json.dumps({"n": [0, BEYOND]}), "value_type": "json"}, ["val", "n", 1]),
    ({"op": BEYOND, "attr": "a", "val": 1}, ["op"]),
]


@pytest.mark.parametrize(("spec", "path"), CASES)
def test_as_json_text_and_as_python_values_at_the_exact_path(spec: dict[str, Any], path: list[str | int]) -> None:
    text = json.dumps(spec)  # Python's json writes the exact integer: 18446744073709551616
    assert spec_error(lambda: compile_json(text)) == ("invalid_value", path)
    assert spec_error(lambda: compile(text)) == ("invalid_value", path)
    assert spec_error(lambda: compile(spec)) == ("invalid_value", path)
    for form in (text, spec):
        assert [(e["code"], e["path"]) for e in validate(form)] == [("invalid_value", path)]


@pytest.mark.parametrize("options", [{"limit": BEYOND}, {"offset": -(2**63) - 1}])
def test_in_options(options: dict[str, Any]) -> None:
    (key,) = options
    expected = ("invalid_value", ["options", key])
    spec = {"op": "is_null", "attr": "a"}
    assert spec_error(lambda: compile(spec, options)) == expected
    assert spec_error(lambda: compile(spec, json.dumps(options))) == expected
    assert spec_error(lambda: compile_json(json.dumps(spec), json.dumps(options))) == expected


def test_int_subclasses_and_bson_int64_beyond_the_range() -> None:
    class Huge(int):
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert spec_error(lambda: compile(leaf(Huge(BEYOND)))) == ("invalid_value", ["val"])
    assert spec_error(lambda: compile(leaf([bson.Int64(BEYOND)], op="in"))) == ("invalid_value", ["val", 0])
    assert compile(leaf(bson.Int64(2**63 - 1))).filter == {"a": {"$gt": bson.Int64(2**63 - 1)}}
    with pytest.raises(SpecError, match="18446744073709551616"):
        compile(leaf(BEYOND))


def test_a_fraction_or_an_exponent_keeps_a_large_number_a_double() -> None:
    out = json.loads(compile_json('{"op": "in", "attr": "a", "val": [1e20, 18446744073709551616.0]}'))
    assert [float(v["$numberDouble"]) for v in out["filter"]["a"]["$in"]] == [1e20, float(BEYOND)]
    assert compile(leaf(float(BEYOND))).filter == {"a": {"$gt": float(BEYOND)}}
