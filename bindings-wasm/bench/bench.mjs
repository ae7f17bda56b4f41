// Benchmark of the npm package against react-querybuilder's MongoDB formatter.
//
//   cd bindings-wasm && node bench/bench.mjs [--per-case] [--quick]
//
// 1. Our compiler: compile(referenceSpecObject), compileJson(referenceSpecText), and every golden
//    case with "expected" and a non-string spec through compile() and compileJson(), per spec.
// 2. react-querybuilder (RQB): our spec AST is translated (outside the timed loop) to an RQB
//    RuleGroupType for the common operator subset, then formatQuery(query, 'mongodb_query') is
//    timed for the reference spec and for the corpus cases that translate; our compile() is timed
//    on exactly the same cases. Prints µs per call and the rqb/ours ratios (goals: compile >= 3x, compileJson >= 5x).
// 3. Size of pkg/web/cqrs_mongo_spec_bg.wasm, raw and gzipped (level 9).
// 4. Diagnostics: where our time goes (output modes, string vs object input, validate() which
//    compiles without converting a result back to JS, JSON.stringify/JSON.parse of the same data).
// 5. Per corpus family, and the slowest cases (--per-case lists every case).
//
// Timing: each measured function is warmed up, then run in interleaved batches (every contender
// of a group gets one batch per round, in rotating order); the figure is the mean over all
// iterations of all batches (process.hrtime.bigint), "±" is half the spread of the batch means.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { availableParallelism, loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';
import { loadPackage } from './harness.mjs';
import { rawMembers } from './golden.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const pkgRoot = join(here, '..');
const repoRoot = join(pkgRoot, '..');
const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const startLoad = loadavg();
const PER_CASE = args.has('--per-case');

async function readWhenPresent(path) {
  for (let attempt = 0; ; attempt++) {
    try {
      return readFileSync(path);
    } catch (err) {
      if (attempt >= 30) throw err;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

const ours = await loadPackage();
const loadedWasm = statSync(join(pkgRoot, 'pkg/node/cqrs_mongo_spec_bg.wasm'));
const { compile, compileJson, validate } = ours;
const rqb = await import('react-querybuilder');
const rqbVersion = JSON.parse(readFileSync(join(pkgRoot, 'node_modules/react-querybuilder/package.json'), 'utf8')).version;

// The format name: 'mongodb_query' (object result) in RQB 7.x/8.x; older versions only have the
// deprecated 'mongodb' (string result).
let RQB_FORMAT = 'mongodb_query';
{
  const probe = rqb.formatQuery({ combinator: 'and', rules: [{ field: 'a', operator: '=', value: 1 }] }, RQB_FORMAT);
  if (probe === null || typeof probe !== 'object' || probe.a !== 1) RQB_FORMAT = 'mongodb';
}
const rqbReturns = typeof rqb.formatQuery({ combinator: 'and', rules: [] }, RQB_FORMAT);

// ---------------------------------------------------------------------------------------------
// Inputs.

const referenceText = readFileSync(join(repoRoot, 'tests/bench/reference.json'), 'utf8').trim();
const reference = JSON.parse(referenceText);

const goldenRoot = join(repoRoot, 'tests/golden');
function caseFiles(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return caseFiles(path);
    return name.endsWith('.json') && dir !== goldenRoot ? [path] : [];
  });
}

function settingsFromConfig(config) {
  if (!config) return undefined;
  const settings = {};
  if (config.allowed_fields !== undefined) settings.allowedFields = config.allowed_fields;
  if (config.max_depth !== undefined) settings.maxDepth = config.max_depth;
  if (config.max_nodes !== undefined) settings.maxNodes = config.max_nodes;
  if (config.max_list_len !== undefined) settings.maxListLen = config.max_list_len;
  return settings;
}

const corpus = [];
const corpusNotes = [];
let skippedErrorCases = 0;
let skippedStringSpecs = 0;
for (const file of caseFiles(goldenRoot)) {
  const text = readFileSync(file, 'utf8');
  const golden = JSON.parse(text);
  const name = relative(goldenRoot, file).replace(/\.json$/, '');
  if (!('expected' in golden)) { skippedErrorCases++; continue; }
  if (typeof golden.spec === 'string') { skippedStringSpecs++; continue; }
  const c = {
    name,
    family: name.split('/')[0],
    spec: golden.spec,
    options: golden.options,
    config: golden.config,
    settings: settingsFromConfig(golden.config),
    specText: JSON.stringify(golden.spec),
    optionsText: golden.options === undefined ? undefined : JSON.stringify(golden.options),
  };
  try {
    compile(c.spec, c.options, c.settings);
  } catch (err) {
    corpusNotes.push(`${name}: compile(JSON.parse'd spec) throws ${err.code ?? err.message} `
      + '(JSON.parse turns big integer literals into inexact doubles); case left out of every timing');
    continue;
  }
  try {
    compileJson(c.specText, c.optionsText, c.settings);
  } catch (err) {
    // JSON.stringify cannot reproduce every literal of the file (9223372036854775807 becomes
    // 9223372036854776000, above Int64): use the file's own text for that case.
    const raw = rawMembers(text).spec;
    compileJson(raw, c.optionsText, c.settings);
    corpusNotes.push(`${name}: compileJson(JSON.stringify(spec)) throws ${err.code} `
      + `(JSON.stringify rewrites the literal); the file's raw spec text is used instead`);
    c.specText = raw;
  }
  corpus.push(c);
}

// ---------------------------------------------------------------------------------------------
// Our spec AST -> react-querybuilder RuleGroupType.

class Untranslatable extends Error {}

const EXACT_OPS = {
  '=': '=', eq: '=', '!=': '!=', ne: '!=',
  '>': '>', gt: '>', '>=': '>=', gte: '>=', ge: '>=',
  '<': '<', lt: '<', '<=': '<=', lte: '<=', le: '<=',
  in: 'in', not_in: 'notIn', between: 'between', not_between: 'notBetween',
  contains: 'contains', startswith: 'beginsWith', endswith: 'endsWith',
  is_null: 'null', is_not_null: 'notNull',
};
// Characters with a meaning in a MongoDB (PCRE) regex outside a character class. RQB puts the
// value into $regex unescaped; ours escapes these (and also - & ~ # whitespace, which are not
// special outside a class, so leaving those unescaped changes nothing).
const REGEX_META = /[.^$*+?()[\]{}|\\]/;
const ESCAPED_BUT_HARMLESS = /[-&~# \t\n\r\v\f]/;
const NUMERIC_STRING = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

function hasDollarKey(value) {
  if (Array.isArray(value)) return value.some(hasDollarKey);
  if (value !== null && typeof value === 'object') {
    return Object.keys(value).some((k) => k.startsWith('$') || hasDollarKey(value[k]));
  }
  return false;
}

/**
 * Translates a spec node. `approx` allows the nearest RQB operator where there is no exact one
 * (ilike / like); every such choice is pushed to `notes`. Without `approx`, anything whose RQB
 * output would mean something else than ours throws Untranslatable (with the reason).
 */
function toRqb(node, { approx = false, notes = [] } = {}) {
  const op = String(node.op).toLowerCase();
  if (op === 'and' || op === 'or') {
    return { combinator: op, rules: node.conditions.map((c) => toRqb(c, { approx, notes })) };
  }
  if (op === 'not') {
    const child = toRqb(node.condition ?? node.conditions[0], { approx, notes });
    if ('combinator' in child && !child.not) return { ...child, not: true };
    return { combinator: 'and', not: true, rules: [child] };
  }
  if (node.value_type !== undefined) throw new Untranslatable('value_type cast (RQB has no casts)');
  if (hasDollarKey(node.val)) throw new Untranslatable('Extended JSON value ($date, $oid, ...)');
  const field = node.attr;
  const val = node.val;
  let operator = EXACT_OPS[op];
  let value = val;
  const note = (text) => notes.push(`${field} ${node.op} ${JSON.stringify(val)}: ${text}`);

  if ((op === 'ilike' || op === 'like') && approx && typeof val === 'string') {
    const m = /^(%?)([^%_]*)(%?)$/.exec(val);
    if (!m) throw new Untranslatable(`${op} pattern with inner wildcards`);
    operator = m[1] && m[3] ? 'contains' : m[3] ? 'beginsWith' : m[1] ? 'endsWith' : '=';
    value = m[2];
    note(`NOT EXACT: mapped to RQB '${operator}' ${JSON.stringify(value)}`
      + (op === 'ilike' ? '; case-insensitivity ($options "i") is lost' : '')
      + '; dot-matches-newline ($options "s") is lost; RQB mongodb_query has no regex options');
    if (REGEX_META.test(value)) note('NOT EXACT: RQB does not escape regex metacharacters');
  } else if (!operator) {
    throw new Untranslatable(`operator ${op} has no RQB counterpart`);
  } else if (operator === 'in' || operator === 'notIn') {
    value = Array.isArray(val) ? val : [val];
    if (approx) note(`exact: RQB '${operator}' gives {$${operator === 'in' ? 'in' : 'nin'}: [...]} like ours`);
  } else if (operator === 'between' || operator === 'notBetween') {
    const [lo, hi] = val;
    if ([lo, hi].some((b) => b === null || b === '')) throw new Untranslatable('RQB drops between with an empty bound');
    if ([lo, hi].some((b) => typeof b === 'string' && NUMERIC_STRING.test(b))) {
      throw new Untranslatable('RQB turns numeric-string between bounds into numbers');
    }
    if (typeof lo === 'number' && typeof hi === 'number' && hi < lo) {
      throw new Untranslatable('RQB swaps reversed between bounds');
    }
    if (approx && operator === 'between') note(`equivalent: RQB gives {${field}: {$gte, $lte}}, ours {$and: [{$gte}, {$lte}]}`);
  } else if (operator === 'contains' || operator === 'beginsWith' || operator === 'endsWith') {
    if (REGEX_META.test(val)) {
      if (!approx) throw new Untranslatable('regex metacharacter in the value (RQB does not escape)');
      note('NOT EXACT: RQB does not escape regex metacharacters');
    } else if (approx && ESCAPED_BUT_HARMLESS.test(val)) {
      note(`equivalent: ours escapes ${JSON.stringify(val.match(ESCAPED_BUT_HARMLESS)[0])} (\\${val.match(ESCAPED_BUT_HARMLESS)[0]}), RQB does not; not special outside [...]; also no "$options": ""`);
    }
  } else if (operator === 'null' || operator === 'notNull') {
    if (val === false) operator = operator === 'null' ? 'notNull' : 'null';
    value = null;
  } else if (operator === '=' && approx) {
    note(`equivalent: RQB gives the implicit {${field}: v}, ours {${field}: {$eq: v}}`);
  }
  return { field, operator, value };
}

function toRqbQuery(spec, opts) {
  const r = toRqb(spec, opts);
  return 'combinator' in r ? r : { combinator: 'and', rules: [r] };
}

const refNotes = [];
const referenceRqb = toRqbQuery(reference, { approx: true, notes: refNotes });

const subset = [];
const exclusions = new Map();
for (const c of corpus) {
  let reason = null;
  if (c.options !== undefined) reason = 'query options (sort/skip/limit/projection: RQB formats filters only)';
  else {
    try {
      c.rqb = toRqbQuery(c.spec);
    } catch (err) {
      if (!(err instanceof Untranslatable)) throw err;
      reason = err.message;
    }
  }
  if (reason) exclusions.set(reason, (exclusions.get(reason) ?? 0) + 1);
  else subset.push(c);
}

// ---------------------------------------------------------------------------------------------
// Timing.

let sink = 0;
const consume = (r) => { sink = (sink + (typeof r === 'string' ? r.length : 1)) | 0; };
const now = () => process.hrtime.bigint();

const CFG = QUICK
  ? { warmupMs: 100, batches: 5, batchMs: 20 }
  : { warmupMs: 300, batches: 10, batchMs: 50 };

/** Runs `fn` `iters` times; nanoseconds. */
function runBatch(fn, iters) {
  const t0 = now();
  for (let i = 0; i < iters; i++) consume(fn());
  return Number(now() - t0);
}

/**
 * entries: [{key, fn, perCall}] where fn does `perCall` calls (a whole corpus pass).
 * Returns key -> {us (mean µs per call), pm (± half spread in µs), iters}.
 */
function measureGroup(entries, cfg = CFG) {
  const state = entries.map((e) => {
    let iters = 1, elapsed = 0, total = 0;
    const start = now();
    while (Number(now() - start) < cfg.warmupMs * 1e6) {
      elapsed += runBatch(e.fn, iters);
      total += iters;
      iters = Math.min(iters * 2, 1 << 20);
    }
    const nsPerIter = elapsed / total;
    return { e, iters: Math.max(1, Math.round((cfg.batchMs * 1e6) / nsPerIter)), ns: 0, n: 0, means: [] };
  });
  for (let b = 0; b < cfg.batches; b++) {
    for (let k = 0; k < state.length; k++) {
      const s = state[(b + k) % state.length];
      const ns = runBatch(s.e.fn, s.iters);
      s.ns += ns;
      s.n += s.iters;
      s.means.push(ns / s.iters / s.e.perCall / 1000);
    }
  }
  const out = {};
  for (const s of state) {
    const us = s.ns / s.n / s.e.perCall / 1000;
    const sorted = [...s.means].sort((a, b) => a - b);
    const median = (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;
    out[s.e.key] = { us, median, pm: (sorted[sorted.length - 1] - sorted[0]) / 2, calls: s.n * s.e.perCall };
  }
  return out;
}

const over = (cases, f) => () => { for (let i = 0; i < cases.length; i++) consume(f(cases[i])); return 0; };
const t0All = Date.now();

// Group 1: reference spec, ours and RQB interleaved.
const refResults = measureGroup([
  { key: 'compile', fn: () => compile(reference), perCall: 1 },
  { key: 'compileJson', fn: () => compileJson(referenceText), perCall: 1 },
  { key: 'rqb', fn: () => rqb.formatQuery(referenceRqb, RQB_FORMAT), perCall: 1 },
]);

// Group 2: the whole corpus.
const corpusResults = measureGroup([
  { key: 'compile', fn: over(corpus, (c) => compile(c.spec, c.options, c.settings)), perCall: corpus.length },
  { key: 'compileJson', fn: over(corpus, (c) => compileJson(c.specText, c.optionsText, c.settings)), perCall: corpus.length },
]);

// Group 3: the subset that translates to RQB, the same cases for everyone.
const subsetResults = measureGroup([
  { key: 'compile', fn: over(subset, (c) => compile(c.spec, c.options, c.settings)), perCall: subset.length },
  { key: 'compileJson', fn: over(subset, (c) => compileJson(c.specText, c.optionsText, c.settings)), perCall: subset.length },
  { key: 'rqb', fn: over(subset, (c) => rqb.formatQuery(c.rqb, RQB_FORMAT)), perCall: subset.length },
]);

// Group 4: diagnostics on the reference spec.
const refResultText = compileJson(referenceText);
const refResultObject = compile(reference);
const tinySpec = { op: '=', attr: 'a', val: 1 };
const tinyText = JSON.stringify(tinySpec);
const tinyRqb = toRqbQuery(tinySpec);
const canonical = { output: 'canonical' };
const relaxed = { output: 'relaxed' };
const js = { output: 'js' };
const diagEntries = [
  ['compile(obj)                      output relaxed (default)', () => compile(reference)],
  ['compile(obj, _, {output:relaxed}) settings object parsed', () => compile(reference, undefined, relaxed)],
  ['compile(obj, _, {output:canonical})', () => compile(reference, undefined, canonical)],
  ['compile(obj, _, {output:js})      Date/BigInt values', () => compile(reference, undefined, js)],
  ['compile(text)                     string spec, object out', () => compile(referenceText)],
  ['compileJson(text)                 relaxed', () => compileJson(referenceText)],
  ['compileJson(text, _, {output:canonical})', () => compileJson(referenceText, undefined, canonical)],
  ['validate(obj)                     object in + parse + compile, no result', () => validate(reference)],
  ['validate(text)                    JSON text parse + compile, no result', () => validate(referenceText)],
  ['JSON.stringify(spec)', () => JSON.stringify(reference)],
  ['JSON.parse(specText)', () => JSON.parse(referenceText)],
  ['JSON.parse(resultText)            (filter + pipeline)', () => JSON.parse(refResultText)],
  ['JSON.stringify(resultObject)', () => JSON.stringify(refResultObject)],
  ['JSON.parse(compileJson(JSON.stringify(obj)))', () => JSON.parse(compileJson(JSON.stringify(reference)))],
  ['toRqb(spec) translation (not in the RQB figures)', () => toRqbQuery(reference, { approx: true })],
  ['rqb formatQuery(reference)', () => rqb.formatQuery(referenceRqb, RQB_FORMAT)],
  ['compile(tiny {op:"=",attr:"a",val:1})  fixed cost', () => compile(tinySpec)],
  ['compileJson(tiny)', () => compileJson(tinyText)],
  ['validate(tiny text)', () => validate(tinyText)],
  ['rqb formatQuery(tiny)', () => rqb.formatQuery(tinyRqb, RQB_FORMAT)],
];
try {
  const api = await import(pathToFileURL(join(pkgRoot, 'js/api.mjs')).href);
  if (typeof api.toJsonText === 'function') {
    diagEntries.push(['js/api.mjs toJsonText(spec)   (the JS layer input step)', () => api.toJsonText(reference, [], 127)]);
  }
} catch { /* no JS layer in this build */ }
const diagResults = measureGroup(diagEntries.map(([key, fn]) => ({ key, fn, perCall: 1 })),
  QUICK ? CFG : { warmupMs: 200, batches: 6, batchMs: 40 });

// Per-case costs (compile), for the family table and the slowest cases.
const perCase = [];
{
  const cfg = QUICK ? { warmupMs: 3, batches: 3, batchMs: 2 } : { warmupMs: 8, batches: 5, batchMs: 3 };
  for (const c of corpus) {
    const r = measureGroup([{ key: 'x', fn: () => compile(c.spec, c.options, c.settings), perCall: 1 }], cfg);
    perCase.push({ c, us: r.x.median });
  }
}
const elapsedS = (Date.now() - t0All) / 1000;

// ---------------------------------------------------------------------------------------------
// Report.

const fmt = (x, d = 2) => x.toFixed(d);
const usCell = (r) => `${fmt(r.us).padStart(9)} µs ±${fmt(r.pm).padEnd(6)} (median ${fmt(r.median)})`;
const line = (n = 96) => console.log('-'.repeat(n));

console.log(`cqrs-mongo-spec (wasm) vs react-querybuilder ${rqbVersion} formatQuery(q, '${RQB_FORMAT}') `
  + `[returns ${rqbReturns === 'object' ? 'a JS object' : 'a string'}]`);
console.log(`node ${process.version} ${process.platform}/${process.arch}; `
  + `${CFG.batches} interleaved batches of ~${CFG.batchMs} ms after ${CFG.warmupMs} ms warm-up; µs = mean per call, ± = half spread of batch means`);
console.log(`measured build: pkg/node/cqrs_mongo_spec_bg.wasm ${loadedWasm.size} bytes, built ${loadedWasm.mtime.toISOString()}; `
  + `load average at start ${startLoad.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${availableParallelism()} CPUs)`);
console.log(`our default output is relaxed Extended JSON; compile() results hold the filter and the pipeline [{$match: filter}]`);
console.log();

console.log('1. Our compiler');
line();
console.log(`${'what'.padEnd(62)} ${'time per call'.padStart(24)}`);
line();
console.log(`${'(a) compile(referenceSpecObject)'.padEnd(62)} ${usCell(refResults.compile)}`);
console.log(`${'(b) compileJson(referenceSpecText)'.padEnd(62)} ${usCell(refResults.compileJson)}`);
console.log(`${`(c) corpus (${corpus.length}): compile(spec, options, settings), per spec`.padEnd(62)} ${usCell(corpusResults.compile)}`);
console.log(`${`(c) corpus (${corpus.length}): compileJson(JSON.stringify(spec), ...), per spec`.padEnd(62)} ${usCell(corpusResults.compileJson)}`);
line();
console.log(`corpus = golden cases with "expected" and a non-string spec (${skippedErrorCases} error cases and ${skippedStringSpecs} JSON-text specs left out)`);
for (const n of corpusNotes) console.log(`  note: ${n}`);
console.log();

const ratio = (a, b) => a.us / b.us;
const refRatio = ratio(refResults.rqb, refResults.compile);
const refRatioJson = ratio(refResults.rqb, refResults.compileJson);
const subRatio = ratio(subsetResults.rqb, subsetResults.compile);
const subRatioJson = ratio(subsetResults.rqb, subsetResults.compileJson);
console.log(`2. Versus react-querybuilder (RQB input pre-translated; translation not timed)`);
line();
console.log(`${'what'.padEnd(62)} ${'time per call'.padStart(24)}`);
line();
console.log(`${'reference: RQB formatQuery'.padEnd(62)} ${usCell(refResults.rqb)}`);
console.log(`${'reference: ours compile(object)'.padEnd(62)} ${usCell(refResults.compile)}`);
console.log(`${'reference: ours compileJson(text)'.padEnd(62)} ${usCell(refResults.compileJson)}`);
console.log(`${`subset (${subset.length} of ${corpus.length} cases): RQB formatQuery, per spec`.padEnd(62)} ${usCell(subsetResults.rqb)}`);
console.log(`${`subset (${subset.length} cases): ours compile(object), per spec`.padEnd(62)} ${usCell(subsetResults.compile)}`);
console.log(`${`subset (${subset.length} cases): ours compileJson(text), per spec`.padEnd(62)} ${usCell(subsetResults.compileJson)}`);
line();
// The goals (issue 22): compile(object) >= 3x react-querybuilder, compileJson(text) >= 5x.
const verdict = (r, goal) => (r >= goal ? 'goal met' : r >= 1 ? `faster, below the ${goal}x goal` : `ours is ${fmt(1 / r)}x SLOWER`);
console.log(`ratio rqb/ours  reference, compile    : ${fmt(refRatio).padStart(6)}x  (${verdict(refRatio, 3)})`);
console.log(`ratio rqb/ours  reference, compileJson: ${fmt(refRatioJson).padStart(6)}x  (${verdict(refRatioJson, 5)})`);
console.log(`ratio rqb/ours  subset,    compile    : ${fmt(subRatio).padStart(6)}x  (${verdict(subRatio, 3)})`);
console.log(`ratio rqb/ours  subset,    compileJson: ${fmt(subRatioJson).padStart(6)}x  (${verdict(subRatioJson, 5)})`);
const met = refRatio >= 3 && subRatio >= 3 && refRatioJson >= 5 && subRatioJson >= 5;
console.log(`goals (compile >= 3x, compileJson >= 5x faster than RQB): ${met ? 'MET' : 'NOT MET'}`);
console.log();

console.log('Mapping of the reference spec to RQB (nearest operators):');
for (const n of refNotes) console.log(`  - ${n}`);
console.log(`  RQB output : ${JSON.stringify(rqb.formatQuery(referenceRqb, RQB_FORMAT))}`);
console.log(`  our filter : ${JSON.stringify(refResultObject.filter)}`);
console.log(`Corpus cases that translate exactly: ${subset.length} of ${corpus.length}. Left out:`);
for (const [reason, n] of [...exclusions].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(4)}  ${reason}`);
console.log('  (the subset keeps cases with a compiler config: ours also checks the whitelist/limits, RQB cannot)');
console.log();

const wasmPath = join(pkgRoot, 'pkg/web/cqrs_mongo_spec_bg.wasm');
const wasmBytes = await readWhenPresent(wasmPath);
const gz = gzipSync(wasmBytes, { level: 9 });
console.log('3. WebAssembly module pkg/web/cqrs_mongo_spec_bg.wasm');
console.log(`  raw     ${String(wasmBytes.length).padStart(9)} bytes (${fmt(wasmBytes.length / 1024, 1)} KiB)`);
console.log(`  gzip -9 ${String(gz.length).padStart(9)} bytes (${fmt(gz.length / 1024, 1)} KiB)`);
console.log();

console.log('4. Diagnostics (reference spec unless noted; where the time goes)');
line();
for (const [key] of diagEntries) console.log(`${key.padEnd(70)} ${usCell(diagResults[key])}`);
line();
{
  const d = (k) => diagResults[k].us;
  const [kObj, kText, kValObj, kValText, kJson] = [
    diagEntries[0][0], diagEntries[4][0], diagEntries[7][0], diagEntries[8][0], diagEntries[5][0]];
  const rows = [
    ['object input (JS value -> what wasm reads)', 'validate(obj) - validate(text)', d(kValObj) - d(kValText)],
    ['parse + compile inside wasm, no result', 'validate(text)', d(kValText)],
    ['result -> JS objects', 'compile(text) - validate(text)', d(kText) - d(kValText)],
    ['  of which JSON.parse(result text) in JS', 'JSON.parse(resultText)', d(diagEntries[11][0])],
    ['result -> JSON text', 'compileJson(text) - validate(text)', d(kJson) - d(kValText)],
  ];
  for (const [what, how, us] of rows) console.log(`  ${what.padEnd(44)} ~ ${how.padEnd(36)} = ${fmt(us).padStart(7)} µs`);
  console.log(`  (compile(obj) = ${fmt(d(kObj))} µs)`);
}
console.log();

// Per family and slowest cases (compile, object input).
const families = new Map();
for (const { c, us } of perCase) {
  const f = families.get(c.family) ?? { n: 0, sum: 0, sub: 0 };
  f.n++; f.sum += us; if (subset.includes(c)) f.sub++;
  families.set(c.family, f);
}
console.log('5. Corpus per family: compile(spec, options, settings), µs per spec (median of short batches per case, averaged over the family)');
for (const [name, f] of families) {
  console.log(`  ${name.padEnd(16)} ${String(f.n).padStart(4)} specs ${fmt(f.sum / f.n).padStart(9)} µs   (${f.sub} in the RQB subset)`);
}
const slowest = [...perCase].sort((a, b) => b.us - a.us).slice(0, PER_CASE ? perCase.length : 5);
console.log(PER_CASE ? '  every case, slowest first:' : '  slowest 5 cases (all with --per-case):');
for (const { c, us } of slowest) console.log(`    ${fmt(us).padStart(9)} µs  ${c.name}${c.options ? ' (options)' : ''}`);
console.log();
console.log(`measured in ${fmt(elapsedS, 1)} s (sink ${sink & 1})`);
