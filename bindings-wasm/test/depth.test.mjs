// Depth limits through the npm package: maxDepth is capped at what MongoDB accepts, the deepest
// allowed spec compiles, one level more is too_deep at its path, and JSON text or JS objects
// nested far beyond the parser's limit are too_deep with a path, never a crash. (The golden
// cases errors/depth_cap_* and errors/too_deep_* pin the same in every runtime.)
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { compile, compileJson, validate, SpecError } from '../js/node.mjs';

const CAP = 45; // cqrs_mongo_spec::MAX_DEPTH_LIMIT
const JSON_DEPTH = 127; // cqrs_mongo_spec::input::MAX_JSON_DEPTH

const specError = (code, path) => (err) => {
  assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
  assert.equal(err.code, code);
  if (path) assert.deepEqual(err.path, path);
  return true;
};

const nots = (n, leaf) => {
  let spec = leaf;
  for (let i = 0; i < n; i++) spec = { op: 'not', condition: spec };
  return spec;
};
const nested = (levels) => {
  let value = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
};
const levels = (value) =>
  value !== null && typeof value === 'object' ? 1 + Math.max(0, ...Object.values(value).map(levels)) : 0;

test('maxDepth above the cap is invalid_option at settings.maxDepth, wherever settings are taken', () => {
  const leaf = { op: '=', attr: 'a', val: 1 };
  const refused = specError('invalid_option', ['settings', 'maxDepth']);
  assert.throws(() => compile(leaf, null, { maxDepth: CAP + 1 }), refused);
  assert.throws(() => compile(leaf, null, { maxDepth: 400, output: 'js' }), refused);
  assert.throws(() => compileJson(JSON.stringify(leaf), undefined, { maxDepth: 400 }), refused);
  assert.throws(() => validate(leaf, null, { maxDepth: 400 }), refused);
  assert.doesNotThrow(() => compile(leaf, null, { maxDepth: CAP }));
});

test('the deepest spec at the cap compiles to a 100-level filter; one level more is too_deep', () => {
  const settings = { maxDepth: CAP };
  const fits = nots(CAP - 1, { op: '=', attr: 'a', val: nested(10) });
  const { filter } = compile(fits, null, settings);
  assert.equal(levels(filter), 100);
  assert.equal(levels(compile(fits, null, { ...settings, output: 'js' }).filter), 100);
  assert.deepEqual(JSON.parse(compileJson(JSON.stringify(fits), undefined, settings)).filter, filter);
  assert.deepEqual(validate(fits, null, settings), []);

  const deeper = nots(CAP, { op: 'is_null', attr: 'a' });
  const atNode = specError('too_deep', Array(CAP).fill('condition'));
  assert.throws(() => compile(deeper, null, settings), atNode);
  assert.throws(() => compileJson(JSON.stringify(deeper), undefined, settings), atNode);

  const overValue = nots(CAP - 1, { op: '=', attr: 'a', val: nested(11) });
  const atVal = specError('too_deep', [...Array(CAP - 1).fill('condition'), 'val']);
  assert.throws(() => compile(overValue, null, settings), atVal);
  assert.deepEqual(validate(overValue, null, settings).map((e) => [e.code, e.path]), [['too_deep', [...Array(CAP - 1).fill('condition'), 'val']]]);
});

test('100 000 nested nots as JSON text and as an object are too_deep at the same path', () => {
  const n = 100_000;
  const text = '{"op":"not","condition":'.repeat(n) + '{"op":"is_null","attr":"a"}' + '}'.repeat(n);
  const atLimit = specError('too_deep', Array(JSON_DEPTH).fill('condition'));
  assert.throws(() => compileJson(text), atLimit);
  assert.throws(() => compile(text), atLimit);
  assert.throws(() => compile(nots(n, { op: 'is_null', attr: 'a' })), atLimit);
  const [first] = validate(text);
  assert.deepEqual([first.code, first.path], ['too_deep', Array(JSON_DEPTH).fill('condition')]);
});

test('objects and text agree at the nesting limit, cycles included', () => {
  const lists = (k) => {
    let list = [];
    for (let i = 1; i < k; i++) list = [list];
    return list;
  };
  // The spec object and 126 lists: parsed, then refused by the compiler's own value limit.
  const parsed = { op: 'in', attr: 'a', val: lists(JSON_DEPTH - 1) };
  assert.throws(() => compile(parsed), specError('too_deep', ['val', ...Array(100).fill(0)]));
  const tooMany = { op: 'in', attr: 'a', val: lists(JSON_DEPTH) }; // 128 containers
  const path = ['val', ...Array(JSON_DEPTH - 1).fill(0)];
  assert.throws(() => compile(tooMany), specError('too_deep', path));
  assert.throws(() => compileJson(JSON.stringify(tooMany)), specError('too_deep', path));
  const cyclic = { x: 1 };
  cyclic.self = cyclic;
  assert.throws(() => compile({ op: '=', attr: 'a', val: cyclic }), specError('too_deep', ['val', ...Array(JSON_DEPTH - 1).fill('self')]));
  const order = [];
  order.push(order);
  assert.throws(() => compile({ op: 'is_null', attr: 'a' }, { order_by: order }), specError('too_deep', ['options', 'order_by', ...Array(JSON_DEPTH - 1).fill(0)]));
});
