// The JS API beyond the golden cases: inputs only JS has (Date, BigInt), output formats,
// SpecError, validate, operators, settings, and bad input that must never crash or hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { compile, compileJson, validate, operators, SpecError } from '../js/node.mjs';

const specError = (code, path) => (err) => {
  assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
  assert.ok(err instanceof Error);
  assert.equal(err.code, code);
  if (path) assert.deepEqual(err.path, path);
  return true;
};

test('Date and BigInt inputs are typed as BSON Date and Int64', () => {
  const when = new Date('2024-03-01T10:00:00Z');
  const result = compile(
    { op: 'and', conditions: [{ op: '>=', attr: 'created_at', val: when }, { op: '=', attr: 'n', val: 5n }] },
    undefined,
    { output: 'canonical' },
  );
  assert.deepEqual(result.filter.$and[0], { created_at: { $gte: { $date: { $numberLong: String(when.getTime()) } } } });
  assert.deepEqual(result.filter.$and[1], { n: { $eq: { $numberLong: '5' } } });
});

test('JS numbers: integers up to 2^53 are Int32/Int64, unsafe integers and fractions are doubles', () => {
  const val = (v) => compile({ op: '=', attr: 'a', val: v }, null, { output: 'canonical' }).filter.a.$eq;
  assert.deepEqual(val(5), { $numberInt: '5' });
  assert.deepEqual(val(2 ** 40), { $numberLong: String(2 ** 40) });
  assert.deepEqual(Object.keys(val(2 ** 60)), ['$numberDouble']);
  assert.equal(Number(val(2 ** 60).$numberDouble), 2 ** 60);
  assert.deepEqual(val(0.5), { $numberDouble: '0.5' });
  const nested = compile({ op: 'in', attr: 'a', val: [1, 2 ** 63] }, null, { output: 'canonical' }).filter.a.$in;
  assert.equal(Number(nested[1].$numberDouble), 2 ** 63);
});

test('the three output formats', () => {
  const spec = { op: 'and', conditions: [{ op: '=', attr: 'n', val: 9007199254740993n }, { op: '=', attr: 'd', val: { $date: '2024-01-01T00:00:00Z' } }] };
  const relaxed = compile(spec);
  assert.deepEqual(relaxed.filter.$and[1], { d: { $eq: { $date: '2024-01-01T00:00:00Z' } } });
  const canonical = compile(spec, null, { output: 'canonical' });
  assert.deepEqual(canonical.filter.$and[0], { n: { $eq: { $numberLong: '9007199254740993' } } });
  const js = compile(spec, null, { output: 'js' });
  assert.equal(js.filter.$and[0].n.$eq, 9007199254740993n);
  assert.ok(js.filter.$and[1].d.$eq instanceof Date);
  assert.equal(js.filter.$and[1].d.$eq.toISOString(), '2024-01-01T00:00:00.000Z');
});

test('compile and compileJson agree and always return a pipeline', () => {
  const spec = { op: 'in', attr: 'region', val: ['eu', 'us'] };
  const fromObject = compile(spec);
  assert.deepEqual(fromObject, JSON.parse(compileJson(JSON.stringify(spec))));
  assert.deepEqual(fromObject.pipeline, [{ $match: fromObject.filter }]);
  const withOptions = compile(spec, { order_by: ['-created_at'], limit: 10 });
  assert.deepEqual(withOptions.sort, { created_at: -1 });
  assert.equal(withOptions.limit, 10);
  assert.equal(withOptions.pipeline.length, 3);
  assert.deepEqual(compile(JSON.stringify(spec)), fromObject, 'a JSON string spec works in compile too');
});

test('errors are SpecError instances with Rust codes and paths', () => {
  assert.throws(
    () => compile({ op: 'and', conditions: [{ op: '=', attr: 'a', val: 1 }, { op: 'betwen', attr: 'q', val: [1, 2] }] }),
    specError('unknown_operator', ['conditions', 1, 'op']),
  );
  assert.throws(() => compileJson('{"op": '), specError('invalid_json', []));
  assert.throws(() => compile({ op: '=', attr: 'password', val: 1 }, null, { allowedFields: ['status'] }), specError('field_not_allowed', ['attr']));
});

test('validate lists every error', () => {
  const errors = validate({ op: 'and', conditions: [{ op: '=', attr: 'a' }, { op: 'between', attr: 'b', val: 3 }] });
  assert.deepEqual(errors.map((e) => [e.code, e.path]), [['missing_field', ['conditions', 0, 'val']], ['invalid_value', ['conditions', 1, 'val']]]);
  assert.ok(errors.every((e) => typeof e.message === 'string' && e.message.length > 0));
  assert.deepEqual(validate({ op: '=', attr: 'a', val: 1 }), []);
});

test('operators() describes all 49 operators for pickers', () => {
  const ops = operators();
  assert.equal(ops.length, 49);
  const gte = ops.find((o) => o.name === '>=');
  assert.deepEqual(gte, { ...gte, family: 'comparison', value_shape: 'scalar', aliases: ['gte', 'ge'], supported: true });
  assert.equal(ops.filter((o) => !o.supported).length, 7);
});

test('settings are checked, typos included', () => {
  assert.throws(() => compile({ op: '=', attr: 'a', val: 1 }, null, { allowedfields: ['a'] }), specError('invalid_option', ['settings', 'allowedfields']));
  assert.throws(() => compile({ op: '=', attr: 'a', val: 1 }, null, { output: 'xml' }), specError('invalid_option'));
  assert.throws(() => compileJson('{"op":"=","attr":"a","val":1}', undefined, { output: 'js' }), specError('invalid_option', ['settings', 'output']));
  assert.doesNotThrow(() => compile({ op: '=', attr: 'a', val: 1 }, null, { output: undefined }));
});

test('bad input from a browser never crashes or hangs', () => {
  const leaf = (val) => ({ op: '=', attr: 'a', val });
  assert.throws(() => compile(undefined), specError('invalid_node', []));
  assert.throws(() => compile(() => 1), specError('invalid_value', []));
  assert.throws(() => compile(leaf(() => 1)), specError('invalid_value', ['val']));
  assert.throws(() => compile(leaf(Symbol('s'))), specError('invalid_value', ['val']));
  assert.throws(() => compile(leaf(NaN)), specError('invalid_value', ['val']));
  assert.throws(() => compile(leaf(Infinity)), specError('invalid_value', ['val']));
  assert.throws(() => compile(leaf([1, undefined])), specError('invalid_value', ['val', 1]));
  assert.throws(() => compile(leaf(new Map())), specError('invalid_value', ['val']));
  assert.throws(() => compile(leaf(new Date('nope'))), specError('invalid_value', ['val']));
  const cyclic = { op: 'not' };
  cyclic.condition = cyclic;
  assert.throws(() => compile(cyclic), specError('too_deep'));
  const cyclicValue = { x: 1 };
  cyclicValue.self = cyclicValue;
  assert.throws(() => compile(leaf(cyclicValue)), specError('too_deep'));
  assert.throws(() => compile({ op: 'in', attr: 'a', val: new Array(1_000_000).fill(1) }), specError('list_too_long', ['val']));
  let deep = { op: 'is_null', attr: 'a' };
  for (let i = 0; i < 10_000; i++) deep = { op: 'not', condition: deep };
  assert.throws(() => compile(deep), specError('too_deep'));
  const deepText = '{"op":"not","condition":'.repeat(10_000) + '{"op":"is_null","attr":"a"}' + '}'.repeat(10_000);
  assert.throws(() => compileJson(deepText), specError('too_deep'));
  assert.throws(() => compileJson({ op: '=' }), specError('invalid_json'));
  assert.doesNotThrow(() => compile({ op: '=', attr: 'a', val: 1, extra: undefined }), 'undefined properties are skipped like JSON.stringify does');
});
