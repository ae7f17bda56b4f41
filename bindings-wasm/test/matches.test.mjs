// matches / filter through the npm package: every golden case with `matches` keeps exactly
// those documents of tests/golden/dataset.json (the check of spec-compiler/tests/matches_golden.rs
// through Compiler::filter), one named test per case, text searches refused with needs_server;
// and so does the same spec prepared once (compiler.matcher); then what JS adds: Date and BigInt
// in documents, the objects given coming back, errors with their classes, codes and paths,
// hostile documents, and a Matcher's life (made only by matcher(), freed by free()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { Compiler, filter, matcher, Matcher, matches, MatchError, SpecError } from '../js/node.mjs';
import { caseFiles, goldenRoot } from '../test-support/golden.mjs';

const root = goldenRoot;
// Relaxed Extended JSON without integers beyond 2^53, so JSON.parse keeps every value.
const dataset = JSON.parse(readFileSync(join(root, 'dataset.json'), 'utf8'));

const hasText = (value) =>
  value !== null && typeof value === 'object' && Object.entries(value).some(([key, item]) => key === '$text' || hasText(item));
const ids = (docs) => docs.map((doc) => doc._id).sort();

const compilers = new Map();
const compilerFor = (config = {}) => {
  const key = JSON.stringify(config);
  if (!compilers.has(key)) compilers.set(key, new Compiler(config));
  return compilers.get(key);
};

for (const file of caseFiles(root)) {
  const name = relative(root, file).replace(/\.json$/, '');
  const golden = JSON.parse(readFileSync(file, 'utf8'));
  if (!golden.matches) continue;
  test(`matches/${name}`, () => {
    const compiler = compilerFor(golden.config);
    if (hasText(golden.expected.filter)) {
      const needsServer = (err) => {
        assert.ok(err instanceof MatchError, `expected a MatchError, got ${err}`);
        assert.equal(err.code, 'needs_server');
        return true;
      };
      assert.throws(() => compiler.filter(golden.spec, dataset), needsServer);
      assert.throws(() => compiler.matcher(golden.spec), needsServer, 'refused when prepared');
      return;
    }
    const kept = compiler.filter(golden.spec, dataset);
    assert.deepEqual(ids(kept), golden.matches);
    assert.ok(kept.every((doc) => dataset.includes(doc)), 'the objects given come back');
    const one = dataset.filter((doc) => compiler.matches(golden.spec, doc));
    assert.deepEqual(one, kept, 'matches agrees with filter, document by document');
    const prepared = compiler.matcher(golden.spec);
    try {
      assert.deepEqual(prepared.filter(dataset), kept, 'the prepared matcher keeps the same documents');
      assert.deepEqual(dataset.filter((doc) => prepared.matches(doc)), kept, 'and agrees document by document');
    } finally {
      prepared.free();
    }
  });
}

test('Date and BigInt in documents are BSON Date and Int64', () => {
  const spec = { op: 'and', conditions: [{ op: '<', attr: 'at', val: { $date: '2024-01-02T00:00:00Z' } }, { op: '=', attr: 'n', val: 5 }] };
  assert.equal(matches(spec, { at: new Date('2024-01-01T00:00:00Z'), n: 5n }), true);
  assert.equal(matches(spec, { at: new Date('2024-01-03T00:00:00Z'), n: 5n }), false);
  assert.equal(matches(spec, { at: { $date: { $numberLong: '0' } }, n: { $numberDouble: '5.0' } }), true, 'canonical');
  assert.equal(matches(spec, '{"at": {"$date": "2023-12-31T00:00:00Z"}, "n": {"$numberLong": "5"}}'), true, 'JSON text');
  assert.equal(matches({ op: '=', attr: 'n', val: 2n ** 60n }, { n: 2n ** 60n }), true);
  assert.equal(matches({ op: '>', attr: 'n', val: 1 }, { n: '2' }), false, 'a string is no number');
});

test('filter gives back the very objects, in order, and a Compiler reuses its settings', () => {
  const docs = [{ qty: 1 }, { qty: 3.5 }, { qty: '9' }, { qty: 4 }];
  const kept = filter({ op: '>', attr: 'qty', val: 2 }, docs);
  assert.deepEqual(kept, [docs[1], docs[3]]);
  assert.equal(kept[0], docs[1]);
  const compiler = new Compiler({ allowedFields: ['qty'] });
  assert.deepEqual(compiler.filter({ op: '>', attr: 'qty', val: 2 }, docs), kept);
  assert.deepEqual(compiler.filter({ op: '>', attr: 'qty', val: 2 }, []), []);
  assert.throws(() => compiler.matches({ op: '=', attr: 'secret', val: 1 }, {}), specError('field_not_allowed', ['attr']));
  compiler.free();
});

const specError = (code, path) => (err) => {
  assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
  assert.deepEqual({ code: err.code, path: err.path }, { code, path });
  return true;
};
const matchError = (code, path) => (err) => {
  assert.ok(err instanceof MatchError && !(err instanceof SpecError), `expected a MatchError, got ${err}`);
  assert.equal(err.name, 'MatchError');
  assert.deepEqual({ code: err.code, path: err.path }, { code, path });
  return true;
};

test('errors: the spec, the documents, and what only the server can evaluate', () => {
  const leaf = { op: '=', attr: 'a', val: 1 };
  assert.throws(() => matches({ op: 'betwen', attr: 'a', val: [1, 2] }, {}), specError('unknown_operator', ['op']));
  assert.throws(() => matches({ op: 'fts', attr: 'body', val: 'coffee' }, {}), matchError('needs_server', ['$text']));
  assert.throws(
    () => filter({ op: 'or', conditions: [leaf, { op: 'fts', attr: 'body', val: 'x' }] }, [{ a: 1 }]),
    matchError('needs_server', ['$or', 1, '$text']),
  );
  assert.throws(() => matches(leaf, { a: { $date: 'yesterday' } }), specError('invalid_extended_json', ['document', 'a']));
  assert.throws(() => matches(leaf, '{"a": '), specError('invalid_json', ['document']));
  assert.throws(() => matches(leaf, '[1]'), specError('invalid_value', ['document']));
  assert.throws(() => matches(leaf, null), specError('invalid_value', ['document']));
  assert.throws(() => filter(leaf, { a: 1 }), specError('invalid_value', ['documents']));
  assert.throws(() => filter(leaf, [{ a: 1 }, 5]), specError('invalid_value', ['documents', 1]));
  assert.throws(() => filter(leaf, [{ a: 1 }, { a: { c: () => 1 } }]), specError('invalid_value', ['documents', 1, 'a', 'c']));
  assert.throws(() => filter(leaf, [{ a: 1 }, { a: 2n ** 64n }]), specError('invalid_value', ['documents', 1, 'a']));
});

test('hostile documents throw only SpecErrors, at their path', () => {
  const leaf = { op: '=', attr: 'a', val: 1 };
  const cyclic = { a: 1 };
  cyclic.a = cyclic;
  assert.throws(() => matches(leaf, cyclic), (err) => err instanceof SpecError && err.code === 'too_deep' && err.path[0] === 'document');
  assert.throws(() => filter(leaf, [cyclic]), (err) => err instanceof SpecError && err.code === 'too_deep' && err.path[1] === 0);
  const boom = () => {
    throw new Error('boom');
  };
  assert.throws(() => matches(leaf, Object.defineProperty({}, 'a', { enumerable: true, get: boom })), specError('invalid_value', ['document', 'a']));
  assert.throws(() => filter(leaf, new Proxy([{ a: 1 }], { get: boom })), specError('invalid_value', ['documents', 0]));
  assert.throws(() => filter(leaf, [{ a: 1 }, , { a: 1 }]), specError('invalid_value', ['documents', 1])); // eslint-disable-line no-sparse-arrays
  assert.throws(() => matches(leaf, { a: [1, , 2] }), specError('invalid_value', ['document', 'a', 1])); // eslint-disable-line no-sparse-arrays
  assert.throws(() => matches(leaf, { a: '\ud800' }), specError('invalid_value', ['document', 'a']));
  assert.throws(() => matches(leaf, new Map()), specError('invalid_value', ['document']));
  assert.equal(matches(leaf, new Proxy({ a: 1 }, {})), true, 'a Proxy of a plain object is read once, as an object');
  const proto = JSON.parse('{"__proto__": {"a": 1}, "a": 1}');
  assert.equal(matches({ op: '=', attr: '__proto__.a', val: 1 }, proto), true, '__proto__ is a field like any other');
  assert.equal({}.a, undefined);
});

test('a prepared matcher: compiled once, any number of documents, the objects given back', () => {
  const compiler = new Compiler({ allowedFields: ['qty', 'at'] });
  const spec = { op: 'and', conditions: [{ op: '>', attr: 'qty', val: 2 }, { op: '<', attr: 'at', val: { $date: '2024-01-02T00:00:00Z' } }] };
  const docs = [{ qty: 1, at: new Date(0) }, { qty: 3.5, at: new Date(0) }, { qty: 5n, at: new Date('2025-01-01') }, { qty: 4, at: { $date: '2023-01-01T00:00:00Z' } }];
  const prepared = compiler.matcher(spec);
  assert.ok(prepared instanceof Matcher);
  const kept = prepared.filter(docs);
  assert.deepEqual(kept, [docs[1], docs[3]]);
  assert.equal(kept[0], docs[1]);
  assert.deepEqual(prepared.filter(docs), compiler.filter(spec, docs));
  assert.deepEqual(docs.map((doc) => prepared.matches(doc)), [false, true, false, true]);
  assert.equal(prepared.matches('{"qty": 3, "at": {"$date": {"$numberLong": "0"}}}'), true, 'JSON text');
  assert.deepEqual(prepared.filter([]), []);
  compiler.free();
  assert.equal(prepared.matches(docs[1]), true, 'a matcher outlives its compiler');
  prepared.free();
  assert.throws(() => prepared.matches(docs[1]), 'a freed matcher is not used');
  const viaSettings = matcher({ op: '=', attr: 'a', val: 1 }, { allowedFields: ['a'] });
  assert.equal(viaSettings.matches({ a: 1 }), true);
  assert.equal(matcher(JSON.stringify({ op: '=', attr: 'a', val: 1 })).matches({ a: 2 }), false);
  assert.throws(() => new Matcher(), TypeError, 'only compiler.matcher makes one');
});

test('a prepared matcher: errors of the spec, the filter and the documents', () => {
  assert.throws(() => matcher({ op: 'betwen', attr: 'a', val: [1, 2] }), specError('unknown_operator', ['op']));
  assert.throws(() => matcher({ op: '=', attr: 'secret', val: 1 }, { allowedFields: ['a'] }), specError('field_not_allowed', ['attr']));
  assert.throws(() => matcher({ op: 'fts', attr: 'body', val: 'coffee' }), matchError('needs_server', ['$text']));
  assert.throws(() => matcher(undefined), specError('invalid_node', []));
  const prepared = matcher({ op: '=', attr: 'a', val: 1 });
  assert.throws(() => prepared.matches({ a: { $date: 'yesterday' } }), specError('invalid_extended_json', ['document', 'a']));
  assert.throws(() => prepared.matches({ a: [{ $oid: 'xyz' }] }), specError('invalid_extended_json', ['document', 'a', 0]));
  assert.throws(() => prepared.matches('{"a": '), specError('invalid_json', ['document']));
  assert.throws(() => prepared.matches('{"a": 123456789012345678901234567890}'), specError('invalid_value', ['document', 'a']));
  assert.throws(() => prepared.matches('[1]'), specError('invalid_value', ['document']));
  assert.throws(() => prepared.matches('{"$date": 0}'), specError('invalid_value', ['document']), 'a wrapper is a value, not a document');
  assert.throws(() => prepared.matches(null), specError('invalid_value', ['document']));
  assert.throws(() => prepared.filter({ a: 1 }), specError('invalid_value', ['documents']));
  assert.throws(() => prepared.filter([{ a: 1 }, 5]), specError('invalid_value', ['documents', 1]));
  assert.throws(() => prepared.filter([{ a: 1 }, { a: { c: () => 1 } }]), specError('invalid_value', ['documents', 1, 'a', 'c']));
  assert.throws(() => prepared.filter([{ a: 1 }, { a: 2n ** 64n }]), specError('invalid_value', ['documents', 1, 'a']));
  assert.throws(() => prepared.filter([{ a: 1 }, { a: [{ $numberLong: 'x' }] }]), specError('invalid_extended_json', ['documents', 1, 'a', 0]));
  prepared.free();
});

test('a prepared matcher: hostile documents throw only SpecErrors, at their path', () => {
  const prepared = matcher({ op: '=', attr: 'a', val: 1 });
  const cyclic = { a: 1 };
  cyclic.a = cyclic;
  assert.throws(() => prepared.matches(cyclic), (err) => err instanceof SpecError && err.code === 'too_deep' && err.path[0] === 'document');
  assert.throws(() => prepared.filter([cyclic]), (err) => err instanceof SpecError && err.code === 'too_deep' && err.path[1] === 0);
  const deepText = `{"a": ${'['.repeat(200)}1${']'.repeat(200)}}`;
  assert.throws(() => prepared.matches(deepText), (err) => err.code === 'too_deep' && err.path.length === 128 && err.path[0] === 'document');
  const boom = () => {
    throw new Error('boom');
  };
  assert.throws(() => prepared.matches(Object.defineProperty({}, 'a', { enumerable: true, get: boom })), specError('invalid_value', ['document', 'a']));
  assert.throws(() => prepared.filter(new Proxy([{ a: 1 }], { get: boom })), specError('invalid_value', ['documents', 0]));
  assert.throws(() => prepared.matches({ a: '\ud800' }), specError('invalid_value', ['document', 'a']));
  assert.throws(() => prepared.matches('{"a": "\\ud800"}'), specError('invalid_value', ['document', 'a']), 'an escape in text');
  assert.throws(() => prepared.matches('{"a": "\ud800"}'), specError('invalid_value', ['document', 'a']), 'a lone surrogate in text');
  assert.throws(() => prepared.matches(new Map()), specError('invalid_value', ['document']));
  assert.equal(prepared.matches(JSON.parse('{"__proto__": 1, "a": 1}')), true, '__proto__ is a field like any other');
  prepared.free();
});

test('of a document object, only the top-level fields the filter reads are read', () => {
  const leaf = { op: '=', attr: 'a.b', val: 1 };
  const boom = () => {
    throw new Error('boom');
  };
  const cyclic = { a: { b: 1 } };
  cyclic.self = cyclic;
  const unread = [
    { a: { b: 1 }, f: () => 1 },
    { a: { b: 1 }, n: 2n ** 64n, d: { $date: 'yesterday' } },
    Object.defineProperty({ a: { b: 1 } }, 'g', { enumerable: true, get: boom }),
    cyclic,
  ];
  for (const doc of unread) assert.equal(matches(leaf, doc), true, 'other fields are neither read nor checked');
  assert.deepEqual(filter(leaf, unread), unread);
  assert.equal(matcher(leaf).matches(unread[1]), true);
  // `$` keys are always read (a wrapper is a value, not a document), and so is all of a document
  // when the filter may read any field ($expr), and a document given as JSON text.
  assert.throws(() => matches(leaf, { $date: 0 }), specError('invalid_value', ['document']));
  const both = { op: '=', attr: 'a', field: 'x' };
  assert.throws(() => matches(both, unread[0]), specError('invalid_value', ['document', 'f']));
  assert.throws(() => matches(leaf, '{"a": {"b": 1}, "d": {"$date": "yesterday"}}'), specError('invalid_extended_json', ['document', 'd']));
});
