// Hostile input: every public function, given any odd JS value anywhere in a spec, its options or
// the settings, either compiles or throws a SpecError with a code from the stable list, never
// anything else. A table of odd values is placed at every position of a spec, then random
// combinations are tried with a fixed seed (a property test without extra packages).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { compile, compileJson, validate, SpecError } from '../js/node.mjs';
import { caseFiles } from '../test-support/golden.mjs';

// The stable codes: every code of the compiler has a golden case (the Rust coverage test checks
// both directions), so the corpus lists them all.
const CODES = new Set(caseFiles().map((f) => JSON.parse(readFileSync(f, 'utf8')).error?.code).filter(Boolean));

const boom = () => {
  throw new Error('boom');
};
const throwingGetter = () => Object.defineProperty({}, 'x', { enumerable: true, get: boom });
const trapAll = () =>
  new Proxy({}, { get: boom, ownKeys: boom, getPrototypeOf: boom, getOwnPropertyDescriptor: boom, has: boom });
const revoked = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};
const cyclic = () => {
  const node = { a: 1 };
  node.self = node;
  return node;
};
const cyclicList = () => {
  const items = [1];
  items.push(items);
  return items;
};
const deep = (levels, wrap) => {
  let value = 1;
  for (let i = 0; i < levels; i++) value = wrap(value);
  return value;
};
class Point {
  constructor() {
    this.x = 1;
  }
}
class BadDate extends Date {
  getTime() {
    throw new Error('getTime');
  }
}

const ODD = {
  'lone high surrogate': () => '\ud800',
  'lone low surrogate in text': () => 'a\udfffb',
  'surrogate pair (valid)': () => '\ud83d\ude00',
  'object with lone-surrogate key': () => ({ '\udc00': 1 }),
  Symbol: () => Symbol('s'),
  'object with a Symbol key': () => ({ [Symbol('k')]: 1, a: 1 }),
  BigInt: () => 5n,
  'BigInt 2^64': () => 2n ** 64n,
  'BigInt -2^63-1': () => -(2n ** 63n) - 1n,
  NaN: () => NaN,
  Infinity: () => Infinity,
  '-Infinity': () => -Infinity,
  '-0': () => -0,
  '2^64 as a number': () => 2 ** 64,
  function: () => () => 1,
  'class instance': () => new Point(),
  'cyclic object': cyclic,
  'cyclic list': cyclicList,
  'throwing getter': throwingGetter,
  'Proxy with throwing traps': trapAll,
  'revoked Proxy': revoked,
  'Proxy of a list': () => new Proxy([1, 2], {}),
  'sparse list': () => [1, , 3], // eslint-disable-line no-sparse-arrays
  'new Array(3)': () => new Array(3),
  'object nested 100 000 deep': () => deep(100_000, (v) => ({ x: v })),
  'list nested 100 000 deep': () => deep(100_000, (v) => [v]),
  undefined: () => undefined,
  null: () => null,
  'invalid Date': () => new Date('nope'),
  'Date with throwing getTime': () => new BadDate(0),
  Map: () => new Map([[1, 2]]),
  Set: () => new Set([1]),
  Uint8Array: () => new Uint8Array(2),
  'String object': () => new String('x'), // eslint-disable-line no-new-wrappers
  'object with toJSON that throws': () => ({ toJSON: boom }),
  'null-prototype object': () => Object.assign(Object.create(null), { a: 1 }),
  'object with $where': () => ({ $where: 'sleep(1000)' }),
  'object with __proto__ key': () => JSON.parse('{"__proto__": {"x": 1}}'),
  'very long string': () => 'x'.repeat(200_000),
};

const PLACES = {
  spec: (odd) => [odd, undefined],
  op: (odd) => [{ op: odd, attr: 'a', val: 1 }, undefined],
  attr: (odd) => [{ op: '=', attr: odd, val: 1 }, undefined],
  val: (odd) => [{ op: '=', attr: 'a', val: odd }, undefined],
  'val of in, deep': (odd) => [{ op: 'in', attr: 'a', val: [1, { k: [odd] }] }, undefined],
  'as a key': (odd) => [{ op: '=', attr: 'a', val: typeof odd === 'string' ? { [odd]: 1 } : { k: odd } }, undefined],
  condition: (odd) => [{ op: 'or', conditions: [{ op: '=', attr: 'a', val: 1 }, odd] }, undefined],
  options: (odd) => [{ op: 'is_null', attr: 'a' }, odd],
  'options.limit': (odd) => [{ op: 'is_null', attr: 'a' }, { limit: odd }],
  'options.order_by': (odd) => [{ op: 'is_null', attr: 'a' }, { order_by: [odd] }],
};

function outcome(call, label) {
  try {
    call();
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof SpecError, `${label}: threw ${err?.constructor?.name} ${String(err).slice(0, 200)}`);
    assert.ok(CODES.has(err.code), `${label}: unstable code ${err.code}`);
    assert.ok(Array.isArray(err.path) && err.path.every((s) => typeof s === 'string' || typeof s === 'number'), label);
    return err.code;
  }
}

function everyEntryPoint(spec, options, label) {
  outcome(() => compile(spec, options), `${label} compile`);
  outcome(() => compile(spec, options, { output: 'js' }), `${label} compile js`);
  outcome(() => compileJson(spec, options), `${label} compileJson`);
  const errors = validate(spec, options);
  assert.ok(Array.isArray(errors), `${label} validate`);
  for (const e of errors) assert.ok(CODES.has(e.code), `${label} validate code ${e.code}`);
  let text;
  try {
    text = JSON.stringify(spec);
  } catch {
    return;
  }
  if (typeof text === 'string') outcome(() => compileJson(text), `${label} compileJson(text)`);
}

test('every odd value in every place throws only SpecErrors', () => {
  for (const [name, make] of Object.entries(ODD)) {
    for (const [place, put] of Object.entries(PLACES)) {
      const [spec, options] = put(make());
      everyEntryPoint(spec, options, `${name} @ ${place}`);
    }
  }
});

test('odd settings throw only SpecErrors', () => {
  const leaf = { op: '=', attr: 'a', val: 1 };
  for (const [name, make] of Object.entries(ODD)) {
    const odd = make();
    for (const settings of [odd, { maxDepth: odd }, { allowedFields: odd }, { allowedFields: [odd] }, { output: odd }]) {
      outcome(() => compile(leaf, undefined, settings), `settings ${name} compile`);
      outcome(() => compileJson(JSON.stringify(leaf), undefined, settings), `settings ${name} compileJson`);
      outcome(() => validate(leaf, undefined, settings), `settings ${name} validate`);
    }
  }
});

test('random combinations throw only SpecErrors', () => {
  let seed = 20240611;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = (items) => items[Math.floor(next() * items.length)];
  const names = Object.keys(ODD);
  for (let round = 0; round < 300; round++) {
    const [a, b, c] = [0, 1, 2].map(() => ODD[pick(names)]());
    const spec = {
      op: pick(['and', 'or', 'not', '=', 'in', 'between', 'json_contains', 'IN', a]),
      attr: pick(['a', 'b.c', b]),
      val: pick([c, [c, a], { k: c }]),
    };
    if (next() < 0.5) {
      spec.conditions = [{ op: '=', attr: 'a', val: b }];
      spec.condition = { op: 'is_null', attr: 'a', val: a };
    }
    everyEntryPoint(spec, pick([undefined, { limit: a }, { order_by: [b] }]), `round ${round}`);
  }
});

test('lone surrogates are invalid_value at their path, naming the problem', () => {
  const lone = (call, path) =>
    assert.throws(call, (err) => {
      assert.ok(err instanceof SpecError, String(err));
      assert.deepEqual({ code: err.code, path: err.path }, { code: 'invalid_value', path });
      assert.match(err.message, /not valid Unicode: lone surrogate \\ud[89a-f][0-9a-f]{2}/);
      return true;
    });
  lone(() => compile({ op: '=', attr: 'a', val: '\ud800' }), ['val']);
  lone(() => compile({ op: '=', attr: 'a\udfff', val: 1 }), ['attr']);
  lone(() => compile({ op: '=', attr: 'a', val: { ok: 1, '\udbff': 2 } }), ['val']);
  lone(() => compile({ op: 'is_null', attr: 'a' }, { order_by: ['\ud800'] }), ['options', 'order_by', 0]);
  // JSON text: the escape, and the raw code unit a JS string can hold.
  lone(() => compileJson('{"op":"=","attr":"a","val":"\\ud800"}'), ['val']);
  lone(() => compileJson('{"op":"=","attr":"a","val":["x", "\ud800"]}'), ['val', 1]);
  lone(() => compile('{"op":"=","attr":"a","val":{"\udc00":1}}'), ['val']);
  lone(() => compileJson('{"op":"is_null","attr":"a"}', '{"order_by":["\ud800"]}'), ['options', 'order_by', 0]);
  assert.deepEqual(validate('{"op":"=","attr":"a","val":"\ud800"}').map((e) => [e.code, e.path]), [['invalid_value', ['val']]]);
  assert.deepEqual(compile({ op: '=', attr: 'a', val: '\ud83d\ude00 \ufffd' }).filter, { a: { $eq: '\u{1f600} \ufffd' } });
  assert.throws(() => compileJson('["\ud800" \ud800]'), (err) => err instanceof SpecError);
});
