// Without options, compile() builds the result's pipeline ([{ $match: filter }]) when it is
// first read: it must behave as the plain data property it was (a copy of the filter,
// enumerable, assignable, in JSON and spreads).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Compiler, compile } from '../js/node.mjs';

const spec = { op: 'and', conditions: [{ op: '=', attr: 'a', val: 1 }, { op: 'in', attr: 'b', val: ['x'] }] };

test('the pipeline is a copy of the filter, made on first read and kept', () => {
  for (const settings of [undefined, { output: 'canonical' }]) {
    const result = compile(spec, null, settings);
    assert.deepEqual(Object.keys(result), ['filter', 'pipeline']);
    const { pipeline } = result;
    assert.deepEqual(pipeline, [{ $match: result.filter }]);
    assert.notEqual(pipeline[0].$match, result.filter, 'a copy, not the same object');
    result.filter.a = 2;
    assert.notDeepEqual(result.pipeline[0].$match, result.filter);
    assert.equal(result.pipeline, pipeline, 'read once, then kept');
    assert.equal(Object.getOwnPropertyDescriptor(result, 'pipeline').writable, true);
  }
});

test('the pipeline appears in JSON, spreads and deep equality like any property', () => {
  const result = compile(spec);
  assert.deepEqual(JSON.parse(JSON.stringify(result)).pipeline, [{ $match: { $and: [{ a: { $eq: 1 } }, { b: { $in: ['x'] } }] } }]);
  assert.deepEqual({ ...compile(spec) }, JSON.parse(JSON.stringify(result)));
  assert.deepEqual(compile(spec), new Compiler().compile(JSON.stringify(spec), '{}'));
});

test('assigning the pipeline before reading it replaces it', () => {
  const result = compile(spec);
  result.pipeline = [];
  assert.deepEqual(result.pipeline, []);
  assert.deepEqual(Object.keys(result), ['filter', 'pipeline']);
});
