// Integers outside Int64, wherever they are and however they arrive: JSON text (serde_json would
// turn a literal beyond 2^64 into a double), BigInt values, and the JS-number rule. The golden
// cases numbers/above_* and numbers/below_* pin the text forms in every runtime.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { compile, compileJson, validate, SpecError } from '../js/node.mjs';

const specError = (code, path) => (err) => {
  assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
  assert.deepEqual({ code: err.code, path: err.path }, { code, path });
  return true;
};
const BEYOND = '18446744073709551616'; // 2^64

test('an integer literal outside Int64 in JSON text is invalid_value at its exact path', () => {
  const cases = [
    [`{"op":">","attr":"a","val":${BEYOND}}`, ['val']],
    [`{"op":">","attr":"a","val":{"n":{"m":${BEYOND}}}}`, ['val', 'n', 'm']],
    [`{"op":"in","attr":"a","val":[1,-9223372036854775809]}`, ['val', 1]],
    [`{"op":"and","conditions":[{"op":"=","attr":"a","val":1},{"op":"=","attr":"b","val":2},{"op":"=","attr":"c","val":9223372036854775808}]}`, ['conditions', 2, 'val']],
    [`{"op":"=","attr":"a","val":"{\\"n\\": [0, ${BEYOND}]}","value_type":"json"}`, ['val', 'n', 1]],
  ];
  for (const [text, path] of cases) {
    assert.throws(() => compileJson(text), specError('invalid_value', path), text);
    assert.throws(() => compile(text), specError('invalid_value', path), text);
    assert.deepEqual(validate(text).map((e) => [e.code, e.path]), [['invalid_value', path]], text);
  }
  assert.throws(() => compileJson('{"op":"is_null","attr":"a"}', `{"limit":${BEYOND}}`), specError('invalid_value', ['options', 'limit']));
  assert.throws(() => compile({ op: 'is_null', attr: 'a' }, `{"offset":${BEYOND}}`), specError('invalid_value', ['options', 'offset']));
});

test('a fraction or an exponent keeps a large number a Double', () => {
  const out = JSON.parse(compileJson(`{"op":"in","attr":"a","val":[1e20,${BEYOND}.0,9223372036854775807]}`, undefined, { output: 'canonical' }));
  const [exponent, fraction, max] = out.filter.a.$in;
  assert.equal(Number(exponent.$numberDouble), 1e20);
  assert.equal(Number(fraction.$numberDouble), 2 ** 64);
  assert.deepEqual(max, { $numberLong: '9223372036854775807' });
});

test('a BigInt outside Int64 is invalid_value at its exact path; inside it is Int64', () => {
  const beyond = 2n ** 64n;
  const cases = [
    [{ op: '>', attr: 'a', val: beyond }, ['val']],
    [{ op: '>', attr: 'a', val: { n: { m: beyond } } }, ['val', 'n', 'm']],
    [{ op: 'in', attr: 'a', val: [1, -(2n ** 63n) - 1n] }, ['val', 1]],
    [{ op: 'and', conditions: [{ op: '=', attr: 'a', val: 1 }, { op: '=', attr: 'b', val: 2 }, { op: '=', attr: 'c', val: 2n ** 63n }] }, ['conditions', 2, 'val']],
    [{ op: beyond, attr: 'a', val: 1 }, ['op']],
  ];
  for (const [spec, path] of cases) {
    assert.throws(() => compile(spec), specError('invalid_value', path));
    assert.deepEqual(validate(spec).map((e) => [e.code, e.path]), [['invalid_value', path]]);
  }
  assert.throws(() => compile({ op: 'is_null', attr: 'a' }, { limit: beyond }), specError('invalid_value', ['options', 'limit']));
  const val = (v) => compile({ op: '=', attr: 'a', val: v }, null, { output: 'canonical' }).filter.a.$eq;
  assert.deepEqual(val(2n ** 63n - 1n), { $numberLong: '9223372036854775807' });
  assert.deepEqual(val(-(2n ** 63n)), { $numberLong: '-9223372036854775808' });
});

test('JS numbers are doubles: an integral number beyond 2^53 stays the exact Double it is, never an error', () => {
  const val = (v) => compile({ op: '=', attr: 'a', val: v }, null, { output: 'canonical' }).filter.a.$eq;
  for (const number of [2 ** 64, -(2 ** 70), 1e300, 2 ** 53 + 2]) {
    const out = val(number);
    assert.deepEqual(Object.keys(out), ['$numberDouble']);
    assert.equal(Number(out.$numberDouble), number);
  }
  assert.deepEqual(val(2 ** 53 - 1), { $numberLong: String(2 ** 53 - 1) });
});
