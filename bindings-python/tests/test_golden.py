"""Every case of /tests/golden/ through the pip package, one named test per case and mode
(mirrors bindings-wasm/test/golden.test.mjs).

- ``test_compile_json[family/case]``: JSON text in (the spec and options text cut out of the case
  file, as the Node runner does), canonical Extended JSON text out, decoded to typed values and
  compared with key order significant. The same case is also run with ``json.dumps`` of the
  parsed spec/options, which must give the same outcome (Python's json keeps ``1.0`` a float and
  large integers exact).
- ``test_compile[family/case]``: the spec and options as Python values (``json.loads``), the
  result compared with the expected output decoded into the values pymongo uses, types exact.
- ``test_compiler_objects``: every case again through one ``Compiler`` per distinct settings,
  built once and reused for all the cases that share them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cqrs_mongo_spec import CompiledQuery, Compiler, SpecError, compile, compile_json, validate
from golden_support import (
    Case,
    Obj,
    assert_same,
    load_cases,
    parse_ordered,
    to_python,
    typed,
)

CASES = load_cases()
IDS = [case.name for case in CASES]
FAMILIES = {
    "comparison", "elem_match", "errors", "extended_json", "fields", "geo", "json", "logical",
    "null", "numbers", "options", "reference", "schema", "set", "string", "text", "value_type",
}  # fmt: skip


def test_every_family_has_cases() -> None:
    found = {case.name.split("/")[0] for case in CASES}
    assert found == FAMILIES
    assert len(CASES) >= 350
    for case in CASES:
        assert ("error" in case.data) != ("expected" in case.data), case.name


def test_python_json_keeps_number_types() -> None:
    """Why ``json.dumps(json.loads(text))`` is an equivalent input: floats stay floats (with a
    fraction or exponent in the text) and integers stay exact, so Int32/Int64/Double survive."""
    assert json.dumps(json.loads("[1.0, 1e3, 2147483648, 9223372036854775808, -0.0, 0.1]")) == (
        "[1.0, 1000.0, 2147483648, 9223372036854775808, -0.0, 0.1]"
    )
    assert json.dumps(json.loads("18446744073709551615")) == "18446744073709551615"


def _error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(SpecError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err.code, str)
    assert all(type(segment) in (str, int) for segment in err.path)
    return {"code": err.code, "path": err.path}


def _json_outcome(spec_text: str, options_text: str | None, settings: dict[str, Any]) -> Any:
    """("ok", typed result) or ("error", code, path) of compile_json."""
    try:
        out = compile_json(spec_text, options_text, **settings)
    except SpecError as err:
        return ("error", err.code, err.path)
    assert isinstance(out, str)
    return ("ok", typed(parse_ordered(out)))


def _expected_obj(case: Case) -> Obj:
    """``expected`` (key order kept); without options it gets ``pipeline: [{"$match": filter}]``
    appended, as the API always returns a pipeline."""
    expected = parse_ordered(case.raw["expected"])
    assert isinstance(expected, Obj)
    if not any(key == "pipeline" for key, _ in expected):
        filter_ = dict(expected)["filter"]
        expected = Obj((*expected, ("pipeline", [Obj((("$match", filter_),))])))
    return expected


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compile_json(case: Case) -> None:
    spec_text, options_text, settings = case.spec_text, case.options_text, case.settings

    # json.dumps of the parsed values is an equivalent way in: same outcome, checked per case.
    spec = case.data["spec"]
    dumped_spec = spec if isinstance(spec, str) else json.dumps(spec)
    dumped_options = None if options_text is None else json.dumps(case.data["options"])
    assert _json_outcome(dumped_spec, dumped_options, settings) == _json_outcome(
        spec_text, options_text, settings
    )

    if "error" in case.data:
        expected_error = case.data["error"]
        assert _error_of(lambda: compile_json(spec_text, options_text, **settings)) == expected_error
        errors = validate(spec_text, options_text, **settings)
        assert errors, "validate found no error"
        assert {"code": errors[0]["code"], "path": errors[0]["path"]} == expected_error
        assert isinstance(errors[0]["message"], str) and errors[0]["message"]
        return

    out = compile_json(spec_text, options_text, **settings)
    assert typed(parse_ordered(out)) == typed(_expected_obj(case))
    assert validate(spec_text, options_text, **settings) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compile(case: Case) -> None:
    spec = case.data["spec"]  # a JSON string stays JSON text: compile() accepts text too
    options = case.data.get("options")
    settings = case.settings

    if "error" in case.data:
        expected_error = case.data["error"]
        assert _error_of(lambda: compile(spec, options, **settings)) == expected_error
        errors = validate(spec, options, **settings)
        assert errors, "validate found no error"
        assert {"code": errors[0]["code"], "path": errors[0]["path"]} == expected_error
        return

    query = compile(spec, options, **settings)
    assert type(query) is CompiledQuery
    expected = to_python(_expected_obj(case))
    # skip/limit on the find plan are plain ints (what Collection.find takes), even when the
    # canonical form is $numberLong; inside the pipeline they keep the BSON type (bson.Int64).
    for key in ("skip", "limit"):
        if key in expected:
            expected[key] = int(expected[key])
    result = query.to_dict()
    assert_same(result, expected)

    # The attributes hold the same values; unset parts of the find plan are None.
    for key in ("filter", "sort", "skip", "limit", "projection", "pipeline"):
        if key in expected:
            assert_same(getattr(query, key), expected[key], key)
        else:
            assert getattr(query, key) is None, key
    assert validate(spec, options, **settings) == []


def _outcome(call: Any) -> Any:
    try:
        result = call()
    except SpecError as err:
        return ("error", err.code, err.path)
    return ("ok", result.to_dict() if isinstance(result, CompiledQuery) else result)


def test_compiler_objects() -> None:
    """A prepared compiler gives what the shortcut gives, case by case: one Compiler per
    distinct settings, reused across its cases (the settings error of a refused one is the
    error of every case that uses them)."""
    compilers: dict[str, Any] = {}
    used = 0
    for case in CASES:
        key = json.dumps(case.settings, sort_keys=True)
        if key not in compilers:
            try:
                compilers[key] = Compiler(**case.settings)
            except SpecError as err:
                compilers[key] = err
        compiler = compilers[key]
        spec, options = case.data["spec"], case.data.get("options")
        expected = _outcome(lambda: compile(spec, options, **case.settings))
        if isinstance(compiler, SpecError):
            assert expected == ("error", compiler.code, compiler.path), case.name
            continue
        used += 1
        assert_same(_outcome(lambda: compiler.compile(spec, options)), expected, case.name)
        text = _outcome(lambda: compiler.compile_json(case.spec_text, case.options_text))
        assert text == _outcome(lambda: compile_json(case.spec_text, case.options_text, **case.settings)), case.name
        assert compiler.validate(spec, options) == validate(spec, options, **case.settings), case.name
    assert used >= 350 and len(compilers) > 10
