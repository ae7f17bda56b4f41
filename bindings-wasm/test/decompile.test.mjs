// decompile through the npm package: the round trip over the golden corpus, one named test per
// compiling case (compile(decompile(compile(s))) == compile(s), compared as the golden runner
// compares results: canonical Extended JSON decoded to typed values, key order significant);
// the refusals of spec-compiler/tests/decompile.rs with the same code and path; what only JS has
// (Date, BigInt, numbers a JS number cannot type); and hostile input, which only ever throws a
// DecompileError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

import { compile, compileJson, decompile, decompileJson, DecompileError, SpecError } from '../js/node.mjs';
import { caseFiles, goldenRoot, rawMembers, typedText } from '../test-support/golden.mjs';

const root = goldenRoot;

const same = (actual, expected, message) => assert.equal(typedText(actual), typedText(expected), message);

for (const file of caseFiles(root)) {
  const name = relative(root, file).replace(/\.json$/, '');
  const text = readFileSync(file, 'utf8');
  const golden = JSON.parse(text);
  if (!golden.expected) continue;
  test(`round trip: ${name}`, () => {
    const specText = typeof golden.spec === 'string' ? golden.spec : rawMembers(text).spec;
    const optionsText = rawMembers(text).options;
    const settings = { output: 'canonical', ...golden.config };
    const original = JSON.parse(compileJson(specText, optionsText, settings));
    // With a schema the decompiled spec names stored paths with cast values: it is compiled
    // without the schema, and the filters compared (as spec-compiler/tests/decompile_golden.rs).
    const { schema, ...withoutSchema } = settings;
    const again = schema === undefined
      ? (spec) => compileJson(spec, optionsText, settings)
      : (spec) => JSON.stringify({ filter: JSON.parse(compileJson(spec, undefined, withoutSchema)).filter });
    const expected = schema === undefined ? original : { filter: original.filter };

    // Text: the canonical filter in, the spec's JSON text out, compiled again.
    const specJson = decompileJson(JSON.stringify(original.filter));
    same(JSON.parse(again(specJson)), expected, `decompiled: ${specJson}`);

    // Objects: the filter object in, a spec object out (numbers JS cannot type are wrappers),
    // compiled as JS values.
    const spec = decompile(original.filter);
    const recompiled = schema === undefined
      ? compile(spec, golden.options, settings)
      : { filter: compile(spec, undefined, withoutSchema).filter };
    same(recompiled, expected, `decompiled: ${JSON.stringify(spec)}`);
  });
}

const regex = (pattern, options) => ({ $regularExpression: { pattern, options } });

// The refusals of spec-compiler/tests/decompile.rs (`refusals_name_their_code_and_place`) that
// Extended JSON can write, with the same code and path.
const REFUSALS = [
  [{ $where: 'this.a > 1' }, 'unsupported_filter', ['$where']],
  [{ a: 1, $or: [{ b: 1 }, { $expr: { $add: [1, 2] } }] }, 'unsupported_filter', ['$or', 1, '$expr', '$add']],
  [{ $expr: { $gt: ['$a', 5] } }, 'unsupported_filter', ['$expr', '$gt', 1]],
  [{ $expr: { $gt: ['$$NOW', '$a'] } }, 'unsupported_filter', ['$expr', '$gt', 0]],
  [{ $expr: true }, 'unsupported_filter', ['$expr']],
  [{ scores: { $elemMatch: { $gte: 80 } } }, 'unsupported_filter', ['scores', '$elemMatch']],
  [{ items: { $elemMatch: { $text: { $search: 'x' } } } }, 'invalid_filter', ['items', '$elemMatch', '$text']],
  [{ items: { $elemMatch: 1 } }, 'invalid_filter', ['items', '$elemMatch']],
  [{ $jsonSchema: {} }, 'unsupported_filter', ['$jsonSchema']],
  [{ $foo: 1 }, 'invalid_filter', ['$foo']],
  [{ $gt: 1 }, 'invalid_filter', ['$gt']],
  [{}, 'unsupported_filter', []],
  [{ $and: [{}] }, 'unsupported_filter', ['$and', 0]],
  [{ $and: [] }, 'invalid_filter', ['$and']],
  [{ $or: { a: 1 } }, 'invalid_filter', ['$or']],
  [{ $or: [1] }, 'invalid_filter', ['$or', 0]],
  [{ a: { $in: 5 } }, 'invalid_filter', ['a', '$in']],
  [{ a: { $options: 'i' } }, 'invalid_filter', ['a', '$options']],
  [{ a: { $regex: 'x', $options: 'q' } }, 'invalid_filter', ['a', '$options']],
  [{ a: { $regex: 5 } }, 'invalid_filter', ['a', '$regex']],
  [{ a: { $gt: 1, b: 2 } }, 'invalid_filter', ['a', 'b']],
  [{ a: { $bogus: 1 } }, 'invalid_filter', ['a', '$bogus']],
  [{ a: { $gt: null } }, 'unsupported_filter', ['a', '$gt']],
  [{ a: { $lt: [1] } }, 'unsupported_filter', ['a', '$lt']],
  [{ a: { $size: 2 } }, 'unsupported_filter', ['a', '$size']],
  [{ a: { $type: 'string' } }, 'unsupported_filter', ['a', '$type']],
  [{ a: { $mod: [2, 0] } }, 'unsupported_filter', ['a', '$mod']],
  [{ a: { $near: { $geometry: { type: 'Point', coordinates: [0, 0] } } } }, 'unsupported_filter', ['a', '$near']],
  [{ a: { $geoWithin: { $box: [[0, 0], [1, 1]] } } }, 'unsupported_filter', ['a', '$geoWithin', '$box']],
  [{ a: { $eq: regex('x', '') } }, 'unsupported_filter', ['a', '$eq']],
  [{ a: { $in: [regex('x', '')] } }, 'unsupported_filter', ['a', '$in', 0]],
  [{ a: { $eq: { b: { $c: 1 } } } }, 'unsupported_filter', ['a', '$eq', 'b', '$c']],
  [{ 'a..b': 1 }, 'unsupported_filter', ['a..b']],
  [{ $text: { $search: 'x', $language: 'fr' } }, 'unsupported_filter', ['$text', '$language']],
  [{ a: { $not: 5 } }, 'invalid_filter', ['a', '$not']],
  // extended_json_text_in_either_flavour
  [{ a: { $oid: 'nope' } }, 'invalid_extended_json', ['a']],
  [{ a: { $gt: { $date: 'yesterday' } } }, 'invalid_extended_json', ['a', '$gt']],
  [{ a: { $regularExpression: { pattern: 1 } } }, 'invalid_extended_json', ['a']],
];

const decompileError = (code, path) => (err) => {
  assert.ok(err instanceof DecompileError, `expected a DecompileError, got ${err}`);
  assert.ok(err instanceof Error && !(err instanceof SpecError));
  assert.equal(err.name, 'DecompileError');
  assert.deepEqual({ code: err.code, path: err.path }, { code, path });
  return true;
};

test('refusals have the code and path Rust gives them, from objects and from text', () => {
  for (const [filter, code, path] of REFUSALS) {
    assert.throws(() => decompile(filter), decompileError(code, path), JSON.stringify(filter));
    assert.throws(() => decompileJson(JSON.stringify(filter)), decompileError(code, path), JSON.stringify(filter));
  }
});

test('the message names the place in the filter as Rust writes it', () => {
  assert.throws(() => decompile({ $or: [{ a: 1 }, { $where: 'x' }] }), (err) => {
    assert.match(err.message, /^at <filter>\.\$or\[1\]\.\$where: \$where has no specification form$/);
    return true;
  });
  assert.throws(() => decompile({ 'items.sku': { $gt: () => 1 } }), (err) => {
    assert.equal(err.message, 'at <filter>["items.sku"].$gt: a function is not a JSON value');
    return decompileError('invalid_filter', ['items.sku', '$gt'])(err);
  });
});

test('text errors: not JSON, not text, integers beyond Int64, nesting', () => {
  assert.throws(() => decompileJson('{"a": '), decompileError('invalid_json', []));
  assert.throws(() => decompileJson({ a: 1 }), decompileError('invalid_json', []));
  assert.throws(() => decompileJson('[1]'), decompileError('invalid_filter', []));
  assert.throws(() => decompileJson('{"a": {"$in": [18446744073709551616]}}'), decompileError('invalid_filter', ['a', '$in', 0]));
  const deep = `{"a": ${'['.repeat(200)}1${']'.repeat(200)}}`;
  assert.throws(() => decompileJson(deep), (err) => err instanceof DecompileError && err.code === 'too_deep');
  // Past the parser's 127 levels the walker refuses a filter object where the parser refuses
  // its text; below them, the decompiler stops at MongoDB's 100 levels.
  const nested = (levels) => {
    let filter = { a: 1 };
    for (let i = 0; i < levels; i++) filter = { $and: [filter] };
    return filter;
  };
  for (const [levels, depth] of [[55, 100], [300, 127]]) {
    const filter = nested(levels);
    for (const call of [() => decompile(filter), () => decompileJson(JSON.stringify(filter))]) {
      assert.throws(call, (err) => {
        assert.equal(err.code, 'too_deep');
        assert.equal(err.path.length, depth);
        return true;
      });
    }
  }
});

test('hand-written filters, relaxed and canonical', () => {
  assert.deepEqual(decompile({ status: 'paid', qty: { $gt: 1, $lt: 5 } }), {
    op: 'and',
    conditions: [
      { op: '=', attr: 'status', val: 'paid' },
      { op: '>', attr: 'qty', val: 1 },
      { op: '<', attr: 'qty', val: 5 },
    ],
  });
  const expected = {
    op: 'and',
    conditions: [
      { op: '>=', attr: 'at', val: { $date: '2024-05-01T10:00:00Z' } },
      { op: 'in', attr: 'n', val: [1, 3000000000, 1.5] },
    ],
  };
  assert.deepEqual(decompile({ at: { $gte: { $date: '2024-05-01T10:00:00Z' } }, n: { $in: [1, 3000000000, 1.5] } }), expected);
  const canonical = {
    at: { $gte: { $date: { $numberLong: '1714557600000' } } },
    n: { $in: [{ $numberInt: '1' }, { $numberLong: '3000000000' }, { $numberDouble: '1.5' }] },
  };
  assert.deepEqual(decompile(canonical), expected);
  assert.deepEqual(decompile(JSON.stringify(canonical)), expected, 'decompile takes JSON text too');
  assert.deepEqual(decompile({ name: regex('^ab', 'i') }), { op: 'istartswith', attr: 'name', val: 'ab' });
});

test('Date and BigInt are read as compile reads them', () => {
  const when = new Date('2024-03-01T10:00:00Z');
  assert.deepEqual(decompile({ at: { $lt: when } }), { op: '<', attr: 'at', val: { $date: '2024-03-01T10:00:00Z' } });
  assert.deepEqual(decompile({ n: 5n }), { op: '=', attr: 'n', val: { $numberLong: '5' } });
  assert.deepEqual(decompile({ n: 2n ** 60n }), { op: '=', attr: 'n', val: { $numberLong: String(2n ** 60n) } });
  assert.throws(() => decompile({ n: 2n ** 64n }), decompileError('invalid_filter', ['n']));
  assert.throws(() => decompile({ at: new Date('nope') }), decompileError('invalid_filter', ['at']));
});

test('numbers a JS number cannot type come back as wrappers, and compile to the same filter', () => {
  const canonical = {
    d: { $numberDouble: '1.0' },
    z: { $numberDouble: '-0.0' },
    big: { $numberLong: '9007199254740993' },
    small: { $numberLong: '7' },
    i: { $numberInt: '7' },
    f: { $numberDouble: '0.5' },
  };
  const spec = decompile(canonical);
  assert.deepEqual(spec.conditions.map((c) => c.val), [
    { $numberDouble: '1.0' },
    { $numberDouble: '-0.0' },
    { $numberLong: '9007199254740993' },
    { $numberLong: '7' },
    7,
    0.5,
  ]);
  assert.deepEqual(compile(spec, null, { output: 'canonical' }).filter, {
    $and: Object.entries(canonical).map(([attr, val]) => ({ [attr]: { $eq: val } })),
  });
  // The text keeps the numbers as Rust writes them.
  assert.equal(decompileJson('{"d": {"$numberDouble": "1.0"}}'), '{"op":"=","attr":"d","val":1.0}');
});

// Hostile input: anything at any place of a filter gives a spec or a DecompileError with one of
// the decompiler's codes, never another exception.
const CODES = new Set(['invalid_json', 'invalid_extended_json', 'invalid_filter', 'unsupported_filter', 'too_deep']);
const boom = () => {
  throw new Error('boom');
};
const cyclic = () => {
  const node = { a: 1 };
  node.self = node;
  return node;
};
const ODD = {
  'lone high surrogate': () => '\ud800',
  'object with lone-surrogate key': () => ({ '\udc00': 1 }),
  Symbol: () => Symbol('s'),
  'BigInt 2^64': () => 2n ** 64n,
  'BigInt -2^63-1': () => -(2n ** 63n) - 1n,
  NaN: () => NaN,
  Infinity: () => Infinity,
  '-0': () => -0,
  function: () => () => 1,
  'class instance': () => new (class Point { x = 1; })(),
  'cyclic object': cyclic,
  'throwing getter': () => Object.defineProperty({}, 'x', { enumerable: true, get: boom }),
  'Proxy with throwing traps': () => new Proxy({}, { get: boom, ownKeys: boom, getPrototypeOf: boom }),
  'Proxy of a list': () => new Proxy([1, 2], {}),
  'sparse list': () => [1, , 3], // eslint-disable-line no-sparse-arrays
  'new Array(3)': () => new Array(3),
  'object nested 100 000 deep': () => {
    let v = 1;
    for (let i = 0; i < 100_000; i++) v = { x: v };
    return v;
  },
  undefined: () => undefined,
  null: () => null,
  Map: () => new Map([[1, 2]]),
  Uint8Array: () => new Uint8Array(2),
  RegExp: () => /x/,
  'object with __proto__ key': () => JSON.parse('{"__proto__": {"x": 1}}'),
  'null-prototype object': () => Object.assign(Object.create(null), { a: 1 }),
  'a $ key': () => ({ $where: 'sleep(1000)' }),
};
const PLACES = {
  filter: (odd) => odd,
  'field value': (odd) => ({ a: odd }),
  '$eq value': (odd) => ({ a: { $eq: odd } }),
  '$in item': (odd) => ({ a: { $in: [1, odd] } }),
  '$and item': (odd) => ({ $and: [{ a: 1 }, odd] }),
  'as a key': (odd) => (typeof odd === 'string' ? { [odd]: 1 } : { k: { [String(typeof odd)]: odd } }),
};

test('hostile input throws only DecompileErrors with stable codes', () => {
  for (const [name, make] of Object.entries(ODD)) {
    for (const [place, put] of Object.entries(PLACES)) {
      const label = `${name} @ ${place}`;
      for (const call of [() => decompile(put(make())), () => decompileJson(put(make()))]) {
        try {
          const spec = call();
          assert.ok(typeof spec === 'object' || typeof spec === 'string', label);
        } catch (err) {
          assert.ok(err instanceof DecompileError, `${label}: threw ${err?.constructor?.name} ${String(err).slice(0, 200)}`);
          assert.ok(CODES.has(err.code), `${label}: unstable code ${err.code}`);
          assert.ok(err.path.every((s) => typeof s === 'string' || typeof s === 'number'), label);
        }
      }
    }
  }
});

test('a __proto__ key is a field like any other, and never a prototype', () => {
  const spec = decompile(JSON.parse('{"__proto__": {"$eq": {"__proto__": {"polluted": 1}}}}'));
  assert.equal(spec.attr, '__proto__');
  assert.deepEqual(Object.keys(spec.val), ['__proto__']);
  assert.equal(Object.getPrototypeOf(spec.val), Object.prototype);
  assert.equal({}.polluted, undefined);
});

test('lone surrogates are invalid_filter at their path, from objects and text', () => {
  assert.throws(() => decompile({ a: '\ud800' }), decompileError('invalid_filter', ['a']));
  assert.throws(() => decompile({ a: { '\udc00': 1 } }), decompileError('invalid_filter', ['a']));
  assert.throws(() => decompileJson('{"a": {"$in": ["x", "\ud800"]}}'), decompileError('invalid_filter', ['a', '$in', 1]));
  assert.throws(() => decompileJson('{"a": "\\ud800"}'), decompileError('invalid_filter', ['a']));
  assert.deepEqual(decompile({ a: '\ud83d\ude00 \ufffd' }), { op: '=', attr: 'a', val: '\u{1f600} \ufffd' });
});
