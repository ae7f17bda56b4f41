"""``decompile`` through the pip package over generated specs (issue 24; mirrors
bindings-wasm/test/decompile_generated.test.mjs and spec-compiler/tests/decompile_props.rs).

For each generated spec ``s``: ``compile(decompile(compile(s))) == compile(s)``, compared with
exact Python types and dict key order (``assert_same``), or, for text, canonical Extended JSON
decoded to typed values with key order significant (``typed``). The generator covers every
operator family and its aliases, values of every type the compiler produces (Int32, Int64 beyond
2^31 and 2^53, doubles from random bits, booleans, strings full of LIKE and regex metacharacters
and non-ASCII, the Extended JSON wrappers), ``value_type`` casts, comparisons of two fields, and
``and``/``or``/``not``/``elem_match`` nested three levels deep. ``CASES`` cases with fixed seeds
(one ``random.Random`` per case, so a failure names the seed that rebuilds it), each through:

- objects: ``compile(spec dict)`` -> ``decompile(filter dict)`` -> ``compile(spec dict)``;
- text: ``compile_json`` -> ``decompile_json(filter text)`` -> ``compile_json`` (even cases), or
  ``decompile(filter text)`` -> ``compile(spec dict)`` (odd cases);
- stringified: ``json.dumps(decompile(filter dict))`` -> ``compile_json``: the spec dict stored
  as JSON text, as a spec UI or another runtime would read it.

A spec the compiler refuses is skipped and counted; the skipped share must stay small.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from cqrs_mongo_spec import SpecError, compile, compile_json, decompile, decompile_json
from golden_support import assert_same, parse_ordered, typed

CASES = 500
SEED = 0x2024_0024
MAX_SKIPPED_SHARE = 0.2

FIELDS = ["a", "status", "b.c", "items.0.sku", "note", "loc"]
TEXT_PARTS = [
    "a", "B", "é", "ß", "日本", "😀", "%", "_", ".", "*", "^", "$", "\\", " ", "(", ")", "[", "]", "{", "}",
    "?", "+", "-", "|", "&", "~", "#", "\t", "\n", "x.*", '"', "%%", "\\%", "__",
]  # fmt: skip
REGEXES = [
    "^a", "b+c$", "[xy]z", "a|b", "^abc$", "\\d{3}", "x\\.y", "", "^", "(?s)a.b", "^é+$", "(?i)ß", "a.*b",
    "^\\$\\d+\\.\\d{2}$",
]  # fmt: skip
HEX = "0123456789abcdef"
LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclass
class _Context:
    in_elem_match: bool = False
    text_search: bool = True  # one text search per spec, never inside elem_match or below not


class Generator:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    # --- helpers ---------------------------------------------------------------------------

    def weighted(self, options: list[tuple[int, Callable[[], Any]]]) -> Any:
        makers = [make for weight, make in options if weight > 0]
        weights = [weight for weight, _ in options if weight > 0]
        return self.r.choices(makers, weights)[0]()

    def chars(self, alphabet: str, lo: int, hi: int) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(self.r.randint(lo, hi)))

    def field(self) -> str:
        return self.r.choice(FIELDS)

    def text(self) -> str:
        return "".join(self.r.choice(TEXT_PARTS) for _ in range(self.r.randrange(8)))

    def i32(self) -> int:
        return self.r.randint(-(2**31), 2**31 - 1)

    def i64(self) -> int:
        return self.r.randint(-(2**63), 2**63 - 1)

    def finite_double(self) -> float:
        while True:
            value: float = struct.unpack("<d", self.r.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(value):
                return value

    # --- values ----------------------------------------------------------------------------

    def integer(self) -> int:
        return int(
            self.weighted(
                [
                    (3, self.i32),
                    (2, lambda: self.r.randint(-1000, 1000)),
                    (3, self.i64),
                    (2, lambda: self.r.choice([2**31, -(2**31) - 1, 2**32 + 7, 2**53 - 1, -(2**53) + 1, 2**53 + 1])),
                    (1, lambda: self.r.choice([-(2**63), 2**63 - 1])),
                ]
            )
        )

    def date_ms(self) -> int:
        return self.r.randint(-62_135_596_800, 253_402_300_799) * 1000 + self.r.randrange(1000)

    def iso_date(self) -> str:
        when = EPOCH + datetime.timedelta(seconds=self.r.randint(0, 253_402_300_799), milliseconds=self.r.randrange(1000))
        return when.isoformat(timespec="milliseconds").replace("+00:00", "Z").replace(".000Z", "Z")

    def uuid(self) -> str:
        h = self.chars(HEX, 32, 32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def scalar(self) -> Any:
        r = self.r
        return self.weighted(
            [
                (4, self.integer),
                (2, self.finite_double),
                (2, lambda: r.choice([1.0, -0.0, 0.5, 1e20, 2.5e-8, 0.1, -3.75, 123456.789, 1e-300, 2.0**53])),
                (1, lambda: r.random() < 0.5),
                (3, self.text),
                (1, lambda: {"$numberLong": str(self.i32())}),
                (1, lambda: {"$numberLong": str(self.i64())}),
                (1, lambda: {"$numberDouble": r.choice(["NaN", "Infinity", "-Infinity"])}),
                (
                    1,
                    lambda: {
                        "$numberDecimal": r.choice(
                            ["1.50", "-0", "1E+3", "0.001", "NaN", "123456789012345678901234567890", "-Infinity", "1E-6176"]
                        )
                    },
                ),
                (1, lambda: {"$date": {"$numberLong": str(self.date_ms())}}),
                (1, lambda: {"$date": self.iso_date()}),
                (1, lambda: {"$oid": self.chars(HEX, 24, 24)}),
                (1, lambda: {"$uuid": self.uuid()}),
                (1, lambda: {"$binary": {"base64": r.choice(["", "AQID", "3q2+7w=="]), "subType": r.choice(["00", "80"])}}),
            ]
        )

    def key(self) -> str:
        return self.chars(LOWER, 1, 3)

    def obj(self, value: Callable[[], Any], n: int) -> dict[str, Any]:
        return {self.key(): value() for _ in range(n)}

    def any_value(self, depth: int = 3) -> Any:
        """Any value ``=`` and ``!=`` take: scalars, null, lists and plain objects of them."""
        if depth == 0 or self.r.random() < 0.7:
            return None if self.r.randrange(5) == 0 else self.scalar()
        if self.r.random() < 0.5:
            return [self.any_value(depth - 1) for _ in range(self.r.randrange(4))]
        return self.obj(lambda: self.any_value(depth - 1), self.r.randrange(4))

    def contained(self, depth: int = 3) -> Any:
        """What json_contains takes: objects of scalars, nested objects, lists of scalars/objects."""
        if depth == 0 or self.r.random() < 0.4:
            return None if self.r.randrange(5) == 0 else self.scalar()
        if self.r.random() < 0.5:
            return self.obj(lambda: self.contained(depth - 1), self.r.randrange(4))
        return [
            self.scalar() if self.r.random() < 0.5 else self.obj(lambda: self.contained(depth - 1), self.r.randrange(3))
            for _ in range(self.r.randrange(4))
        ]

    def position(self) -> list[Any]:
        if self.r.random() < 0.5:
            return [self.r.randint(-180, 180), self.r.randint(-90, 90)]
        return [self.r.uniform(-180, 180), self.r.uniform(-90, 90)]

    def polygon(self) -> dict[str, Any]:
        x, y, d = self.r.uniform(0, 10), self.r.uniform(0, 10), self.r.uniform(0.5, 5)
        return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y]]]}

    def geometry(self) -> dict[str, Any]:
        return dict(
            self.weighted(
                [
                    (1, lambda: {"type": "Point", "coordinates": self.position()}),
                    (1, lambda: {"type": "LineString", "coordinates": [self.position(), self.position()]}),
                    (1, self.polygon),
                ]
            )
        )

    # --- nodes -----------------------------------------------------------------------------

    def leaf_of(self, op: str, val: Any) -> dict[str, Any]:
        return {"op": op, "attr": self.field(), "val": val}

    def iso_date_time(self) -> str:
        r = self.r
        return (
            f"20{self.chars(DIGITS, 2, 2)}-0{r.randint(1, 9)}-1{r.randint(0, 9)}T0{r.randint(0, 9)}:"
            f"{r.randint(0, 5)}{r.randint(0, 9)}:{r.randint(0, 5)}{r.randint(0, 9)}.{self.chars(DIGITS, 1, 6)}Z"
        )

    def null_op(self) -> dict[str, Any]:
        node = {"op": self.r.choice(["is_null", "is_not_null", "is_empty", "is_not_empty"]), "attr": self.field()}
        choice = self.r.randrange(4)
        return node if choice == 0 else {**node, "val": [True, False, None][choice - 1]}

    def text_search(self, ctx: _Context) -> dict[str, Any]:
        ctx.text_search = False
        return {"op": self.r.choice(["fts", "fts_phrase"]), "attr": "body", "val": self.chars(LOWER + " ", 1, 12)}

    def leaf(self, ctx: _Context) -> dict[str, Any]:
        r = self.r

        def keys() -> str:
            return self.chars(LOWER + DIGITS, 1, 3)

        return dict(
            self.weighted(
                [
                    (3, lambda: self.leaf_of(r.choice(["=", "!=", "eq", "ne"]), self.any_value())),
                    (
                        3,
                        lambda: self.leaf_of(
                            r.choice([">", ">=", "<", "<=", "gt", "gte", "ge", "lt", "lte", "le"]), self.scalar()
                        ),
                    ),
                    (2, lambda: self.leaf_of(r.choice(["between", "not_between"]), [self.scalar(), self.scalar()])),
                    (
                        2,
                        lambda: self.leaf_of(
                            r.choice(["in", "not_in", "all"]),
                            [self.any_value() for _ in range(r.randrange(4))] if r.random() < 0.8 else self.scalar(),
                        ),
                    ),
                    (
                        3,
                        lambda: self.leaf_of(
                            r.choice(
                                ["like", "ilike", "not_like", "contains", "icontains", "startswith", "istartswith",
                                 "endswith", "iendswith"]
                            ),  # fmt: skip
                            self.text(),
                        ),
                    ),
                    (1, lambda: self.leaf_of(r.choice(["regex", "iregex"]), r.choice(REGEXES))),
                    (2, self.null_op),
                    (
                        2,
                        lambda: self.weighted(
                            [
                                (2, lambda: self.leaf_of("json_contains", self.contained())),
                                (1, lambda: self.leaf_of("json_has_key", keys())),
                                (
                                    1,
                                    lambda: self.leaf_of(
                                        r.choice(["json_has_any", "json_has_all"]), [keys() for _ in range(r.randint(1, 3))]
                                    ),
                                ),
                                (1, lambda: self.leaf_of("json_path_exists", r.choice(["$", "a.b.0", "$.a.b[1]", "x"]))),
                            ]
                        ),
                    ),
                    (
                        1,
                        lambda: self.weighted(
                            [
                                (1, lambda: self.leaf_of(r.choice(["intersects", "disjoint"]), self.geometry())),
                                (1, lambda: self.leaf_of("within", {"$geometry": self.polygon()})),
                                (
                                    1,
                                    lambda: self.leaf_of(
                                        r.choice(["distance_lt", "dwithin"]), [self.position(), r.uniform(0, 2e7)]
                                    ),
                                ),
                                (
                                    1,
                                    lambda: self.leaf_of(
                                        "dwithin",
                                        {
                                            "point": {"type": "Point", "coordinates": self.position()},
                                            "distance": r.randint(0, 99_999),
                                        },
                                    ),
                                ),
                            ]
                        ),
                    ),
                    (1 if ctx.text_search else 0, lambda: self.text_search(ctx)),
                    (
                        2,
                        lambda: self.weighted(
                            [
                                (1, lambda: {**self.leaf_of("=", str(self.i64())), "value_type": "integer"}),
                                (1, lambda: {**self.leaf_of(">=", self.iso_date_time()), "value_type": "datetime"}),
                                (
                                    1,
                                    lambda: {
                                        **self.leaf_of("in", [f"{self.chars(DIGITS, 1, 5)}.{self.chars(DIGITS, 1, 4)}"]),
                                        "value_type": "decimal",
                                    },
                                ),
                                (
                                    1,
                                    lambda: {
                                        **self.leaf_of("<", f"{r.randint(0, 999)}{r.choice(['d', 'h', 'm', 's', 'ms', 'w'])}"),
                                        "value_type": "interval",
                                    },
                                ),
                                (
                                    1,
                                    lambda: {**self.leaf_of("contains", r.randint(-32768, 32767)), "value_type": "string"},
                                ),
                            ]
                        ),
                    ),
                ]
            )
        )

    def field_comparison(self) -> dict[str, Any]:
        ops = ["=", "!=", ">", ">=", "<", "<=", "eq", "ne", "gt", "gte", "ge", "lt", "lte", "le"]
        return {"op": self.r.choice(ops), "attr": self.field(), "field": self.field()}

    def spec(self, depth: int = 3, ctx: _Context | None = None) -> dict[str, Any]:
        r = self.r
        ctx = ctx if ctx is not None else _Context()
        if depth == 0 or r.random() < 0.35:
            return self.field_comparison() if not ctx.in_elem_match and r.randrange(9) == 0 else self.leaf(ctx)

        def children(inner: _Context) -> list[dict[str, Any]]:
            return [self.spec(depth - 1, inner) for _ in range(r.randint(1, 3))]

        def below_not() -> dict[str, Any]:
            return self.spec(depth - 1, _Context(ctx.in_elem_match, False))

        return dict(
            self.weighted(
                [
                    (2, lambda: {"op": "elem_match", "attr": self.field(), "conditions": children(_Context(True, False))}),
                    (4, lambda: {"op": r.choice(["and", "or"]), "conditions": children(ctx)}),
                    (1, lambda: {"op": "not", "condition": below_not()}),
                    (1, lambda: {"op": "not", "conditions": [below_not()]}),
                ]
            )
        )


# --- the round trips ---------------------------------------------------------------------


@dataclass
class Outcome:
    skipped: str | None = None
    failure: str | None = None


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)


def _round_trip(
    kind: str,
    compile_original: Callable[[], Any],
    decompile_filter: Callable[[Any], Any],
    compile_again: Callable[[Any], Any],
    same: Callable[[Any, Any], None],
) -> Outcome:
    try:
        filter_ = compile_original()
    except SpecError as err:
        return Outcome(skipped=err.code)
    try:
        spec = decompile_filter(filter_)
    except Exception as err:  # noqa: BLE001 - any error is the failure to report
        return Outcome(failure=f"{kind}: decompile refused the filter: {err!r}\nfilter     {_shown(filter_)}")
    try:
        again = compile_again(spec)
    except Exception as err:  # noqa: BLE001
        return Outcome(
            failure=f"{kind}: the decompiled spec does not compile: {err!r}\n"
            f"decompiled {_shown(spec)}\nfilter     {_shown(filter_)}"
        )
    try:
        same(again, filter_)
    except AssertionError as err:
        return Outcome(
            failure=f"{kind}: filters differ ({err})\ndecompiled {_shown(spec)}\n"
            f"filter     {_shown(filter_)}\nrecompiled {_shown(again)}"
        )
    return Outcome()


def _canonical_filter(spec_json: str) -> str:
    return json.dumps(json.loads(compile_json(spec_json))["filter"], ensure_ascii=False)


def _same_text(actual: str, expected: str) -> None:
    assert typed(parse_ordered(actual)) == typed(parse_ordered(expected))


@dataclass
class Case:
    index: int
    seed: int
    spec_text: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)


def _run_cases() -> list[Case]:
    cases = []
    for index in range(CASES):
        seed = SEED + index
        spec = Generator(seed).spec()
        spec_text = json.dumps(spec, ensure_ascii=False)
        case = Case(index, seed, spec_text)
        case.outcomes["objects"] = _round_trip(
            "objects",
            lambda: compile(spec).filter,
            decompile,
            lambda again: compile(again).filter,
            assert_same,
        )
        if index % 2 == 0:
            case.outcomes["text"] = _round_trip(
                "text (decompile_json)",
                lambda: _canonical_filter(spec_text),
                decompile_json,
                _canonical_filter,
                _same_text,
            )
        else:
            # The filter's text in, a spec dict out, compiled as a dict: compared with the filter
            # compile makes of the same spec as a dict.
            case.outcomes["text"] = _round_trip(
                "text (decompile of JSON text)",
                lambda: _canonical_filter(spec_text),
                decompile,
                lambda again: compile(again).filter,
                lambda again, _: assert_same(again, compile(spec).filter),
            )
        case.outcomes["stringified"] = _round_trip(
            "json.dumps(decompile(filter)) -> compile_json",
            lambda: compile(spec).filter,
            lambda filter_: json.dumps(decompile(filter_)),
            _canonical_filter,
            lambda again, _: _same_text(again, _canonical_filter(spec_text)),
        )
        cases.append(case)
    return cases


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return _run_cases()


@pytest.mark.parametrize("paths", [("objects", "text"), ("stringified",)], ids=["objects+text", "stringified"])
def test_generated_specs_round_trip_through_decompile(cases: list[Case], paths: tuple[str, ...]) -> None:
    failures: list[str] = []
    skipped: dict[str, int] = {}
    checked = 0
    for case in cases:
        for path in paths:
            outcome = case.outcomes[path]
            if outcome.skipped is not None:
                skipped[f"{path} {outcome.skipped}"] = skipped.get(f"{path} {outcome.skipped}", 0) + 1
            else:
                checked += 1
                if outcome.failure is not None:
                    failures.append(f"case {case.index} (seed {case.seed})\nspec       {case.spec_text}\n{outcome.failure}")
    total = len(paths) * CASES
    skips = sum(skipped.values())
    print(f"{'+'.join(paths)}: {checked} round trips checked of {total}, {skips} skipped: {skipped}, {len(failures)} failed")
    assert checked + skips == total
    assert checked > 0 and skips / total < MAX_SKIPPED_SHARE, f"{skips} of {total} specs refused: {skipped}"
    assert not failures, f"{len(failures)} of {checked} round trips failed (first 5):\n\n" + "\n\n".join(failures[:5])
