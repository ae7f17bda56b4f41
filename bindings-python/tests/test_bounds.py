"""Regression tests of issue 22 for the pip package: prototype-looking keys are plain keys in
every position, long lists are refused before they are converted, values that change while
they are read cannot slip past a check, and a large field schema is parsed in linear time.
Bounds are counted (items read through a counting list), never timed."""

from __future__ import annotations

import decimal
import json
from typing import Any

import pytest

from cqrs_mongo_spec import Compiler, SpecError, compile, compile_json, querybuilder_fields, validate


def spec_error(call: Any) -> tuple[str, list[str | int]]:
    with pytest.raises(SpecError) as info:
        call()
    return info.value.code, info.value.path


@pytest.mark.parametrize("key", ["__proto__", "constructor", "__class__", "__dict__", "toString"])
def test_prototype_looking_keys_are_plain_keys_everywhere(key: str) -> None:
    spec = {"op": "or", "conditions": [{"op": "=", "attr": key, "val": {key: 1, "k": 2}}, {"op": "=", "attr": "a", "val": 1}]}
    query = compile(spec, {"order_by": [key, "-k"]})
    assert query.filter == {"$or": [{key: {"$eq": {key: 1, "k": 2}}}, {"a": {"$eq": 1}}]}
    assert list(query.filter["$or"][0][key]["$eq"]) == [key, "k"]
    assert query.sort == {key: 1, "k": -1}
    assert Compiler(allowed_fields=[key, "a"]).compile(spec).filter == query.filter
    assert '"' + key + '"' in compile_json(json.dumps(spec))


class Counted(decimal.Decimal):
    """A decimal whose conversion is counted: the converter reads it through ``str()``."""

    reads = 0

    def __str__(self) -> str:
        Counted.reads += 1
        return super().__str__()


def test_counted_items_are_seen_when_converted() -> None:
    Counted.reads = 0
    assert compile({"op": "in", "attr": "a", "val": [Counted("1.5"), Counted("2")]}).filter["a"]["$in"][1] is not None
    assert Counted.reads == 2


def test_a_list_longer_than_any_spec_can_hold_is_refused_before_its_items_are_converted() -> None:
    Counted.reads = 0
    items = [Counted("1")] * 10_001  # longer than max(max_list_len 10,000, max_nodes 1,000)
    assert spec_error(lambda: compile({"op": "in", "attr": "a", "val": items})) == ("list_too_long", ["val"])
    assert [e["code"] for e in validate({"op": "in", "attr": "a", "val": items})] == ["list_too_long"]
    assert Counted.reads == 0
    # At the bound the list is converted, one read per item, and the compiler decides.
    assert spec_error(lambda: Compiler(max_list_len=9_999, max_nodes=10_000).compile({"op": "in", "attr": "a", "val": items[:10_000]})) == (
        "list_too_long",
        ["val"],
    )
    assert Counted.reads == 10_000
    # The options' lists are bound the same way.
    order_by = ["a"] * 10_001
    assert spec_error(lambda: compile({"op": "=", "attr": "a", "val": 1}, {"order_by": order_by})) == (
        "list_too_long",
        ["options", "order_by"],
    )


def test_the_bound_follows_the_compilers_settings() -> None:
    small = Compiler(max_list_len=3, max_nodes=3)
    assert spec_error(lambda: small.compile({"op": "in", "attr": "a", "val": [1, 2, 3, 4]})) == ("list_too_long", ["val"])
    # Within the walk's bound the compiler itself decides (same code and path as for JSON text).
    wide = Compiler(max_list_len=3, max_nodes=50)
    assert spec_error(lambda: wide.compile({"op": "in", "attr": "a", "val": [1, 2, 3, 4]})) == ("list_too_long", ["val"])
    assert spec_error(lambda: wide.compile_json('{"op": "in", "attr": "a", "val": [1, 2, 3, 4]}')) == (
        "list_too_long",
        ["val"],
    )
    # Settings lists (a long whitelist) and schemas are the caller's configuration: not bound.
    fields = [f"f{i}" for i in range(20_000)]
    assert Compiler(allowed_fields=fields).compile({"op": "=", "attr": "f19999", "val": 1}).filter == {"f19999": {"$eq": 1}}


def test_a_value_that_grows_its_list_while_read_cannot_pass_the_bound() -> None:
    items: list[Any] = [1, 2]

    class Grower(decimal.Decimal):
        def __str__(self) -> str:
            items.extend([0] * 50_000)
            return super().__str__()

    items.insert(1, Grower("7"))
    # The list is 3 items when its length is checked; reading its second item appends 50,000.
    # The walk keeps to the length it checked: what it converted is what was checked.
    query = compile({"op": "in", "attr": "a", "val": items})
    assert len(items) == 50_003
    assert query.filter == {"a": {"$in": [1, bson_decimal("7"), 2]}}


def bson_decimal(text: str) -> Any:
    try:
        import bson
    except ImportError:
        return decimal.Decimal(text)
    return bson.Decimal128(text)


def test_a_schema_of_many_fields_is_parsed_with_one_lookup_per_field() -> None:
    fields = [{"name": f"f{i}", "type": "integer"} for i in range(100_000)]
    compiler = Compiler(schema={"fields": fields})
    assert compiler.compile({"op": ">", "attr": "f99999", "val": 1}).filter == {"f99999": {"$gt": 1}}
    assert len(compiler.querybuilder_fields()) == 100_000
    duplicate = {"fields": [*fields, {"name": "f5", "type": "string"}]}
    code, path = spec_error(lambda: Compiler(schema=duplicate))
    assert (code, path[:2]) == ("invalid_option", ["settings", "schema"])
    assert len(querybuilder_fields({"fields": fields[:10]})) == 10


def test_compiler_without_schema_has_no_querybuilder_fields() -> None:
    assert spec_error(lambda: Compiler().querybuilder_fields()) == ("invalid_option", ["settings", "schema"])


def test_unknown_settings_are_type_errors_and_refused_ones_raise_at_construction() -> None:
    with pytest.raises(TypeError):
        Compiler(max_node=3)  # type: ignore[call-arg]
    assert spec_error(lambda: Compiler(max_depth=400)) == ("invalid_option", ["settings", "max_depth"])


def test_one_compiler_serves_many_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    compiler = Compiler(max_nodes=50, allowed_fields=["a", "b"])
    specs = [{"op": "in", "attr": "a" if i % 2 else "b", "val": list(range(i % 7 + 1))} for i in range(400)]
    expected = [compile(spec, max_nodes=50, allowed_fields=["a", "b"]).filter for spec in specs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda spec: compiler.compile(spec).filter, specs))
    assert results == expected
    assert spec_error(lambda: compiler.compile({"op": "=", "attr": "c", "val": 1})) == ("field_not_allowed", ["attr"])
