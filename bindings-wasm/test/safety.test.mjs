// Safety settings for specs from untrusted browsers, in the npm package: the same settings
// object and the same typed errors as Rust and Python (the core reads the settings).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { compile, compileJson, validate, SpecError } from '../js/node.mjs';

const refused = (code, path) => (err) => {
  assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
  assert.equal(err.code, code);
  assert.deepEqual(err.path, path);
  return true;
};

const regex = (val) => ({ op: 'regex', attr: 'note', val });
// `leaf` under or → not → and.
const buried = (leaf) => ({
  op: 'or',
  conditions: [
    { op: '=', attr: 'a', val: 1 },
    { op: 'not', condition: { op: 'and', conditions: [{ op: '=', attr: 'b', val: 2 }, leaf] } },
  ],
});
const BURIED = ['conditions', 1, 'condition', 'conditions', 1];

test('catastrophic regex patterns are refused by default, wherever they are', () => {
  for (const pattern of ['(a+)+$', '^(a|aa)+$', '(\\w+\\s?)*$']) {
    assert.throws(() => compile(regex(pattern)), refused('unsafe_regex', ['val']));
    assert.throws(() => compile(buried(regex(pattern))), refused('unsafe_regex', [...BURIED, 'val']));
    assert.throws(() => compileJson(JSON.stringify(regex(pattern))), refused('unsafe_regex', ['val']));
  }
  const lenient = compile(regex('(a+)+$'), null, { regex: { allowBacktracking: true } });
  assert.equal(lenient.filter.note.$regex, '(a+)+$');
  assert.equal(compile(regex('^[a-z0-9._%+-]+@[a-z0-9.-]+$')).filter.note.$options, '');
});

test('regex can be switched off or bounded; strings and specs are bounded', () => {
  assert.throws(() => compile(regex('^a'), null, { regex: { enabled: false } }), refused('regex_not_allowed', ['op']));
  assert.throws(() => compile(regex('^abcdefgh'), null, { regex: { maxLen: 8 } }), refused('regex_too_long', ['val']));
  assert.throws(() => compile({ op: '=', attr: 'a', val: 'x'.repeat(10 * 1024 * 1024) }), refused('string_too_long', ['val']));
  assert.throws(() => compile({ op: '=', attr: 'a', val: 'x'.repeat(17 * 1024 * 1024) }), refused('spec_too_large', []));
  assert.throws(() => compile({ op: 'in', attr: 'a', val: ['ok', 'x'.repeat(17)] }, null, { maxStringLen: 16 }), refused('string_too_long', ['val', 1]));
  assert.throws(() => compile({ op: 'in', attr: 'a', val: [1, 2, 3, 4, 5, 6] }, null, { maxSpecLen: 20 }), refused('spec_too_large', []));
});

test('JSON text longer than maxSpecLen is refused before it is parsed', () => {
  const settings = { maxSpecLen: 40 };
  const longAndBroken = `{"op": "=", "attr": "a", "val": "${'x'.repeat(40)}`; // not even JSON
  assert.throws(() => compileJson(longAndBroken, null, settings), refused('spec_too_large', []));
  assert.throws(() => compile(longAndBroken, null, settings), refused('spec_too_large', []));
  assert.deepEqual(validate(longAndBroken, null, settings).map((e) => [e.code, e.path]), [['spec_too_large', []]]);
  // With a lone surrogate the text goes in as UTF-16 code units: still refused by length.
  assert.throws(() => compileJson(`${longAndBroken}\ud800`, null, settings), refused('spec_too_large', []));
  assert.throws(() => compileJson('{"op": "="', null, settings), refused('invalid_json', []));
});

test('operator lists refuse disallowed operators deep in the tree, and validate reports each', () => {
  const settings = { allowedOperators: ['=', 'and', 'or', 'not'] };
  assert.throws(() => compile(buried({ op: 'like', attr: 'n', val: 'x%' }), null, settings), refused('operator_not_allowed', [...BURIED, 'op']));
  assert.throws(() => compile(regex('^a'), null, { deniedOperators: ['regex'] }), refused('operator_not_allowed', ['op']));
  const errors = validate({ op: 'and', conditions: [{ op: 'like', attr: 'n', val: 'x' }, regex('^a')] }, null, settings);
  assert.deepEqual(errors.map((e) => [e.code, e.path]), [
    ['operator_not_allowed', ['conditions', 0, 'op']],
    ['operator_not_allowed', ['conditions', 1, 'op']],
  ]);
});

test('bad settings are invalid_option at the key the caller used', () => {
  const spec = { op: '=', attr: 'a', val: 1 };
  const at = (settings, path) => assert.throws(() => compile(spec, null, settings), refused('invalid_option', ['settings', ...path]));
  at({ deniedOperators: ['regexp'] }, ['deniedOperators']);
  at({ regex: { maxlen: 3 } }, ['regex', 'maxlen']);
  at({ regex: { maxLen: 'long' } }, ['regex', 'maxLen']);
  at({ maxStringLen: -1 }, ['maxStringLen']);
  at({ maxSpecLen: NaN }, ['maxSpecLen']);
  at({ maxDepth: 46 }, ['maxDepth']);
  const cyclic = {};
  cyclic.self = cyclic;
  assert.throws(() => compile(spec, null, { regex: cyclic }), refused('invalid_option', ['settings']));
});

test('a schema drives the compiler and becomes react-querybuilder fields offering exactly what compiles', async () => {
  const { querybuilderFields, operators } = await import('../js/node.mjs');
  const schema = {
    fields: [
      { name: 'total', type: 'decimal', label: 'Total', path: 'amounts.total' },
      { name: 'status', type: 'string', values: ['placed', 'paid'], operators: ['=', 'in'] },
    ],
  };
  const filter = compile({ op: '>=', attr: 'total', val: '100.50' }, null, { schema, output: 'canonical' }).filter;
  assert.deepEqual(filter, { 'amounts.total': { $gte: { $numberDecimal: '100.50' } } });
  assert.throws(() => compile({ op: 'regex', attr: 'total', val: '1' }, null, { schema }), refused('operator_not_allowed', ['op']));
  assert.throws(() => compile({ op: 'in', attr: 'status', val: ['paid', 'lost'] }, null, { schema }), refused('value_not_allowed', ['val', 1]));
  const fields = querybuilderFields(schema);
  assert.deepEqual(fields.map((f) => [f.name, f.label, f.inputType, f.valueEditorType]), [
    ['total', 'Total', 'number', 'text'],
    ['status', 'status', 'text', 'select'],
  ]);
  assert.deepEqual(fields[1].operators, [{ name: '=', label: '=' }, { name: 'in', label: 'in' }]);
  for (const field of fields) {
    const offered = new Set(field.operators.map((o) => o.name));
    for (const op of operators().filter((o) => o.supported && o.family !== 'logical')) {
      const errors = validate({ op: op.name, attr: field.name, val: 1 }, null, { schema });
      assert.equal(errors.some((e) => e.code === 'operator_not_allowed'), !offered.has(op.name), `${field.name} ${op.name}`);
    }
  }
  assert.throws(() => querybuilderFields({ fields: [{ name: 'a', type: 'decimals' }] }), refused('invalid_option', ['schema', 'fields', 0, 'type']));
});
