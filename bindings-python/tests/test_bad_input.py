"""Python values in, typed values out, and everything that must be refused cleanly: wrong types,
non-finite floats, integers beyond Int64, cycles, raising ``to_dict()``, unknown objects,
non-string keys, setting typos, large specs. (test_hostile_input.py throws every kind of odd
object at every entry point.)"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from typing import Any

import bson
import pytest

from cqrs_mongo_spec import SpecError, _native, compile, compile_json, validate
from golden_support import assert_same, parse_ordered, typed

UTC = datetime.timezone.utc
ACTIVE = {"op": "=", "attr": "a", "val": 1}


def leaf(val: Any, op: str = "=", **extra: Any) -> dict[str, Any]:
    return {"op": op, "attr": "a", "val": val, **extra}


def eq_value(val: Any, **extra: Any) -> Any:
    """The value the compiled ``{"a": {"$eq": v}}`` holds."""
    return compile(leaf(val, **extra)).filter["a"]["$eq"]


def json_eq_value(val_json: str) -> Any:
    """The typed canonical value compile_json produces for a ``val`` given as JSON text."""
    out = compile_json('{"op": "=", "attr": "a", "val": %s}' % val_json)
    document = typed(parse_ordered(out))
    filter_ = dict(document[1])["filter"]
    return dict(dict(filter_[1])["a"][1])["$eq"]


def spec_error(call: Any) -> tuple[str, list[str | int]]:
    with pytest.raises(SpecError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError) and str(err)
    return err.code, err.path


# --- wrong types ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [5, 1.5, True, [ACTIVE], None], ids=["int", "float", "bool", "list", "None"])
def test_spec_that_is_not_an_object(spec: Any) -> None:
    assert spec_error(lambda: compile(spec)) == ("invalid_node", [])
    assert [(e["code"], e["path"]) for e in validate(spec)] == [("invalid_node", [])]


@pytest.mark.parametrize("options", [[1], 5, "[1]", True])
def test_options_that_are_not_an_object(options: Any) -> None:
    assert spec_error(lambda: compile(ACTIVE, options)) == ("invalid_option", ["options"])


def test_invalid_json_text() -> None:
    assert spec_error(lambda: compile('{"op": ')) == ("invalid_json", [])
    assert spec_error(lambda: compile(ACTIVE, '{"limit": ')) == ("invalid_json", ["options"])
    assert spec_error(lambda: compile_json("", None)) == ("invalid_json", [])
    assert spec_error(lambda: compile_json(json.dumps(ACTIVE), "nope")) == ("invalid_json", ["options"])


def test_compile_json_takes_text_only() -> None:
    assert spec_error(lambda: compile_json(ACTIVE)) == ("invalid_json", [])  # type: ignore[arg-type]
    assert spec_error(lambda: compile_json(None)) == ("invalid_json", [])  # type: ignore[arg-type]
    options = {"limit": 1}
    assert spec_error(lambda: compile_json(json.dumps(ACTIVE), options)) == ("invalid_json", ["options"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # the private module's settings are the package's own dict
        _native.Compiler([("max_nodes", 1)]).compile(ACTIVE)  # type: ignore[arg-type]


def test_wrong_value_shapes_keep_their_path() -> None:
    spec = {"op": "or", "conditions": [ACTIVE, {"op": ">", "attr": "a", "val": [1]}]}
    assert spec_error(lambda: compile(spec)) == ("invalid_value", ["conditions", 1, "val"])


# --- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats(bad: float) -> None:
    assert spec_error(lambda: compile(leaf(bad))) == ("invalid_value", ["val"])
    assert spec_error(lambda: compile(leaf([1, bad], op="in"))) == ("invalid_value", ["val", 1])
    assert spec_error(lambda: compile(ACTIVE, {"limit": bad})) == ("invalid_value", ["options", "limit"])
    assert [(e["code"], e["path"]) for e in validate(leaf(bad))] == [("invalid_value", ["val"])]


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, 2**64 - 1, 10**30])
def test_integers_beyond_int64(bad: int) -> None:
    assert spec_error(lambda: compile(leaf(bad))) == ("invalid_value", ["val"])
    assert spec_error(lambda: compile({"op": "and", "conditions": [ACTIVE, leaf({"n": [bad]})]})) == (
        "invalid_value",
        ["conditions", 1, "val", "n", 0],
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (0, int),
        (2**31 - 1, int),
        (-(2**31), int),
        (2**31, bson.Int64),
        (-(2**31) - 1, bson.Int64),
        (2**63 - 1, bson.Int64),
        (-(2**63), bson.Int64),
    ],
)
def test_integer_widths(value: int, kind: type) -> None:
    out = eq_value(value)
    assert type(out) is kind and out == value
    tag = "int32" if kind is int else "int64"
    assert json_eq_value(str(value)) == (tag, value)


def test_floats_bools_and_int_subclasses() -> None:
    assert_same(eq_value(1.0), 1.0)
    assert_same(eq_value(-0.0), -0.0)
    assert_same(eq_value(1e300), 1e300)
    assert_same(eq_value(True), True)
    assert_same(eq_value(False), False)

    class Level(enum.IntEnum):
        HIGH = 3

    assert_same(eq_value(Level.HIGH), 3)
    assert_same(eq_value(bson.Int64(5)), bson.Int64(5))  # Int64 stays Int64, even when small
    assert json_eq_value('{"$numberLong": "5"}') == ("int64", 5)


# --- bytes and binaries ---------------------------------------------------------------------


def test_bytes_become_binary_subtype_0() -> None:
    out = eq_value(b"\x00ab\xff")
    assert isinstance(out, bytes) and bytes(out) == b"\x00ab\xff"
    assert type(out) is bson.Binary and out.subtype == 0
    assert json_eq_value('{"$binary": {"base64": "AGFi/w==", "subType": "00"}}') == ("binary", 0, b"\x00ab\xff")
    assert_same(compile(leaf([b"x"], op="in")).filter["a"]["$in"], [bson.Binary(b"x", 0)])


def test_bson_binaries_keep_their_subtype() -> None:
    u = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
    assert_same(eq_value(bson.Binary(b"xyz", 5)), bson.Binary(b"xyz", 5))
    assert_same(eq_value(bson.Binary(u.bytes, 3)), bson.Binary(u.bytes, 3))  # legacy UUID stays binary
    assert_same(eq_value(bson.Binary(u.bytes, 4)), u)  # a subtype-4 UUID comes back as uuid.UUID
    assert_same(eq_value(bson.Binary(b"abc", 4)), bson.Binary(b"abc", 4))  # not 16 bytes: Binary


@pytest.mark.parametrize("bad", [bytearray(b"ab"), memoryview(b"ab")])
def test_other_byte_buffers_are_refused(bad: Any) -> None:
    assert spec_error(lambda: compile(leaf(bad))) == ("invalid_value", ["val"])


# --- cycles and depth -----------------------------------------------------------------------


def test_cyclic_dict() -> None:
    spec: dict[str, Any] = {"op": "=", "attr": "a"}
    spec["val"] = spec
    code, path = spec_error(lambda: compile(spec))
    assert code == "too_deep"
    assert path[:3] == ["val", "val", "val"]
    assert validate(spec)[0]["code"] == "too_deep"


def test_cyclic_list_and_deep_nesting() -> None:
    items: list[Any] = []
    items.append(items)
    code, path = spec_error(lambda: compile(leaf(items, op="in")))
    assert code == "too_deep" and path[:2] == ["val", 0]
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    assert spec_error(lambda: compile(leaf(deep)))[0] == "too_deep"


def test_cyclic_options() -> None:
    order: list[Any] = []
    order.append(order)
    code, path = spec_error(lambda: compile(ACTIVE, {"order_by": order}))
    assert code == "too_deep" and path[:3] == ["options", "order_by", 0]


# --- objects ------------------------------------------------------------------------------


class Boom(Exception):
    pass


class RaisingSpec:
    def to_dict(self) -> dict[str, Any]:
        raise Boom("to_dict failed")


def test_to_dict_exception_becomes_a_spec_error_with_its_cause() -> None:
    for call in (
        lambda: compile(RaisingSpec()),
        lambda: validate(RaisingSpec()),
        lambda: compile(options=type("Options", (), {"specification": RaisingSpec(), "limit": 1})()),
    ):
        with pytest.raises(SpecError, match="to_dict failed") as info:
            call()
        assert (info.value.code, info.value.path) == ("invalid_node", [])
        assert isinstance(info.value.__cause__, Boom)


def test_exception_while_reading_a_value_becomes_a_spec_error_with_its_cause() -> None:
    class BadDecimal(decimal.Decimal):
        def __str__(self) -> str:
            raise Boom("no text")

    with pytest.raises(SpecError, match="no text") as info:
        compile({"op": "and", "conditions": [ACTIVE, leaf([1, BadDecimal("1")], op="in")]})
    assert (info.value.code, info.value.path) == ("invalid_value", ["conditions", 1, "val", 1])
    assert isinstance(info.value.__cause__, Boom)
    errors = validate(leaf(BadDecimal("1")))
    assert [(e["code"], e["path"]) for e in errors] == [("invalid_value", ["val"])]


def test_to_dict_returning_a_non_object() -> None:
    class ListSpec:
        def to_dict(self) -> Any:
            return [ACTIVE]

    assert spec_error(lambda: compile(ListSpec())) == ("invalid_node", [])


class Opaque:
    pass


@pytest.mark.parametrize(
    "bad",
    [{1, 2}, frozenset({"a"}), Opaque(), object(), 1j, datetime.time(10, 30), datetime.timedelta(days=1), range(3)],
    ids=["set", "frozenset", "custom", "object", "complex", "time", "timedelta", "range"],
)
def test_unsupported_objects(bad: Any) -> None:
    assert spec_error(lambda: compile(leaf(bad))) == ("invalid_value", ["val"])
    nested = {"op": "and", "conditions": [ACTIVE, leaf([1, {"k": bad}], op="in")]}
    assert spec_error(lambda: compile(nested)) == ("invalid_value", ["conditions", 1, "val", 1, "k"])
    assert spec_error(lambda: compile(ACTIVE, {"order_by": [bad]})) == ("invalid_value", ["options", "order_by", 0])
    errors = validate(nested)
    assert [(e["code"], e["path"]) for e in errors] == [("invalid_value", ["conditions", 1, "val", 1, "k"])]
    assert type(bad).__name__ in errors[0]["message"]


@pytest.mark.parametrize("key", [1, 1.5, None, ("a",), True, b"a"])
def test_non_string_dict_keys(key: Any) -> None:
    assert spec_error(lambda: compile(leaf({"ok": 1, key: 2}))) == ("invalid_value", ["val"])
    assert spec_error(lambda: compile({**ACTIVE, key: 1})) == ("invalid_value", [])
    assert spec_error(lambda: compile(ACTIVE, {key: 1})) == ("invalid_value", ["options"])


def test_operator_keys_in_python_values() -> None:
    assert spec_error(lambda: compile(leaf({"$gt": 1}))) == ("invalid_value", ["val", "$gt"])
    assert spec_error(lambda: compile(leaf({"a\x00b": 1}))) == ("invalid_value", ["val", "a\x00b"])


# --- settings -------------------------------------------------------------------------------


def test_setting_typos() -> None:
    assert spec_error(lambda: _native.Compiler({"max_node": 3}).compile(ACTIVE)) == (
        "invalid_option",
        ["settings", "max_node"],
    )
    assert spec_error(lambda: _native.Compiler({"allowed_field": ["a"]}).compile_json(json.dumps(ACTIVE))) == (
        "invalid_option",
        ["settings", "allowed_field"],
    )
    assert spec_error(lambda: _native.Compiler({"maxdepth": 3}).validate(ACTIVE)) == (
        "invalid_option",
        ["settings", "maxdepth"],
    )
    # The settings object is the npm package's too: its spelling is accepted.
    assert _native.Compiler({"maxDepth": 3}).validate(ACTIVE) == []
    assert spec_error(lambda: _native.Compiler({"output": "js"}).compile(ACTIVE)) == (
        "invalid_option",
        ["settings", "output"],
    )
    # The public functions take the settings as keywords: a typo is a TypeError there.
    with pytest.raises(TypeError):
        compile(ACTIVE, max_node=3)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"max_nodes": -1}, "max_nodes"),
        ({"max_depth": "3"}, "max_depth"),
        ({"max_list_len": 1.5}, "max_list_len"),
        ({"allowed_fields": "a"}, "allowed_fields"),  # one string is not a list of names
        ({"allowed_fields": ["a", 1]}, "allowed_fields"),
    ],
)
def test_setting_values(settings: dict[str, Any], key: str) -> None:
    assert spec_error(lambda: compile(ACTIVE, **settings)) == ("invalid_option", ["settings", key])
    assert spec_error(lambda: compile_json(json.dumps(ACTIVE), **settings)) == ("invalid_option", ["settings", key])
    # Settings are the caller's configuration, not the spec's: validate raises too.
    assert spec_error(lambda: validate(ACTIVE, **settings)) == ("invalid_option", ["settings", key])


def test_allowed_fields_accepts_any_sequence() -> None:
    for fields in (["a"], ("a",), iter(["a"])):
        assert compile(ACTIVE, allowed_fields=fields).filter == {"a": {"$eq": 1}}  # type: ignore[arg-type]
    assert spec_error(lambda: compile(ACTIVE, allowed_fields=["b"])) == ("field_not_allowed", ["attr"])
    assert spec_error(lambda: compile(ACTIVE, allowed_fields=[])) == ("field_not_allowed", ["attr"])


def test_none_settings_mean_defaults() -> None:
    assert _native.Compiler({"max_nodes": None, "allowed_fields": None}).compile(ACTIVE).filter == {"a": {"$eq": 1}}


# --- large specs ----------------------------------------------------------------------------


def _or_of(n: int) -> dict[str, Any]:
    return {"op": "or", "conditions": [{"op": "=", "attr": f"f{i}", "val": i} for i in range(n)]}


def test_large_or_within_the_default_node_limit() -> None:
    spec = _or_of(900)  # 901 nodes, the default limit is 1000
    query = compile(spec)
    branches = query.filter["$or"]
    assert len(branches) == 900
    assert branches[899] == {"f899": {"$eq": 899}}
    out = json.loads(compile_json(json.dumps(spec)))
    assert len(out["filter"]["$or"]) == 900
    assert out["filter"]["$or"][899] == {"f899": {"$eq": {"$numberInt": "899"}}}
    assert validate(spec) == []


def test_node_limit_and_raising_it() -> None:
    spec = _or_of(1000)  # 1001 nodes
    assert spec_error(lambda: compile(spec)) == ("too_many_nodes", ["conditions", 999])
    assert spec_error(lambda: compile_json(json.dumps(spec))) == ("too_many_nodes", ["conditions", 999])
    big = _or_of(5000)  # large enough to be compiled with the GIL released
    query = compile(big, max_nodes=6000)
    assert len(query.filter["$or"]) == 5000
    assert query.filter["$or"][4999] == {"f4999": {"$eq": 4999}}
    assert compile(json.dumps(big), max_nodes=6000).to_dict() == query.to_dict()
    assert spec_error(lambda: compile(_or_of(3), max_nodes=3)) == ("too_many_nodes", ["conditions", 2])


def test_list_limit() -> None:
    assert len(compile(leaf(list(range(10_000)), op="in")).filter["a"]["$in"]) == 10_000
    assert spec_error(lambda: compile(leaf(list(range(10_001)), op="in"))) == ("list_too_long", ["val"])
    assert len(compile(leaf(list(range(20_000)), op="in"), max_list_len=20_000).filter["a"]["$in"]) == 20_000


# --- typed Python values --------------------------------------------------------------------


def test_naive_datetime_is_utc() -> None:
    out = eq_value(datetime.datetime(2024, 3, 1, 10, 0, 0, 123456))
    assert_same(out, datetime.datetime(2024, 3, 1, 10, 0, 0, 123000, tzinfo=UTC))  # milliseconds
    assert out.tzinfo is UTC
    assert json_eq_value('{"$date": "2024-03-01T10:00:00.123Z"}') == ("date", 1709287200123)


def test_aware_datetime_is_converted_to_utc() -> None:
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    out = eq_value(datetime.datetime(2024, 3, 1, 12, 0, tzinfo=plus2))
    assert_same(out, datetime.datetime(2024, 3, 1, 10, 0, tzinfo=UTC))
    minus330 = datetime.timezone(-datetime.timedelta(hours=3, minutes=30))
    out = eq_value(datetime.datetime(2023, 12, 31, 22, 0, tzinfo=minus330))
    assert_same(out, datetime.datetime(2024, 1, 1, 1, 30, tzinfo=UTC))


def test_date_is_midnight_utc() -> None:
    assert_same(eq_value(datetime.date(2024, 1, 1)), datetime.datetime(2024, 1, 1, tzinfo=UTC))
    assert json_eq_value('{"$date": "2024-01-01"}') == ("date", 1704067200000)


def test_datetime_with_value_type_date() -> None:
    minus2 = datetime.timezone(datetime.timedelta(hours=-2))
    out = eq_value(datetime.datetime(2024, 3, 1, 23, 30, tzinfo=minus2), value_type="date")
    assert_same(out, datetime.datetime(2024, 3, 2, tzinfo=UTC))  # 01:30 UTC on 2 March


def test_extreme_datetimes() -> None:
    assert_same(
        eq_value(datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)),
        datetime.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    )
    assert_same(eq_value(datetime.datetime(1, 1, 1)), datetime.datetime(1, 1, 1, tzinfo=UTC))
    assert_same(eq_value(datetime.datetime(1969, 12, 31, 23, 59, 59, 999000)),
                datetime.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))  # fmt: skip


def test_uuid() -> None:
    u = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
    assert_same(eq_value(u), u)
    assert_same(compile(leaf([u, str(u)], op="in")).filter["a"]["$in"], [u, str(u)])
    assert json_eq_value('{"$uuid": "123e4567-e89b-12d3-a456-426614174000"}') == ("binary", 4, u.bytes)


def test_decimal() -> None:
    assert_same(eq_value(decimal.Decimal("1.10")), bson.Decimal128("1.10"))  # digits kept exactly
    assert_same(eq_value(decimal.Decimal("-0.000")), bson.Decimal128("-0.000"))
    assert_same(eq_value(decimal.Decimal("1E+10")), bson.Decimal128("1E+10"))
    assert_same(eq_value(decimal.Decimal("-Infinity")), bson.Decimal128("-Infinity"))
    assert str(eq_value(decimal.Decimal("NaN"))) == "NaN"
    assert json_eq_value('{"$numberDecimal": "1.10"}') == ("decimal", "1.10")
    # Beyond Decimal128 (34 digits, exponent range): refused, never rounded.
    assert spec_error(lambda: compile(leaf(decimal.Decimal("1." + "1" * 40))))[1] == ["val"]
    assert spec_error(lambda: compile(leaf(decimal.Decimal("1E+7000"))))[1] == ["val"]


def test_bson_types() -> None:
    oid = bson.ObjectId("65e1a2b3c4d5e6f708091a2b")
    assert_same(eq_value(oid), oid)
    assert json_eq_value('{"$oid": "65e1a2b3c4d5e6f708091a2b"}') == ("oid", "65e1a2b3c4d5e6f708091a2b")
    assert_same(eq_value(bson.Decimal128("12.50")), bson.Decimal128("12.50"))
    assert_same(eq_value(bson.Int64(3_000_000_000)), bson.Int64(3_000_000_000))
    assert_same(eq_value(bson.Int64(-1)), bson.Int64(-1))


def test_typed_values_with_value_type_casts() -> None:
    assert_same(eq_value(bson.Decimal128("2.5"), value_type="decimal"), bson.Decimal128("2.5"))
    assert_same(eq_value(decimal.Decimal("7.50"), value_type="string"), "7.50")  # its exact digits
    assert_same(eq_value("42", value_type="int"), 42)
    assert_same(eq_value("3000000000", value_type="int"), bson.Int64(3_000_000_000))
    u = uuid.UUID(int=1)
    assert_same(eq_value(u, value_type="uuid"), u)


def test_containers_and_strings() -> None:
    class Name(str):
        pass

    out = eq_value(Name("x"))
    assert type(out) is str and out == "x"
    assert_same(eq_value((1, "b", None)), [1, "b", None])  # tuples are lists
    assert_same(eq_value({"z": 1, "a": [2.5]}), {"z": 1, "a": [2.5]})
    assert list(eq_value({"z": 1, "a": 2})) == ["z", "a"]  # key order kept
    assert_same(eq_value("é\u2028\U0001f600"), "é\u2028\U0001f600")


def test_dates_beyond_python_datetime_come_back_as_datetime_ms() -> None:
    import bson

    spec = {"op": "=", "attr": "d", "val": {"$date": {"$numberLong": "253402300800000"}}}
    value = compile(spec).filter["d"]["$eq"]
    assert isinstance(value, bson.DatetimeMS)
    assert int(value) == 253402300800000


def test_offsets_with_seconds_are_converted_to_utc() -> None:
    import datetime

    tz = datetime.timezone(datetime.timedelta(hours=5, minutes=30, seconds=10))
    value = compile({"op": "=", "attr": "d", "val": datetime.datetime(2024, 1, 1, tzinfo=tz)}).filter["d"]["$eq"]
    assert value == datetime.datetime(2023, 12, 31, 18, 29, 50, tzinfo=datetime.timezone.utc)
