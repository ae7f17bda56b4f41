// Where sift and mingo disagree with MongoDB on the golden corpus.
//
//   cd bindings-wasm && node bench/agreement.mjs [--all]
//
// Every golden case with `matches` (the `_id`s of tests/golden/dataset.json that its
// `expected.filter` selects on a MongoDB server) is run through sift and mingo: the filter and
// the 50 documents are turned from Extended JSON into the JS values these libraries read
// (golden.mjs: numbers of every BSON type become `number`, `$date` a `Date`, `$oid` its hex
// string, `$binary` a `Buffer`), each library prepares the filter once (`sift(filter)`,
// `new Query(filter)`) and tests every document. A case agrees when the same `_id`s come out;
// it is refused when the library throws (an operator it lacks). Our evaluator is not run here:
// the golden runners hold it to the same `matches` in Rust, Node and Python.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sift from 'sift';
import { Query } from 'mingo';
import { dataset, fromExtendedJson, goldenCases } from './golden.mjs';
import { pkgRoot } from './harness.mjs';

const ALL = process.argv.includes('--all');
const version = (name) => JSON.parse(readFileSync(join(pkgRoot, 'node_modules', name, 'package.json'), 'utf8')).version;

const documents = dataset().map((d) => fromExtendedJson(d));
const cases = goldenCases().filter((c) => c.matches && c.expected);

const libraries = {
  [`sift ${version('sift')}`]: (filter) => sift(filter),
  [`mingo ${version('mingo')}`]: (filter) => {
    const query = new Query(filter);
    return (document) => query.test(document);
  },
};

const ids = (list) => (list.length ? list.join(' ') : '-');
const short = (value, n = 110) => {
  const text = JSON.stringify(value, (k, v) => (v && v.type === 'Buffer' ? '<Buffer>' : v));
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
};

console.log(`${cases.length} golden cases with server-verified matches, on the ${documents.length} documents of dataset.json`);
for (const [name, prepare] of Object.entries(libraries)) {
  const disagree = [];
  const refused = new Map();
  let agree = 0;
  for (const c of cases) {
    const lost = [];
    const filter = fromExtendedJson(c.expected.filter, lost);
    let got;
    try {
      const test = prepare(filter);
      got = documents.filter((d) => test(d)).map((d) => d._id).sort();
    } catch (err) {
      const reason = String(err.message).split('\n')[0].slice(0, 60);
      refused.set(reason, [...(refused.get(reason) ?? []), c.name]);
      continue;
    }
    const extra = got.filter((id) => !c.matches.includes(id));
    const missing = c.matches.filter((id) => !got.includes(id));
    if (extra.length === 0 && missing.length === 0) agree++;
    else disagree.push({ c, filter, extra, missing, lost });
  }
  const nRefused = [...refused.values()].reduce((n, l) => n + l.length, 0);
  console.log();
  console.log(`${name}: ${agree} agree, ${disagree.length} disagree, ${nRefused} refused (throws)`);
  for (const { c, filter, extra, missing, lost } of disagree) {
    console.log(`  differs  ${c.name}: ${short(filter)}`);
    console.log(`           also selects ${ids(extra)}; misses ${ids(missing)}${lost.length ? `; conversion: ${lost.join(', ')}` : ''}`);
  }
  for (const [reason, names] of refused) {
    console.log(`  refused  ${names.length} × "${reason}": ${ALL ? names.join(', ') : `${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}`}`);
  }
}
