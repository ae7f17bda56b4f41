"""Depth limits through the pip package: ``max_depth`` is capped at what MongoDB accepts, the
deepest allowed spec compiles, one level more is ``too_deep`` at its path, and JSON text or
Python values nested far beyond the parser's limit are ``too_deep`` with a path, never a crash.
(The golden cases errors/depth_cap_* and errors/too_deep_* pin the same in every runtime.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cqrs_mongo_spec import SpecError, _native, compile, compile_json, validate

CAP = 45  # cqrs_mongo_spec::MAX_DEPTH_LIMIT
JSON_DEPTH = 127  # cqrs_mongo_spec::input::MAX_JSON_DEPTH


def spec_error(call: Any) -> tuple[str, list[str | int]]:
    with pytest.raises(SpecError) as info:
        call()
    return info.value.code, info.value.path


def nots(n: int, leaf: dict[str, Any]) -> dict[str, Any]:
    spec = leaf
    for _ in range(n):
        spec = {"op": "not", "condition": spec}
    return spec


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def levels(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((levels(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((levels(v) for v in value), default=0)
    return 0


LEAF = {"op": "=", "attr": "a", "val": 1}


def test_max_depth_above_the_cap_is_invalid_option_wherever_settings_are_taken() -> None:
    refused = ("invalid_option", ["settings", "max_depth"])
    assert spec_error(lambda: compile(LEAF, max_depth=CAP + 1)) == refused
    assert spec_error(lambda: compile(LEAF, max_depth=400)) == refused
    assert spec_error(lambda: compile_json(json.dumps(LEAF), max_depth=400)) == refused
    assert spec_error(lambda: validate(LEAF, max_depth=400)) == refused
    assert spec_error(lambda: _native.Compiler({"max_depth": 400}).compile(LEAF)) == refused
    assert compile(LEAF, max_depth=CAP).filter == {"a": {"$eq": 1}}


def test_the_deepest_spec_at_the_cap_compiles_to_100_levels_and_one_more_is_too_deep() -> None:
    fits = nots(CAP - 1, {"op": "=", "attr": "a", "val": nested(10)})
    query = compile(fits, max_depth=CAP)
    assert levels(query.filter) == 100
    assert levels(query.pipeline) == 102  # the list of stages and the $match stage around it
    assert json.loads(compile_json(json.dumps(fits), max_depth=CAP))["filter"]["$nor"][0]["$nor"]
    assert validate(fits, max_depth=CAP) == []

    deeper = nots(CAP, {"op": "is_null", "attr": "a"})
    assert spec_error(lambda: compile(deeper, max_depth=CAP)) == ("too_deep", ["condition"] * CAP)
    assert spec_error(lambda: compile_json(json.dumps(deeper), max_depth=CAP)) == ("too_deep", ["condition"] * CAP)

    over = nots(CAP - 1, {"op": "=", "attr": "a", "val": nested(11)})
    at_val = ("too_deep", ["condition"] * (CAP - 1) + ["val"])
    assert spec_error(lambda: compile(over, max_depth=CAP)) == at_val
    assert [(e["code"], e["path"]) for e in validate(over, max_depth=CAP)] == [at_val]


def test_100_000_nested_nots_as_text_and_as_a_dict_are_too_deep_at_the_same_path() -> None:
    n = 100_000
    text = '{"op":"not","condition":' * n + '{"op":"is_null","attr":"a"}' + "}" * n
    at_limit = ("too_deep", ["condition"] * JSON_DEPTH)
    assert spec_error(lambda: compile_json(text)) == at_limit
    assert spec_error(lambda: compile(text)) == at_limit
    assert [(e["code"], e["path"]) for e in validate(text)] == [at_limit]
    deep: dict[str, Any] = {"op": "is_null", "attr": "a"}
    for _ in range(n):
        deep = {"op": "not", "condition": deep}
    assert spec_error(lambda: compile(deep)) == at_limit


def test_values_and_text_agree_at_the_nesting_limit_cycles_included() -> None:
    def lists(k: int) -> list[Any]:
        value: list[Any] = []
        for _ in range(k - 1):
            value = [value]
        return value

    # The spec dict and 126 lists: converted, then refused by the compiler's own value limit.
    parsed = {"op": "in", "attr": "a", "val": lists(JSON_DEPTH - 1)}
    assert spec_error(lambda: compile(parsed)) == ("too_deep", ["val"] + [0] * 100)
    too_many = {"op": "in", "attr": "a", "val": lists(JSON_DEPTH)}  # 128 containers
    path = ["val"] + [0] * (JSON_DEPTH - 1)
    assert spec_error(lambda: compile(too_many)) == ("too_deep", path)
    assert spec_error(lambda: compile_json(json.dumps(too_many))) == ("too_deep", path)

    cyclic: dict[str, Any] = {"x": 1}
    cyclic["self"] = cyclic
    assert spec_error(lambda: compile({"op": "=", "attr": "a", "val": cyclic})) == (
        "too_deep",
        ["val"] + ["self"] * (JSON_DEPTH - 1),
    )
    order: list[Any] = []
    order.append(order)
    assert spec_error(lambda: compile(LEAF, {"order_by": order})) == (
        "too_deep",
        ["options", "order_by"] + [0] * (JSON_DEPTH - 1),
    )
    assert spec_error(lambda: compile(LEAF, json.dumps({"order_by": lists(JSON_DEPTH)}))) == (
        "too_deep",
        ["options", "order_by"] + [0] * (JSON_DEPTH - 1),
    )
