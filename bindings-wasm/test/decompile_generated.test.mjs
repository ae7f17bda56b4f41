// decompile through the npm package over generated specs (issue 24): for each generated spec s,
// compile(decompile(compile(s))) == compile(s), the filters compared as decompile.test.mjs
// compares them (canonical Extended JSON decoded to typed values, key order significant).
// The generator mirrors spec-compiler/tests/decompile_props.rs: every operator family and its
// aliases, values of every type the compiler produces (Int32, Int64 beyond 2^31 and 2^53,
// doubles from random bits, booleans, strings full of LIKE and regex metacharacters and
// non-ASCII, the Extended JSON wrappers), `value_type` casts, comparisons of two fields, and
// `and`/`or`/`not`/`elem_match` nested three levels deep. CASES cases with fixed seeds (one
// PRNG per case, so a failure names the seed that rebuilds it), each through two paths:
//   objects: compile(spec object, canonical) -> decompile(filter object) -> compile(spec object)
//   text:    compileJson(spec text) -> decompileJson(filter text), or decompile(filter text),
//            -> compileJson(spec text)
// A spec the compiler refuses is skipped and counted; the skipped share must stay small.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { compile, compileJson, decompile, decompileJson, SpecError } from '../js/node.mjs';
import { typedText } from '../test-support/golden.mjs';

const CASES = 500;
const SEED = 0x2024_0024;
const MAX_SKIPPED_SHARE = 0.2;

/** mulberry32: a small seeded PRNG, 32-bit state. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const below = (n) => Math.floor((next() / 2 ** 32) * n);
  return {
    u32: next,
    below,
    range: (lo, hi) => lo + below(hi - lo + 1), // inclusive
    pick: (items) => items[below(items.length)],
    chance: (p) => next() / 2 ** 32 < p,
    unit: () => next() / 2 ** 32,
    /** One of several generators, by weight: [[weight, () => value], ...]. */
    weighted(options) {
      let r = below(options.reduce((sum, [w]) => sum + w, 0));
      for (const [w, make] of options) {
        if (r < w) return make();
        r -= w;
      }
      throw new Error('unreachable');
    },
  };
}

// Values are plain JSON-like data, except two classes that keep what a JS number cannot say.
/** An integer of the Int64 range (BigInt); `big` writes it as a BigInt in the spec object. */
class I64 {
  constructor(value, big) {
    this.value = BigInt.asIntN(64, value);
    this.big = big;
  }
}
/** A double, written in spec text with a fraction or an exponent (so it stays a Double). */
class F64 {
  constructor(value) {
    this.value = value;
  }
}

const FIELDS = ['a', 'status', 'b.c', 'items.0.sku', 'note', 'loc'];
const TEXT_PARTS = [
  'a', 'B', 'é', 'ß', '日本', '😀', '%', '_', '.', '*', '^', '$', '\\', ' ', '(', ')', '[', ']', '{', '}',
  '?', '+', '-', '|', '&', '~', '#', '\t', '\n', 'x.*', '"', '%%', '\\%', '__',
];
const HEX = '0123456789abcdef';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';

function generator(r) {
  const chars = (alphabet, lo, hi) => Array.from({ length: r.range(lo, hi) }, () => r.pick(alphabet)).join('');
  const field = () => r.pick(FIELDS);
  const text = () => Array.from({ length: r.below(8) }, () => r.pick(TEXT_PARTS)).join('');
  const i32 = () => r.u32() | 0;
  const i64 = () => (BigInt(r.u32()) << 32n) | BigInt(r.u32());
  const finiteDouble = () => {
    const view = new DataView(new ArrayBuffer(8));
    for (;;) {
      view.setUint32(0, r.u32());
      view.setUint32(4, r.u32());
      const value = view.getFloat64(0);
      if (Number.isFinite(value)) return value;
    }
  };
  const integer = () =>
    r.weighted([
      [3, () => i32()],
      [2, () => r.range(-1000, 1000)],
      [3, () => new I64(i64(), true)],
      [2, () => new I64(BigInt(r.pick([2 ** 31, -(2 ** 31) - 1, 2 ** 32 + 7, 2 ** 53 - 1, -(2 ** 53) + 1])), r.chance(0.5))],
      [1, () => new I64(BigInt(r.pick(['9007199254740993', '-9223372036854775808', '9223372036854775807'])), true)],
      [1, () => new I64(BigInt(r.range(-5, 5)), true)], // a BigInt within Int32: an Int64
    ]);
  const dateMs = () => r.range(-62_135_596_800, 253_402_300_799) * 1000 + r.below(1000);
  const scalar = () =>
    r.weighted([
      [4, integer],
      [2, () => new F64(finiteDouble())],
      [2, () => new F64(r.pick([1.0, -0.0, 0.5, 1e20, 2.5e-8, 0.1, -3.75, 123456.789, 1e-300, 2 ** 53]))],
      [1, () => r.chance(0.5)],
      [3, text],
      [1, () => ({ $numberLong: String(i32()) })],
      [1, () => ({ $numberLong: String(BigInt.asIntN(64, i64())) })],
      [1, () => ({ $numberDouble: r.pick(['NaN', 'Infinity', '-Infinity']) })],
      [1, () => ({ $numberDecimal: r.pick(['1.50', '-0', '1E+3', '0.001', 'NaN', '123456789012345678901234567890', '-Infinity', '1E-6176']) })],
      [1, () => ({ $date: { $numberLong: String(dateMs()) } })],
      [1, () => ({ $date: new Date(r.range(0, 253_402_300_799) * 1000 + r.below(1000)).toISOString().replace('.000Z', 'Z') })],
      [1, () => ({ $oid: chars(HEX, 24, 24) })],
      [1, () => {
        const hex = chars(HEX, 32, 32);
        return { $uuid: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` };
      }],
      [1, () => ({ $binary: { base64: r.pick(['', 'AQID', '3q2+7w==']), subType: r.pick(['00', '80']) } })],
    ]);
  const key = () => chars(LOWER, 1, 3);
  const object = (value, n) => {
    const obj = {};
    for (let i = 0; i < n; i++) obj[key()] = value();
    return obj;
  };
  /** Any value `=` and `!=` take: scalars, null, lists and plain objects of them. */
  const anyValue = (depth = 3) => {
    const leaf = () => (r.below(5) === 0 ? null : scalar());
    if (depth === 0 || r.chance(0.7)) return leaf();
    return r.chance(0.5)
      ? Array.from({ length: r.below(4) }, () => anyValue(depth - 1))
      : object(() => anyValue(depth - 1), r.below(4));
  };
  /** What json_contains takes: objects of scalars, nested objects and lists of scalars/objects. */
  const contained = (depth = 3) => {
    const leaf = () => (r.below(5) === 0 ? null : scalar());
    if (depth === 0 || r.chance(0.4)) return leaf();
    if (r.chance(0.5)) return object(() => contained(depth - 1), r.below(4));
    return Array.from({ length: r.below(4) }, () =>
      r.chance(0.5) ? scalar() : object(() => contained(depth - 1), r.below(3)),
    );
  };
  const position = () =>
    r.chance(0.5)
      ? [r.range(-180, 180), r.range(-90, 90)]
      : [new F64(r.unit() * 360 - 180), new F64(r.unit() * 180 - 90)];
  const polygon = () => {
    const [x, y, d] = [r.unit() * 10, r.unit() * 10, 0.5 + r.unit() * 4.5];
    const p = (u, v) => [new F64(u), new F64(v)];
    return { type: 'Polygon', coordinates: [[p(x, y), p(x + d, y), p(x + d, y + d), p(x, y)]] };
  };
  const geometry = () =>
    r.weighted([
      [1, () => ({ type: 'Point', coordinates: position() })],
      [1, () => ({ type: 'LineString', coordinates: [position(), position()] })],
      [1, polygon],
    ]);
  const leafOf = (op, val) => ({ op, attr: field(), val });
  const isoDateTime = () =>
    `20${chars('0123456789', 2, 2)}-0${r.range(1, 9)}-1${r.range(0, 9)}T0${r.range(0, 9)}:${r.range(0, 5)}${r.range(0, 9)}:` +
    `${r.range(0, 5)}${r.range(0, 9)}.${chars('0123456789', 1, 6)}Z`;

  const leaf = (ctx) =>
    r.weighted([
      [3, () => leafOf(r.pick(['=', '!=', 'eq', 'ne']), anyValue())],
      [3, () => leafOf(r.pick(['>', '>=', '<', '<=', 'gt', 'gte', 'ge', 'lt', 'lte', 'le']), scalar())],
      [2, () => leafOf(r.pick(['between', 'not_between']), [scalar(), scalar()])],
      [2, () => leafOf(r.pick(['in', 'not_in', 'all']), r.chance(0.8) ? Array.from({ length: r.below(4) }, () => anyValue()) : scalar())],
      [3, () => leafOf(r.pick(['like', 'ilike', 'not_like', 'contains', 'icontains', 'startswith', 'istartswith', 'endswith', 'iendswith']), text())],
      [1, () => leafOf(r.pick(['regex', 'iregex']), r.pick(['^a', 'b+c$', '[xy]z', 'a|b', '^abc$', '\\d{3}', 'x\\.y', '', '^', '(?s)a.b', '^é+$', '(?i)ß', 'a.*b', '^\\$\\d+\\.\\d{2}$']))],
      [2, () => {
        const node = { op: r.pick(['is_null', 'is_not_null', 'is_empty', 'is_not_empty']), attr: field() };
        const val = r.pick([undefined, true, false, null]);
        return val === undefined ? node : { ...node, val };
      }],
      [2, () =>
        r.weighted([
          [2, () => leafOf('json_contains', contained())],
          [1, () => leafOf('json_has_key', chars(LOWER + '0123456789', 1, 3))],
          [1, () => leafOf(r.pick(['json_has_any', 'json_has_all']), Array.from({ length: r.range(1, 3) }, () => chars(LOWER + '0123456789', 1, 3)))],
          [1, () => leafOf('json_path_exists', r.pick(['$', 'a.b.0', '$.a.b[1]', 'x']))],
        ])],
      [1, () =>
        r.weighted([
          [1, () => leafOf(r.pick(['intersects', 'disjoint']), geometry())],
          [1, () => leafOf('within', { $geometry: polygon() })],
          [1, () => leafOf(r.pick(['distance_lt', 'dwithin']), [position(), new F64(r.unit() * 2e7)])],
          [1, () => leafOf('dwithin', { point: { type: 'Point', coordinates: position() }, distance: r.range(0, 99_999) })],
        ])],
      // One text search per spec, never inside elem_match or below not (the compiler refuses those).
      [ctx.textSearch ? 1 : 0, () => {
        ctx.textSearch = false;
        return { op: r.pick(['fts', 'fts_phrase']), attr: 'body', val: chars(LOWER + ' ', 1, 12) };
      }],
      [2, () =>
        r.weighted([
          [1, () => ({ ...leafOf('=', String(BigInt.asIntN(64, i64()))), value_type: 'integer' })],
          [1, () => ({ ...leafOf('>=', isoDateTime()), value_type: 'datetime' })],
          [1, () => ({ ...leafOf('in', [`${chars('0123456789', 1, 5)}.${chars('0123456789', 1, 4)}`]), value_type: 'decimal' })],
          [1, () => ({ ...leafOf('<', `${r.range(0, 999)}${r.pick(['d', 'h', 'm', 's', 'ms', 'w'])}`), value_type: 'interval' })],
          [1, () => ({ ...leafOf('contains', r.range(-32768, 32767)), value_type: 'string' })],
        ])],
    ]);

  const fieldComparison = () => ({
    op: r.pick(['=', '!=', '>', '>=', '<', '<=', 'eq', 'ne', 'gt', 'gte', 'ge', 'lt', 'lte', 'le']),
    attr: field(),
    field: field(),
  });

  /** ctx.inElemMatch / ctx.underNot: where the compiler refuses $expr and $text. */
  const spec = (depth, ctx) => {
    if (depth === 0 || r.chance(0.35)) {
      return !ctx.inElemMatch && r.below(9) === 0 ? fieldComparison() : leaf(ctx);
    }
    const children = (inner) => Array.from({ length: r.range(1, 3) }, () => spec(depth - 1, inner));
    return r.weighted([
      [2, () => ({ op: 'elem_match', attr: field(), conditions: children({ ...ctx, inElemMatch: true, textSearch: false }) })],
      [4, () => ({ op: r.pick(['and', 'or']), conditions: children(ctx) })],
      [1, () => ({ op: 'not', condition: spec(depth - 1, { ...ctx, textSearch: false }) })],
      [1, () => ({ op: 'not', conditions: [spec(depth - 1, { ...ctx, textSearch: false })] })],
    ]);
  };
  return () => spec(3, { inElemMatch: false, textSearch: true });
}

/** The spec as a JS object, as a user would pass it: numbers, BigInts, wrappers. */
function toObject(value) {
  if (value instanceof I64) return value.big || !Number.isSafeInteger(Number(value.value)) ? value.value : Number(value.value);
  if (value instanceof F64) {
    // An integral double as a plain number would be an integer: the wrapper keeps it a Double.
    return Number.isInteger(value.value) || Object.is(value.value, -0) ? { $numberDouble: doubleText(value.value) } : value.value;
  }
  if (Array.isArray(value)) return value.map(toObject);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toObject(v)]));
  }
  return value;
}

/** A double's JSON text with a fraction or an exponent. */
function doubleText(x) {
  const text = Object.is(x, -0) ? '-0' : String(x);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** The spec as JSON text: Int64 digits exactly, doubles as doubles. */
function toText(value) {
  if (value instanceof I64) return String(value.value);
  if (value instanceof F64) return doubleText(value.value);
  if (Array.isArray(value)) return `[${value.map(toText).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${toText(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}


const CANONICAL = { output: 'canonical' };

/** One path: null when the spec is refused, else a failure description or undefined. */
function roundTrip(kind, compileOriginal, decompileFilter, compileAgain) {
  let filter;
  try {
    filter = compileOriginal();
  } catch (err) {
    if (err instanceof SpecError) return { skipped: err.code };
    throw err;
  }
  let spec;
  try {
    spec = decompileFilter(filter);
  } catch (err) {
    return { failure: `${kind}: decompile refused the filter: ${err}\nfilter     ${JSON.stringify(filter)}` };
  }
  const specShown = typeof spec === 'string' ? spec : JSON.stringify(spec, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
  let again;
  try {
    again = compileAgain(spec);
  } catch (err) {
    return { failure: `${kind}: the decompiled spec does not compile: ${err}\ndecompiled ${specShown}\nfilter     ${JSON.stringify(filter)}` };
  }
  if (typedText(again) !== typedText(filter)) {
    return { failure: `${kind}: filters differ\ndecompiled ${specShown}\nfilter     ${JSON.stringify(filter)}\nrecompiled ${JSON.stringify(again)}` };
  }
  return {};
}

/** Every case's spec and, per path, its round-trip result (computed once, read by the tests). */
function runCases() {
  const cases = [];
  for (let index = 0; index < CASES; index++) {
    const seed = (SEED + index) >>> 0;
    const raw = generator(prng(seed))();
    const specObject = toObject(raw);
    const specText = toText(raw);
    // Alternate the text form of the filter: decompileJson (spec text out, compiled by
    // compileJson), decompile of the JSON text (spec object out, compiled by compile).
    const viaJson = index % 2 === 0;
    const results = {
      objects: roundTrip(
        'objects',
        () => compile(specObject, null, CANONICAL).filter,
        (filter) => decompile(filter),
        (spec) => compile(spec, null, CANONICAL).filter,
      ),
      text: roundTrip(
        viaJson ? 'text (decompileJson)' : 'text (decompile of JSON text)',
        () => JSON.parse(compileJson(specText, null, CANONICAL)).filter,
        (filter) => (viaJson ? decompileJson(JSON.stringify(filter)) : decompile(JSON.stringify(filter))),
        (spec) => (viaJson ? JSON.parse(compileJson(spec, null, CANONICAL)).filter : compile(spec, null, CANONICAL).filter),
      ),
      // The spec object decompile returns, stored as JSON text (JSON.stringify) and compiled
      // from that text, as a spec UI or another runtime (Rust, Python) would read it.
      stringified: roundTrip(
        'JSON.stringify(decompile(filter)) -> compileJson',
        () => compile(specObject, null, CANONICAL).filter,
        (filter) => JSON.stringify(decompile(filter)),
        (spec) => JSON.parse(compileJson(spec, null, CANONICAL)).filter,
      ),
    };
    cases.push({ index, seed, specText, results });
  }
  return cases;
}

const CASE_RESULTS = runCases();

function check(t, paths) {
  const failures = [];
  const skipped = {};
  let checked = 0;
  let skips = 0;
  for (const { index, seed, specText, results } of CASE_RESULTS) {
    for (const path of paths) {
      const result = results[path];
      if (result.skipped) {
        skipped[`${path} ${result.skipped}`] = (skipped[`${path} ${result.skipped}`] ?? 0) + 1;
        skips++;
      } else {
        checked++;
        if (result.failure) failures.push(`case ${index} (seed ${seed})\nspec       ${specText}\n${result.failure}`);
      }
    }
  }
  const total = paths.length * CASES;
  t.diagnostic(`${paths.join(' + ')}: ${checked} round trips checked of ${total}, ${skips} skipped (spec refused): ${JSON.stringify(skipped)}, ${failures.length} failed`);
  assert.equal(checked + skips, total);
  assert.ok(checked > 0 && skips / total < MAX_SKIPPED_SHARE, `${skips} of ${total} specs refused by the compiler: ${JSON.stringify(skipped)}`);
  assert.equal(failures.length, 0, `${failures.length} of ${checked} round trips failed (first 5):\n\n${failures.slice(0, 5).join('\n\n')}`);
}

test(`generated specs round trip through decompile: objects and text (${CASES} seeded cases)`, (t) => {
  check(t, ['objects', 'text']);
});

// decompile's documented contract (index.d.ts): values a JS number cannot carry with their BSON
// type come back as wrappers, "a Double with an integral value as { $numberDouble: '1.0' }", so
// the spec object is JSON-faithful: its JSON.stringify text compiles to the same filter.
test(`generated specs round trip through decompile: the spec object as JSON text (${CASES} seeded cases)`, (t) => {
  check(t, ['stringified']);
});
