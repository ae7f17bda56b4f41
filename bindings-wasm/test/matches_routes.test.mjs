// A document object reaches a prepared matcher as BSON bytes written by js/bson.mjs, or, when
// that writer gives up on a value, as the JSON text a document given as text would be: the two
// routes must answer alike. Seeded generated documents (strings with and without ASCII, NUL,
// astral and lone surrogates; every kind of JS number; bigints in and out of 64 bits; Dates
// valid and invalid; nested arrays and objects, holes, `$` keys, wrappers, other classes)
// against generated specs: the answer (or the error's class, code and path) of a document
// object equals that of its JSON text. Bounded: fixed counts, no timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { compile, matcher, SpecError } from '../js/node.mjs';
import { toJsonText } from '../js/api.mjs';
import { bsonDocument } from '../js/bson.mjs';

const SEED = 0x5eed24;
const DOCUMENTS = 150;
const SPECS = 60;

function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const next = random(SEED);
const pick = (items) => items[Math.floor(next() * items.length)];
const chance = (percent) => next() * 100 < percent;

const STRINGS = ['', 'a', 'abc', 'Abc', 'ABC-1', 'smith', 'Goldsmith', 'é', 'Ünïcode', '日本語', '😀 smile', 'A\u0000B', 'urgent!', 'x'.repeat(70)];
const NUMBERS = [0, -0, 1, -1, 2, 2.5, -2.25, 5, 10, 100, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53 - 1, 2 ** 53, 1e21, 1e-7, 0.1];
const RARE = [NaN, Infinity, '\ud800', 'a\udc00b', 2n ** 64n, new Date(NaN), new Map(), () => 1, Symbol('s'), { $date: 0 }, { $numberLong: '5' }, { $oid: 'xyz' }];
const FIELDS = ['a', 'b', 'c', 'd'];

function scalar() {
  const kind = next();
  if (kind < 0.3) return pick(STRINGS);
  if (kind < 0.6) return pick(NUMBERS);
  if (kind < 0.7) return pick([5n, -3n, 2n ** 40n, -(2n ** 63n)]);
  if (kind < 0.8) return chance(50);
  if (kind < 0.88) return null;
  return new Date(pick([0, 1700000000000, -86400000]));
}

function value(depth) {
  if (chance(3)) return pick(RARE);
  if (depth < 3 && chance(15)) {
    const items = Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1));
    if (chance(5)) items.length += 1; // a hole
    return items;
  }
  if (depth < 3 && chance(12)) return object(depth + 1);
  return scalar();
}

function object(depth) {
  const out = chance(3) ? Object.create(null) : {};
  for (const field of FIELDS) {
    if (chance(65)) out[field] = value(depth);
  }
  if (chance(3)) out[pick(['$x', 'k\u0000', 'é', '__proto__'])] = scalar();
  if (chance(3)) out.u = undefined;
  return out;
}

const attr = () => (chance(20) ? `${pick(FIELDS)}.${pick(FIELDS)}` : pick(FIELDS));

function leaf() {
  const op = pick(['=', '!=', '>', '<=', 'in', 'not_in', 'contains', 'ilike', 'startswith', 'between', 'is_null', 'is_not_null', 'field']);
  const val = () => (chance(50) ? pick(STRINGS.slice(0, 8)) : pick([0, 1, 2.5, 5, 100, 2 ** 31]));
  switch (op) {
    case 'in':
    case 'not_in':
      return { op, attr: attr(), val: [val(), val()] };
    case 'contains':
    case 'ilike':
    case 'startswith':
      return { op, attr: attr(), val: pick(['a', 'smith', '%c%', 'é', 'x']) };
    case 'between':
      return { op, attr: attr(), val: [0, pick([2, 10, 1e6])] };
    case 'is_null':
    case 'is_not_null':
      return { op, attr: attr() };
    case 'field':
      return { op: pick(['=', '>', '<']), attr: pick(FIELDS), field: pick(FIELDS) };
    default:
      return { op, attr: attr(), val: val() };
  }
}

function spec(depth = 0) {
  if (depth < 2 && chance(35)) {
    return { op: pick(['and', 'or']), conditions: Array.from({ length: 2 + Math.floor(next() * 2) }, () => spec(depth + 1)) };
  }
  return leaf();
}

/** The top-level fields a compiled filter reads, or undefined when it may read any (`$expr`). */
function keepOf(filter) {
  const keep = new Set();
  const walk = (clause) => {
    for (const [key, value] of Object.entries(clause)) {
      if (key === '$expr') return false;
      if (key === '$and' || key === '$or' || key === '$nor') {
        if (!value.every(walk)) return false;
      } else if (!key.startsWith('$')) keep.add(key.split('.')[0]);
    }
    return true;
  };
  return walk(filter) ? keep : undefined;
}

/** The answer, or what was thrown: its class, code and path. */
function outcome(f) {
  try {
    return { answer: f() };
  } catch (err) {
    return { error: err.constructor.name, code: err.code, path: JSON.stringify(err.path), isSpec: err instanceof SpecError };
  }
}

test('a document object answers as its JSON text does, whichever route it takes', () => {
  const documents = Array.from({ length: DOCUMENTS }, () => object(1));
  let compared = 0;
  let writableSeen = 0;
  for (let s = 0; s < SPECS; s++) {
    const given = spec();
    const prepared = matcher(given);
    // The text holds the top-level fields the filter reads, as the object route does (all of
    // them when it may read any); a document whose text cannot be written is left out.
    const keep = keepOf(compile(given).filter);
    const textOf = new Map();
    for (const doc of documents) {
      const text = outcome(() => toJsonText(doc, ['document'], { maxDepth: 127, keep }));
      if (!text.error) textOf.set(doc, text.answer);
    }
    const writable = [...textOf.keys()];
    writableSeen += writable.length;
    try {
      for (const doc of writable) {
        const fromObject = outcome(() => prepared.matches(doc));
        const fromText = outcome(() => prepared.matches(textOf.get(doc)));
        assert.deepEqual(fromObject, fromText, textOf.get(doc));
        compared++;
      }
      const kept = outcome(() => prepared.filter(writable));
      const keptText = outcome(() => writable.filter((doc) => prepared.matches(textOf.get(doc))));
      // Which failing document a list reports first may differ (the text route reads the whole
      // list before it interprets Extended JSON); that one fails is the same.
      assert.equal(kept.error === undefined, keptText.error === undefined, 'filter fails when a document does');
      assert.deepEqual(kept.answer, keptText.answer, 'filter keeps what matches keeps');
    } finally {
      prepared.free();
    }
  }
  const scratch = new Uint8Array(65536);
  const asBson = documents.filter((doc) => bsonDocument(doc, undefined, 127, scratch) >= 0).length;
  // Both routes are exercised: most documents are written as BSON, some are left to the text.
  assert.ok(compared === writableSeen && compared > (DOCUMENTS * SPECS) / 2, `compared ${compared}`);
  assert.ok(asBson > DOCUMENTS / 2 && DOCUMENTS - asBson > 5, `${asBson} of ${DOCUMENTS} written as BSON`);
});

test('the BSON writer types numbers as the text route reads them', () => {
  // The text route's reader: an integer literal is an Int32 when it fits, else an Int64; a
  // literal with a fraction or an exponent, or `{"$numberDouble"}` (what toJsonText writes for an
  // integer past 2^53), a Double; a bigint is `{"$numberLong"}`.
  const INT32 = 0x10;
  const INT64 = 0x12;
  const DOUBLE = 0x01;
  const cases = [
    [0, INT32], [-0, INT32], [2 ** 31 - 1, INT32], [2 ** 31, INT64], [-(2 ** 31), INT32], [-(2 ** 31) - 1, INT64],
    [2 ** 53 - 1, INT64], [-(2 ** 53) + 1, INT64], [2 ** 53, DOUBLE], [1.5, DOUBLE], [1e21, DOUBLE], [1e-7, DOUBLE],
    [5n, INT64], [-(2n ** 63n), INT64],
  ];
  const bytes = new Uint8Array(64);
  for (const [n, type] of cases) {
    assert.ok(bsonDocument({ a: n }, undefined, 127, bytes) > 0, `${n} is written`);
    assert.equal(bytes[4], type, `${n}`);
    const literal = toJsonText({ a: n }, ['document'], 127).slice('{"a":'.length, -1);
    let expected;
    if (literal.startsWith('{"$numberDouble"')) expected = DOUBLE;
    else if (literal.startsWith('{"$numberLong"')) expected = INT64;
    else if (/[.eE]/.test(literal)) expected = DOUBLE;
    else expected = Number(literal) >= -(2 ** 31) && Number(literal) < 2 ** 31 ? INT32 : INT64;
    assert.equal(type, expected, `${n}: the text ${literal}`);
  }
  for (const given of [NaN, Infinity, 2n ** 63n, '\ud800', new Date(NaN), [1, , 2], { $date: 0 }, { k: { $x: 1 } }, new Map(), { 'a\u0000': 1 }]) { // eslint-disable-line no-sparse-arrays
    assert.equal(bsonDocument({ a: given }, undefined, 127, bytes), -1, `${String(given)} is left to the text route`);
  }
  assert.equal(bsonDocument({ a: 'x'.repeat(100) }, undefined, 127, bytes), -2, 'no room: the caller grows the buffer');
});

test('documents larger than the input buffer grow it, lists of any length are read whole', () => {
  const prepared = matcher({ op: 'and', conditions: [{ op: 'startswith', attr: 'a', val: 'xx' }, { op: '>', attr: 'n', val: 1 }] });
  try {
    const big = { a: 'x'.repeat(200_000), n: 2 };
    assert.equal(prepared.matches(big), true, 'a 200 KB document');
    assert.equal(prepared.matches({ ...big, n: 1 }), false);
    const many = Array.from({ length: 5000 }, (_, i) => ({ a: i % 2 ? 'xx-odd' : 'yy', n: i, pad: 'p'.repeat(40) }));
    const kept = prepared.filter(many);
    assert.equal(kept.length, 2499, 'odd i above 1');
    assert.ok(kept.every((doc) => doc.a === 'xx-odd' && doc.n > 1) && kept[0] === many[3]);
    assert.equal(prepared.matches({ a: 'xx', n: 5 }), true, 'small documents after the buffer grew');
  } finally {
    prepared.free();
  }
});

test('a getter that runs a matcher while its document is being written leaves that document whole', () => {
  const prepared = matcher({ op: 'and', conditions: [{ op: '=', attr: 'a', val: 'outer' }, { op: '>', attr: 'n', val: 5 }] });
  try {
    const inner = [];
    const document = { a: 'outer' };
    Object.defineProperty(document, 'n', {
      enumerable: true,
      get() {
        // Another document matched from inside this one's conversion, and a list filtered.
        inner.push(prepared.matches({ a: 'outer', n: 9, pad: 'x'.repeat(500) }));
        inner.push(prepared.filter([{ a: 'inner', n: 9 }, { a: 'outer', n: 6 }]).length);
        return 7;
      },
    });
    // The inner calls may grow the module's memory, and the outer document is then sent as
    // text, its getter read again: every answer is right whichever way it went.
    const innerRight = () => inner.length >= 2 && inner.every((answer, i) => answer === (i % 2 ? 1 : true));
    assert.equal(prepared.matches(document), true);
    assert.ok(innerRight(), JSON.stringify(inner));
    assert.deepEqual(prepared.filter([document, { a: 'outer', n: 1 }]), [document]);
    assert.ok(innerRight() && inner.length >= 4, JSON.stringify(inner));
    for (let i = 0; i < 20; i++) {
      document.extra = 'y'.repeat(i * 1000); // unread: the answers stay
      assert.equal(prepared.matches(document), true);
    }
  } finally {
    prepared.free();
  }
});
