// In-memory matching: the npm package against sift and mingo, in one process.
//
//   cd bindings-wasm && node bench/matches.mjs [--quick]
//
// The reference spec (tests/bench/reference.json) is compiled once to a filter; each contender
// prepares it once: sift `sift(filter)` (a function), mingo `new Query(filter)`, ours
// `compiler.matcher(specText)` (a `Matcher`: the spec compiled and the filter prepared in
// WebAssembly, which then reads only the documents). The per-call API is measured beside it:
// `compiler.matches(spec, document)` compiles the spec on every call, `compiler.filter(spec,
// documents)` once per list. Inputs, the same JS values for everyone: an order the reference
// spec matches, and the 50 documents of tests/golden/dataset.json (golden.mjs: Extended JSON
// numbers as `number`, `$date` as `Date`, `$oid` as its hex string; `$binary` stays a wrapper
// object, which our API reads and the reference spec never looks at).
//
// Contenders of a group alternate round by round (harness.mjs); a ratio is the median over
// rounds of the two times in the same round. Baselines in the same groups show where our time
// goes: the JS side (the API's BSON writer, `bsonDocument`, on the fields the filter reads), a one-condition
// matcher on the order and on `{}` (what getting a document into WebAssembly costs), and
// `validate(specText)` and `compiler.matcher(specText)` (what a per-call `matches` adds).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import sift from 'sift';
import { Query } from 'mingo';
import { dataset, fromExtendedJson, repoRoot } from './golden.mjs';
import { loadPackage, machineNote, measureRounds, perRound, pkgRoot, ratio, sinkBit } from './harness.mjs';

const startLoad = loadavg();
const QUICK = process.argv.includes('--quick');
const CFG = QUICK ? { warmupMs: 100, rounds: 5, batchMs: 15 } : { warmupMs: 300, rounds: 15, batchMs: 30 };
const version = (name) => JSON.parse(readFileSync(join(pkgRoot, 'node_modules', name, 'package.json'), 'utf8')).version;

const ours = await loadPackage();
const { bsonDocument } = await import(pathToFileURL(join(pkgRoot, 'js/bson.mjs')).href);
// The writer's output goes to a scratch buffer here (the API writes into WebAssembly memory).
const scratch = new Uint8Array(65536);
const compiler = new ours.Compiler();

const referenceText = readFileSync(join(repoRoot, 'tests/bench/reference.json'), 'utf8').trim();
const reference = JSON.parse(referenceText);
const filter = fromExtendedJson(ours.compile(reference).filter);

const order = {
  _id: 'o-1001',
  status: 'active',
  total: 250,
  region: 'eu',
  customer: { name: 'Ann Goldsmith', email: 'ann@example.com' },
  deleted: false,
  sku: 'AB-100',
  qty: 5,
  tags: ['vip'],
  note: 'URGENT: call',
  created_at: new Date('2026-11-30T09:15:00Z'),
  items: [
    { sku: 'AB-100', qty: 2, price: 99.5 },
    { sku: 'CD-7', qty: 3, price: 17 },
  ],
};
const documents = dataset().map((d) => fromExtendedJson(d, [], { binary: 'wrapper' }));

const siftTest = sift(filter);
const mingoQuery = new Query(filter);
const prepared = compiler.matcher(referenceText);
// What the API writes of a document for this matcher: the top-level fields its filter reads.
const documentLimits = { maxDepth: 127, keep: new Set(ours.compile(reference).filter.$and.flatMap(fieldsOf)) };
function fieldsOf(clause) {
  return Object.keys(clause).flatMap((key) => (key.startsWith('$') ? clause[key].flatMap(fieldsOf) : [key.split('.')[0]]));
}

// Every contender must give the same answers before anything is timed.
const expected = documents.filter((d) => compiler.matches(referenceText, d)).map((d) => d._id);
const answers = {
  'ours prepared': [prepared.matches(order), prepared.filter(documents).map((d) => d._id)],
  sift: [siftTest(order), documents.filter(siftTest).map((d) => d._id)],
  mingo: [mingoQuery.test(order), documents.filter((d) => mingoQuery.test(d)).map((d) => d._id)],
  'ours filter': [compiler.filter(referenceText, [order]).length === 1, compiler.filter(referenceText, documents).map((d) => d._id)],
};
for (const [who, [one, many]] of Object.entries(answers)) {
  if (one !== true || JSON.stringify(many) !== JSON.stringify(expected)) {
    throw new Error(`${who} answers otherwise: order ${one}, data set ${JSON.stringify(many)} (ours: ${JSON.stringify(expected)})`);
  }
}

// A one-condition matcher, a matcher reading the same fields with next to no evaluation (an
// equality test per field, none true), and an empty document isolate the parts of a call
// (section 3).
const tiny = compiler.matcher('{"op": "=", "attr": "status", "val": "active"}');
const readOnly = compiler.matcher({ op: 'or', conditions: [...documentLimits.keep].map((attr) => ({ op: '=', attr, val: '\u0000' })) });
const one = measureRounds([
  { key: 'ours', fn: () => prepared.matches(order), perCall: 1 },
  { key: 'sift', fn: () => siftTest(order), perCall: 1 },
  { key: 'mingo', fn: () => mingoQuery.test(order), perCall: 1 },
  { key: 'ours per call: compiler.matches(specText, order)', fn: () => compiler.matches(referenceText, order), perCall: 1 },
  { key: 'ours, empty document {}', fn: () => prepared.matches({}), perCall: 1 },
  { key: 'ours, one-condition matcher', fn: () => tiny.matches(order), perCall: 1 },
  { key: 'ours, one-condition matcher, {}', fn: () => tiny.matches({}), perCall: 1 },
  { key: 'ours, same fields, one equality each', fn: () => readOnly.matches(order), perCall: 1 },
  { key: 'ours, same fields, one equality each, {}', fn: () => readOnly.matches({}), perCall: 1 },
  { key: 'validate(specText): parse + compile', fn: () => compiler.validate(referenceText), perCall: 1 },
  {
    key: 'compiler.matcher(specText) + free',
    fn: () => {
      const m = compiler.matcher(referenceText);
      m.free();
      return m;
    },
    perCall: 1,
  },
  { key: 'bsonDocument(order): JS conversion', fn: () => bsonDocument(order, documentLimits.keep, documentLimits.maxDepth, scratch), perCall: 1 },
], CFG);

const n = documents.length;
const many = measureRounds([
  { key: 'ours', fn: () => prepared.filter(documents), perCall: n },
  { key: 'sift', fn: () => documents.filter(siftTest), perCall: n },
  { key: 'mingo', fn: () => documents.filter((d) => mingoQuery.test(d)), perCall: n },
  { key: 'ours, matches per document', fn: () => documents.filter((d) => prepared.matches(d)), perCall: n },
  { key: 'ours per list: compiler.filter(specText, documents)', fn: () => compiler.filter(referenceText, documents), perCall: n },
  { key: 'ours, one-condition matcher', fn: () => tiny.filter(documents), perCall: n },
  { key: 'bsonDocument of each: JS conversion', fn: () => documents.map((d) => bsonDocument(d, documentLimits.keep, documentLimits.maxDepth, scratch)), perCall: n },
], CFG);

const fmt = (x, d = 2) => x.toFixed(d);
const table = (title, res, keys) => {
  console.log(title);
  for (const key of Object.keys(res)) {
    const r = res[key];
    const spread = `${fmt(Math.min(...r.rounds))}–${fmt(Math.max(...r.rounds))}`;
    console.log(`  ${key.padEnd(54)} ${fmt(r.median).padStart(8)} µs  (rounds ${spread})`);
  }
  for (const [a, b] of keys) console.log(`  ratio ${a} / ${b}`.padEnd(80) + `${fmt(ratio(res, a, b)).padStart(8)}`);
  console.log();
};

console.log(`matches: cqrs-mongo-spec (npm) vs sift ${version('sift')} and mingo ${version('mingo')}`);
console.log(machineNote(startLoad));
console.log(`${CFG.rounds} rounds of ~${CFG.batchMs} ms per contender after ${CFG.warmupMs} ms warm-up; µs = median over rounds; ratio = median of per-round ratios (< 1: ours faster)`);
console.log(`filter: ${JSON.stringify(filter)}`);
console.log(`data set: the reference spec selects ${expected.length ? expected.join(' ') : 'none'} of ${n}`);
console.log();
table('1. One order the reference spec matches: µs per call', one, [
  ['ours', 'sift'], ['ours', 'mingo'],
  ['ours per call: compiler.matches(specText, order)', 'sift'], ['ours per call: compiler.matches(specText, order)', 'mingo'],
]);
table(`2. The ${n} documents of dataset.json: µs per document`, many, [
  ['ours', 'sift'], ['ours', 'mingo'], ['ours, matches per document', 'sift'], ['ours, matches per document', 'mingo'],
  ['ours per list: compiler.filter(specText, documents)', 'sift'],
]);

// Where a call of ours goes: differences of times measured in the same round, median over rounds.
const part = (f) => perRound(one, f);
const documentIn = (t) => t('ours, same fields, one equality each') - t('ours, same fields, one equality each, {}');
const parts = [
  ['fixed cost of a prepared call (one condition, {})', part((t) => t('ours, one-condition matcher, {}'))],
  [`the order into WebAssembly (the ${documentLimits.keep.size} fields the filter reads)`, part(documentIn)],
  ['  of which the JS conversion (bsonDocument)', part((t) => t('bsonDocument(order): JS conversion'))],
  ['evaluating the reference filter on it', part((t) => t('ours') - t('ours, empty document {}') - documentIn(t))],
  ['per call without a Matcher: compile + prepare + free', part((t) => t('compiler.matcher(specText) + free'))],
  ['  of which parse + compile the spec (validate)', part((t) => t('validate(specText): parse + compile'))],
];
const m = (res, key) => res[key].median;
console.log(`3. Where ours goes (order, reference spec: ${fmt(m(one, 'ours'))} µs prepared; differences within a round, median over rounds)`);
for (const [what, us] of parts) console.log(`  ${what.padEnd(60)} ${fmt(us).padStart(8)} µs`);
console.log(`  per data-set document: the reference matcher ${fmt(m(many, 'ours'))} µs, of which the JS conversion of the fields it reads `
  + `${fmt(m(many, 'bsonDocument of each: JS conversion'))} µs; a one-condition matcher ${fmt(m(many, 'ours, one-condition matcher'))} µs; `
  + `sift's whole test ${fmt(m(many, 'sift'))} µs, mingo's ${fmt(m(many, 'mingo'))} µs`);
console.log();
console.log(`(sink ${sinkBit()})`);
