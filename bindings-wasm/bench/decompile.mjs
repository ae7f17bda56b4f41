// Decompiling filters: the npm package's decompile against react-querybuilder's parseMongoDB.
//
//   cd bindings-wasm && node bench/decompile.mjs [--quick] [--list]
//
// Inputs: the golden corpus's compiled filters. Ours reads each as our compiler hands it out
// (compileJson of the case's spec, options and config: relaxed Extended JSON, parsed to JS
// objects); parseMongoDB reads the same filter as plain JS values (golden.mjs: `Date`s, numbers).
// Only the filters both understand are timed: parseMongoDB must not throw, and its rule group,
// written back by react-querybuilder's own formatQuery(…, 'mongodb_query'), must keep the
// filter's meaning, judged twice:
//   1. the same conditions in the same logical structure: every comparison (field, operator,
//      typed value, regex options) and every $and/$or/$nor, after folding what is written
//      differently but means the same ({f: v} is {f: {$eq: v}}, groups of one child and nested
//      groups of the same kind, {$exists: false} beside {$eq: null}, {$exists: true} beside
//      {$ne: null}, "$options": "");
//   2. on the 50 documents of tests/golden/dataset.json it selects what the server selected
//      (the case's `matches`), evaluated by mingo, which agrees with the server on every case
//      without $expr, geo or text (bench/agreement.mjs).
// Our decompile is also required to succeed on every kept filter. --list prints every case
// left out with the reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Query } from 'mingo';
import { formatQuery } from 'react-querybuilder';
import { parseMongoDB } from 'react-querybuilder/parseMongoDB';
import { dataset, fromExtendedJson, goldenCases, goldenRoot, rawMembers } from './golden.mjs';
import { loadPackage, machineNote, measureRounds, pkgRoot, ratio, sinkBit } from './harness.mjs';

const startLoad = loadavg();
const QUICK = process.argv.includes('--quick');
const LIST = process.argv.includes('--list');
const CFG = QUICK ? { warmupMs: 100, rounds: 5, batchMs: 15 } : { warmupMs: 300, rounds: 15, batchMs: 30 };
const rqbVersion = JSON.parse(readFileSync(join(pkgRoot, 'node_modules/react-querybuilder/package.json'), 'utf8')).version;

const ours = await loadPackage();
const { toJsonText } = await import(pathToFileURL(join(pkgRoot, 'js/api.mjs')).href);
const documents = dataset().map((d) => fromExtendedJson(d));

// ---------------------------------------------------------------------------------------------
// Meaning: a filter as a canonical string of its conditions and logical structure.

/** JSON of a value with its type where JSON would lose it (Date, Buffer, RegExp). */
function typed(value) {
  return JSON.stringify([value], function replace(key, v) {
    const raw = this[key];
    if (raw instanceof Date) return { $date: raw.getTime() };
    if (Buffer.isBuffer(raw)) return { $bin: raw.toString('hex') };
    if (raw instanceof RegExp) return { $re: raw.source, flags: raw.flags };
    return v;
  });
}

const isOperatorDocument = (v) =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v)
  && Object.keys(v).length > 0 && Object.keys(v).every((k) => k.startsWith('$'));

/** The conditions of one field's value: `{$gte: 1, $lte: 2}` is two. */
function fieldConditions(field, value) {
  if (!isOperatorDocument(value)) return [`${field} $eq ${typed(value)}`];
  return Object.entries(value).flatMap(([op, operand]) => {
    if (op === '$options') return [];
    if (op === '$regex') return [`${field} $regex ${typed(operand)}/${[...(value.$options ?? '')].sort().join('')}`];
    if (op === '$not') return [{ kind: '$nor', children: fieldConditions(field, operand) }];
    return [`${field} ${op} ${typed(operand)}`];
  });
}

/** A filter document as a tree: strings are conditions, groups are {kind, children}. */
function tree(filter) {
  const children = Object.entries(filter).flatMap(([key, value]) => {
    if (key === '$and' || key === '$or' || key === '$nor') {
      return Array.isArray(value) ? [{ kind: key, children: value.map(tree) }] : [`${key} ${typed(value)}`];
    }
    if (key.startsWith('$')) return [`${key} ${typed(value)}`];
    return fieldConditions(key, value);
  });
  return { kind: '$and', children };
}

/** The canonical text of a tree (see the header for what is folded). */
function canonical(node) {
  if (typeof node === 'string') return node;
  let parts = node.children.flatMap((child) => {
    if (typeof child !== 'string' && child.kind === node.kind && node.kind !== '$nor') return child.children;
    return [child];
  }).map(canonical);
  // A child that canonicalised to a group of the parent's kind is flattened too.
  parts = parts.flatMap((p) => (node.kind !== '$nor' && p.startsWith(`${node.kind}(`) ? splitGroup(p) : [p]));
  const drop = new Set();
  for (const p of parts) {
    const [field, op, value] = p.split(' ');
    if (op !== '$exists') continue;
    if (node.kind === '$or' && value === '[false]' && parts.includes(`${field} $eq [null]`)) drop.add(p);
    if (node.kind === '$and' && value === '[true]' && parts.includes(`${field} $ne [null]`)) drop.add(p);
  }
  parts = parts.filter((p) => !drop.has(p)).sort();
  if (parts.length === 1 && node.kind !== '$nor') return parts[0];
  return `${node.kind}(${parts.join(' ; ')})`;
}

/** The members of `$kind(a ; b ; …)`, at its top level only. */
function splitGroup(text) {
  const inner = text.slice(text.indexOf('(') + 1, -1);
  const out = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && inner.startsWith(' ; ', i)) { out.push(inner.slice(start, i)); start = i + 3; }
  }
  out.push(inner.slice(start));
  return out;
}

/** Why a round trip changed the filter, from the two canonical texts (for the report). */
function howChanged(before, after) {
  if (after.includes('$expr [true]')) return 'parseMongoDB reads no rule from it or from a group in it (formatQuery then writes {$expr: true})';
  if (before.includes('$expr [')) return '$expr comes back as a top-level operator';
  const withoutOptions = before.replace(/(\$regex \[[^\]]*\])\/[a-z]+/g, '$1/');
  if (withoutOptions === after) return 'regex $options dropped (i, s)';
  const count = (text) => text.split(' ; ').length;
  if (count(before) === count(after)) return 'values rewritten ($in items to strings, dates to date text)';
  return 'conditions dropped ($nor, $size, $exists without a null test, …)';
}

const selects = (filter) => {
  const query = new Query(filter);
  return documents.filter((d) => query.test(d)).map((d) => d._id).sort().join(' ');
};

// ---------------------------------------------------------------------------------------------
// The cases both understand.

const kept = [];
const leftOut = new Map();
const leave = (reason, name) => leftOut.set(reason, [...(leftOut.get(reason) ?? []), name]);
for (const c of goldenCases()) {
  if (!c.expected || !c.matches) continue;
  const text = readFileSync(join(goldenRoot, `${c.name}.json`), 'utf8');
  const specText = typeof c.spec === 'string' ? c.spec : rawMembers(text).spec;
  const optionsText = c.options === undefined ? undefined : JSON.stringify(c.options);
  const ourText = rawMembers(ours.compileJson(specText, optionsText, c.config)).filter;
  const ourFilter = JSON.parse(ourText);
  const theirFilter = fromExtendedJson(c.expected.filter);
  let roundTrip;
  try {
    roundTrip = formatQuery(parseMongoDB(theirFilter), 'mongodb_query');
  } catch (err) {
    leave(`parseMongoDB throws (${err.message.split('\n')[0].slice(0, 50)})`, c.name);
    continue;
  }
  const [before, after] = [canonical(tree(theirFilter)), canonical(tree(roundTrip))];
  if (before !== after) {
    leave(howChanged(before, after), c.name);
    if (LIST) console.log(`  ${c.name}\n    ${before}\n    ${after}`);
    continue;
  }
  let selected;
  try {
    selected = selects(roundTrip);
  } catch (err) {
    leave(`mingo cannot evaluate the round trip (${err.message.slice(0, 40)})`, c.name);
    continue;
  }
  if (selected !== c.matches.join(' ')) {
    leave('selects other documents than the server', c.name);
    continue;
  }
  const specOut = ours.decompileJson(ourText); // throws if ours cannot read it
  kept.push({ name: c.name, ourFilter, ourText, theirFilter, specOut });
}

// ---------------------------------------------------------------------------------------------
// Timing.

const perCase = (f) => () => { for (let i = 0; i < kept.length; i++) f(kept[i]); return kept.length; };
const corpus = measureRounds([
  { key: 'ours decompile(object)', fn: perCase((k) => ours.decompile(k.ourFilter)), perCall: kept.length },
  { key: 'parseMongoDB', fn: perCase((k) => parseMongoDB(k.theirFilter)), perCall: kept.length },
  { key: 'ours decompileJson(text)', fn: perCase((k) => ours.decompileJson(k.ourText)), perCall: kept.length },
  { key: 'toJsonText(filter): JS conversion', fn: perCase((k) => toJsonText(k.ourFilter, [], { maxDepth: 127 })), perCall: kept.length },
  { key: 'JSON.parse(spec text): result', fn: perCase((k) => JSON.parse(k.specOut)), perCall: kept.length },
], CFG);
// The smallest filter both read: the fixed cost of a call.
const small = { status: { $eq: 'active' } };
const smallText = JSON.stringify(small);
const fixed = measureRounds([
  { key: 'ours decompile(object)', fn: () => ours.decompile(small), perCall: 1 },
  { key: 'parseMongoDB', fn: () => parseMongoDB(small), perCall: 1 },
  { key: 'ours decompileJson(text)', fn: () => ours.decompileJson(smallText), perCall: 1 },
], CFG);

const fmt = (x, d = 2) => x.toFixed(d);
const table = (title, res) => {
  console.log(title);
  for (const [key, r] of Object.entries(res)) {
    console.log(`  ${key.padEnd(30)} ${fmt(r.median).padStart(8)} µs  (rounds ${fmt(Math.min(...r.rounds))}–${fmt(Math.max(...r.rounds))})`);
  }
  console.log(`  ratio ours decompile / parseMongoDB      ${fmt(ratio(res, 'ours decompile(object)', 'parseMongoDB')).padStart(6)}`);
  console.log(`  ratio ours decompileJson / parseMongoDB  ${fmt(ratio(res, 'ours decompileJson(text)', 'parseMongoDB')).padStart(6)}`);
  console.log();
};

console.log(`decompile: cqrs-mongo-spec (npm) vs react-querybuilder ${rqbVersion} parseMongoDB`);
console.log(machineNote(startLoad));
console.log(`${CFG.rounds} rounds of ~${CFG.batchMs} ms per contender after ${CFG.warmupMs} ms warm-up; µs = median over rounds; ratio = median of per-round ratios (< 1: ours faster)`);
const total = kept.length + [...leftOut.values()].reduce((n, l) => n + l.length, 0);
console.log(`filters both understand: ${kept.length} of the ${total} golden cases with a compiled filter and server-verified matches; left out:`);
for (const [reason, names] of [...leftOut].sort((a, b) => b[1].length - a[1].length)) {
  console.log(`  ${String(names.length).padStart(4)}  ${reason}: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}`);
}
console.log();
table(`1. One condition, ${smallText}: µs per call`, fixed);
table(`2. The ${kept.length} filters both understand: µs per filter`, corpus);
console.log(`(sink ${sinkBit()})`);
