// Regression tests of issue 22: prototype keys keep their meaning in every output mode, and
// hostile lists (sparse, holey, Proxies claiming huge lengths, getters that change the value
// while it is read) are refused after a counted, bounded number of reads, never by the engine
// running out of memory or time. Every bound is counted (reads through a Proxy), not timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Compiler, compile, compileJson, validate, SpecError } from '../js/node.mjs';

const OUTPUTS = [undefined, { output: 'canonical' }, { output: 'js' }];
const codeOf = (call) => {
  try {
    call();
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
    return { code: err.code, path: err.path };
  }
  assert.fail('expected a SpecError');
};
const own = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
const proto = (text) => JSON.parse(text); // JSON.parse makes "__proto__" an own key

test('an attribute named __proto__ is an own key of the filter in every output mode', () => {
  for (const settings of OUTPUTS) {
    const { filter } = compile({ op: '=', attr: '__proto__', val: 1 }, null, settings);
    assert.ok(own(filter, '__proto__'), `output ${settings?.output}`);
    assert.equal(Object.getPrototypeOf(filter), Object.prototype);
    assert.deepEqual(Object.keys(filter), ['__proto__']);
  }
});

test('an or with a __proto__ condition does not become a match-everything {}', () => {
  const spec = { op: 'or', conditions: [{ op: '=', attr: '__proto__', val: 1 }, { op: '=', attr: 'a', val: 2 }] };
  for (const settings of OUTPUTS) {
    const { filter } = compile(spec, null, settings);
    assert.equal(filter.$or.length, 2);
    for (const clause of filter.$or) assert.equal(Object.keys(clause).length, 1, JSON.stringify(clause));
    assert.ok(own(filter.$or[0], '__proto__'));
  }
});

test('a __proto__ key inside a value and in order_by survives in every output mode', () => {
  const spec = { op: '=', attr: 'doc', val: proto('{"__proto__": {"x": 1}, "k": 2}') };
  for (const settings of OUTPUTS) {
    const { filter, sort } = compile(spec, { order_by: ['__proto__', '-k'] }, settings);
    const value = filter.doc.$eq;
    assert.deepEqual(Object.keys(value), ['__proto__', 'k']);
    assert.ok(own(value, '__proto__'));
    assert.deepEqual(Object.keys(sort), ['__proto__', 'k']);
  }
});

test('the same __proto__ spec as JSON text and as an object compiles the same', () => {
  const text = '{"op": "and", "conditions": [{"op": "=", "attr": "__proto__", "val": {"__proto__": 1}}]}';
  const fromText = compileJson(text);
  const fromObject = JSON.stringify(compile(JSON.parse(text)));
  assert.equal(fromObject, fromText);
  assert.match(fromText, /"__proto__":\{"\$eq":\{"__proto__":1\}\}/);
});

/** A Proxy list claiming `length` items; counts the items read. */
function countingList(length, item = () => 1) {
  const reads = { items: 0 };
  const list = new Proxy([], {
    get(target, key) {
      if (key === 'length') return length;
      if (typeof key === 'string' && /^\d+$/.test(key)) {
        reads.items++;
        return item(Number(key));
      }
      return Reflect.get(target, key);
    },
  });
  return { list, reads };
}

test('a sparse list of length 2^27 is refused before one item is read', () => {
  const list = [];
  list.length = 2 ** 27;
  assert.deepEqual(codeOf(() => compile({ op: 'in', attr: 'a', val: list })), { code: 'list_too_long', path: ['val'] });
});

test('a holey list is refused at its first hole, or at once when it is too long', () => {
  const list = new Array(5_000);
  list[0] = 1;
  assert.deepEqual(codeOf(() => compile({ op: 'in', attr: 'a', val: list })), { code: 'invalid_value', path: ['val', 1] });
  const huge = new Array(2 ** 26);
  huge[0] = 1;
  assert.deepEqual(codeOf(() => compile({ op: 'in', attr: 'a', val: huge })), { code: 'list_too_long', path: ['val'] });
});

test('a Proxy claiming 10 million items is refused with no item read', () => {
  const { list, reads } = countingList(1e7);
  assert.deepEqual(codeOf(() => compile({ op: 'in', attr: 'a', val: list })), { code: 'list_too_long', path: ['val'] });
  assert.equal(reads.items, 0);
  const errors = validate({ op: 'in', attr: 'a', val: list });
  assert.deepEqual(errors.map((e) => e.code), ['list_too_long']);
  assert.equal(reads.items, 0);
});

test('a list at the limit is read once, item by item, and the compiler decides', () => {
  const { list, reads } = countingList(10_001);
  // Longer than max_list_len (10,000) but not than the walk's limit max(max_list_len, max_nodes)
  // with max_nodes raised: the compiler refuses it, after exactly one read per item.
  const compiler = new Compiler({ maxNodes: 20_000 });
  assert.deepEqual(codeOf(() => compiler.compile({ op: 'in', attr: 'a', val: list })), { code: 'list_too_long', path: ['val'] });
  assert.equal(reads.items, 10_001);
  compiler.free();
});

test('nested Proxy lists stop at max_spec_len: at most max_spec_len / 2 values are read', () => {
  const inner = () => countingList(9_000, () => 123456789).list;
  let outerReads = 0;
  const { list } = countingList(9_000, () => {
    outerReads++;
    return inner();
  });
  const maxSpecLen = 1 << 20;
  const compiler = new Compiler({ maxSpecLen });
  assert.deepEqual(codeOf(() => compiler.compile({ op: 'in', attr: 'a', val: list })), { code: 'spec_too_large', path: [] });
  // Each inner list writes 9,000 * 10 bytes: the text passes 1 MiB within a dozen of them.
  assert.ok(outerReads <= 13, `${outerReads} outer items read`);
  compiler.free();
});

test('a getter that swaps in a huge list while the spec is read: what is read is what is checked', () => {
  const { list, reads } = countingList(2 ** 30);
  const spec = { op: 'in', attr: 'a' };
  let val = [1, 2];
  Object.defineProperty(spec, 'attr', {
    enumerable: true,
    get() {
      val = list; // read before val: the walk sees the swapped value and refuses it at once
      return 'a';
    },
  });
  Object.defineProperty(spec, 'val', { enumerable: true, get: () => val });
  assert.deepEqual(codeOf(() => compile(spec)), { code: 'list_too_long', path: ['val'] });
  assert.equal(reads.items, 0);
});

test('a getter that grows its list while the list is read is bounded by the length read first', () => {
  const items = [1, 2, 3];
  const list = new Proxy(items, {
    get(target, key) {
      if (key === '1') for (let i = 0; i < 1000; i++) target.push(i);
      return Reflect.get(target, key);
    },
  });
  const { filter } = compile({ op: 'in', attr: 'a', val: list });
  assert.deepEqual(filter, { a: { $in: [1, 2, 3] } });
});

test('a Compiler refuses settings at construction, and its limits apply to its walks', () => {
  assert.deepEqual(codeOf(() => new Compiler({ maxDepth: 400 })), { code: 'invalid_option', path: ['settings', 'maxDepth'] });
  assert.deepEqual(codeOf(() => new Compiler({ max_depth: 400 })), { code: 'invalid_option', path: ['settings', 'max_depth'] });
  assert.deepEqual(codeOf(() => new Compiler({ output: 'xml' })), { code: 'invalid_option', path: ['settings', 'output'] });
  const small = new Compiler({ maxListLen: 3, maxNodes: 3 });
  const { list, reads } = countingList(4);
  assert.deepEqual(codeOf(() => small.compile({ op: 'in', attr: 'a', val: list })), { code: 'list_too_long', path: ['val'] });
  assert.equal(reads.items, 0);
  small.free();
});

test('__proto__ as a setting or an option is a key like any other: refused by name', () => {
  const settings = JSON.parse('{"__proto__": {"maxNodes": 1}}');
  assert.deepEqual(codeOf(() => new Compiler(settings)), { code: 'invalid_option', path: ['settings', '__proto__'] });
  assert.deepEqual(codeOf(() => compile({ op: '=', attr: 'a', val: 1 }, null, settings)), {
    code: 'invalid_option',
    path: ['settings', '__proto__'],
  });
  const options = JSON.parse('{"__proto__": {"limit": 1}}');
  for (const output of OUTPUTS) {
    const { code, path } = codeOf(() => compile({ op: '=', attr: 'a', val: 1 }, options, output));
    assert.equal(code, 'invalid_option');
    assert.deepEqual(path.slice(0, 2), ['options', '__proto__']);
  }
  // In a value and an order_by of the options it is a field name like any other.
  const { sort } = compile({ op: '=', attr: 'a', val: 1 }, { order_by: ['-__proto__'] }, { output: 'js' });
  assert.deepEqual(Object.entries(sort), [['__proto__', -1]]);
});
