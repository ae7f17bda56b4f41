"""Safety settings for specs from untrusted clients, in the pip package: the same settings and
the same typed errors as Rust and the npm package (the core reads the settings)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cqrs_mongo_spec import SpecError, compile, compile_json, validate


def refused(call: Any) -> tuple[str, list[str | int]]:
    with pytest.raises(SpecError) as info:
        call()
    return info.value.code, info.value.path


def regex(pattern: str) -> dict[str, Any]:
    return {"op": "regex", "attr": "note", "val": pattern}


def buried(leaf: dict[str, Any]) -> dict[str, Any]:
    """``leaf`` under or → not → and."""
    return {
        "op": "or",
        "conditions": [
            {"op": "=", "attr": "a", "val": 1},
            {"op": "not", "condition": {"op": "and", "conditions": [{"op": "=", "attr": "b", "val": 2}, leaf]}},
        ],
    }


BURIED: list[str | int] = ["conditions", 1, "condition", "conditions", 1]


@pytest.mark.parametrize("pattern", ["(a+)+$", "^(a|aa)+$", "(\\w+\\s?)*$"])
def test_catastrophic_patterns_are_refused_wherever_they_are(pattern: str) -> None:
    assert refused(lambda: compile(regex(pattern))) == ("unsafe_regex", ["val"])
    assert refused(lambda: compile(buried(regex(pattern)))) == ("unsafe_regex", [*BURIED, "val"])
    assert refused(lambda: compile_json(json.dumps(regex(pattern)))) == ("unsafe_regex", ["val"])


def test_the_regex_policy_the_string_and_spec_limits() -> None:
    lenient = compile(regex("(a+)+$"), regex={"allow_backtracking": True})
    assert lenient.filter == {"note": {"$regex": "(a+)+$", "$options": ""}}
    assert refused(lambda: compile(regex("^a"), regex={"enabled": False})) == ("regex_not_allowed", ["op"])
    assert refused(lambda: compile(regex("^abcdefgh"), regex={"max_len": 8})) == ("regex_too_long", ["val"])
    long_value = {"op": "in", "attr": "a", "val": ["ok", "x" * 17]}
    assert refused(lambda: compile(long_value, max_string_len=16)) == ("string_too_long", ["val", 1])
    assert refused(lambda: compile({"op": "=", "attr": "a", "val": "x" * (10 << 20)})) == ("string_too_long", ["val"])
    assert refused(lambda: compile({"op": "in", "attr": "a", "val": [1, 2, 3, 4, 5, 6]}, max_spec_len=20)) == (
        "spec_too_large",
        [],
    )


def test_json_text_longer_than_max_spec_len_is_refused_before_it_is_parsed() -> None:
    long_and_broken = '{"op": "=", "attr": "a", "val": "' + "x" * 40  # not even JSON
    assert refused(lambda: compile_json(long_and_broken, max_spec_len=40)) == ("spec_too_large", [])
    assert refused(lambda: compile(long_and_broken, max_spec_len=40)) == ("spec_too_large", [])
    assert [(e["code"], e["path"]) for e in validate(long_and_broken, max_spec_len=40)] == [("spec_too_large", [])]
    # A str with a lone surrogate goes in as UTF-16 code units: still refused by length.
    assert refused(lambda: compile(long_and_broken + "\ud800", max_spec_len=40)) == ("spec_too_large", [])
    assert refused(lambda: compile_json('{"op": "="', max_spec_len=40)) == ("invalid_json", [])


def test_operator_lists_refuse_deep_operators_and_validate_reports_each() -> None:
    allowed = ["=", "and", "or", "not"]
    like = {"op": "like", "attr": "n", "val": "x%"}
    assert refused(lambda: compile(buried(like), allowed_operators=allowed)) == (
        "operator_not_allowed",
        [*BURIED, "op"],
    )
    assert refused(lambda: compile(regex("^a"), denied_operators=("regex",))) == ("operator_not_allowed", ["op"])
    errors = validate({"op": "and", "conditions": [like, regex("^a")]}, allowed_operators=allowed)
    assert [(e["code"], e["path"]) for e in errors] == [
        ("operator_not_allowed", ["conditions", 0, "op"]),
        ("operator_not_allowed", ["conditions", 1, "op"]),
    ]


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"denied_operators": ["regexp"]}, ["denied_operators"]),
        ({"regex": {"maxlen": 3}}, ["regex", "maxlen"]),
        ({"regex": {"max_len": "long"}}, ["regex", "max_len"]),
        ({"max_string_len": -1}, ["max_string_len"]),
        ({"allowed_operators": "="}, ["allowed_operators"]),
    ],
)
def test_bad_safety_settings_are_invalid_option_at_their_key(settings: dict[str, Any], path: list[str]) -> None:
    spec = {"op": "=", "attr": "a", "val": 1}
    assert refused(lambda: compile(spec, **settings)) == ("invalid_option", ["settings", *path])


SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "total", "type": "decimal", "label": "Total", "path": "amounts.total"},
        {"name": "status", "type": "string", "values": ["placed", "paid"], "operators": ["=", "in"]},
    ]
}


def test_a_schema_drives_the_compiler_and_becomes_querybuilder_fields() -> None:
    from decimal import Decimal

    from bson import Decimal128

    from cqrs_mongo_spec import operators, querybuilder_fields

    query = compile({"op": ">=", "attr": "total", "val": "100.50"}, schema=SCHEMA)
    assert query.filter == {"amounts.total": {"$gte": Decimal128(Decimal("100.50"))}}
    assert refused(lambda: compile({"op": "regex", "attr": "total", "val": "1"}, schema=SCHEMA)) == (
        "operator_not_allowed",
        ["op"],
    )
    fields = querybuilder_fields(SCHEMA)
    assert [(f["name"], f["label"], f["inputType"], f["valueEditorType"]) for f in fields] == [
        ("total", "Total", "number", "text"),
        ("status", "status", "text", "select"),
    ]
    assert fields[1]["values"] == [{"name": "placed", "label": "placed"}, {"name": "paid", "label": "paid"}]
    for field in fields:
        offered = {op["name"] for op in field["operators"]}
        for op in operators():
            if not op["supported"] or op["family"] == "logical":
                continue
            errors = validate({"op": op["name"], "attr": field["name"], "val": 1}, schema=SCHEMA)
            assert any(e["code"] == "operator_not_allowed" for e in errors) == (op["name"] not in offered)
    assert refused(lambda: querybuilder_fields({"fields": [{"name": "a", "type": "decimals"}]})) == (
        "invalid_option",
        ["schema", "fields", 0, "type"],
    )
