// Loading the built package and timing contenders against each other, for the benchmarks.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';

export const pkgRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// Loading (pkg/ may be briefly missing while someone rebuilds it: wait and retry).

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The newest mtime under pkg/node and pkg/web, or null while a .wasm is missing. */
function pkgStamp() {
  const files = ['pkg/node', 'pkg/web'].flatMap((dir) => {
    const abs = join(pkgRoot, dir);
    return existsSync(abs) ? readdirSync(abs).map((name) => join(abs, name)) : [];
  });
  const wasm = ['node', 'web'].every((d) => files.includes(join(pkgRoot, `pkg/${d}/cqrs_mongo_spec_bg.wasm`)));
  const stats = files.map((f) => { try { return statSync(f); } catch { return null; } });
  if (!wasm || stats.includes(null)) return null;
  return { newest: Math.max(...stats.map((st) => st.mtimeMs)) };
}

/** Waits until pkg/ exists and nothing in it changed for 3 s (a rebuild may be running). */
async function waitForStablePkg() {
  for (let waited = 0; waited < 180_000; waited += 1000) {
    const stamp = pkgStamp();
    if (stamp && Date.now() - stamp.newest > 3000) return;
    if (waited === 0) console.error('waiting for pkg/ (missing or being rebuilt) ...');
    await sleep(1000);
  }
  throw new Error('pkg/ did not appear or settle within 3 minutes');
}

/** The package as `js/node.mjs` exports it, once pkg/ is complete. */
export async function loadPackage() {
  // The CommonJS entry is required first: a failed require is not cached (a failed ESM import
  // is), so a half-written pkg/ can be retried; js/node.mjs then re-exports the same instance.
  const require = createRequire(import.meta.url);
  for (let attempt = 0; ; attempt++) {
    await waitForStablePkg();
    try {
      require(join(pkgRoot, 'js/node.cjs'));
      return await import(pathToFileURL(join(pkgRoot, 'js/node.mjs')).href);
    } catch (err) {
      if (attempt >= 10) throw err;
      console.error(`loading the package failed (${err.message.split('\n')[0]}); retrying`);
      for (const key of Object.keys(require.cache)) if (key.startsWith(pkgRoot)) delete require.cache[key];
      await sleep(3000);
    }
  }
}

/** One line on the machine and the measured build, for the top of a report. */
export function machineNote(startLoad) {
  const wasm = statSync(join(pkgRoot, 'pkg/node/cqrs_mongo_spec_bg.wasm'));
  return `node ${process.version} ${process.platform}/${process.arch}, ${availableParallelism()} CPUs; `
    + `load average at start ${startLoad.map((x) => x.toFixed(2)).join(' ')}, now ${loadavg().map((x) => x.toFixed(2)).join(' ')}; `
    + `pkg/node/cqrs_mongo_spec_bg.wasm ${wasm.size} bytes, built ${wasm.mtime.toISOString()}`;
}

// ---------------------------------------------------------------------------------------------
// Timing: contenders alternate round by round, ratios are taken within each round.

let sink = 0;
/** Keeps results alive so the JIT cannot drop the work. */
export const consume = (r) => { sink = (sink + (r ? 1 : 0) + (typeof r === 'object' && r ? 1 : 0)) | 0; };
export const sinkBit = () => sink & 1;
const now = () => process.hrtime.bigint();

function runBatch(fn, iters) {
  const t0 = now();
  for (let i = 0; i < iters; i++) consume(fn());
  return Number(now() - t0);
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
};

/**
 * entries: [{key, fn, perCall}] (`fn` makes `perCall` calls). Each is warmed up and sized to
 * a batch of about `batchMs`; then every round runs one batch of each, in a rotating order.
 * Returns key -> {rounds: [µs per call in each round], median}.
 */
export function measureRounds(entries, { warmupMs = 300, rounds = 15, batchMs = 30 } = {}) {
  const state = entries.map((e) => {
    let iters = 1;
    let elapsed = 0;
    let total = 0;
    const start = now();
    while (Number(now() - start) < warmupMs * 1e6) {
      elapsed += runBatch(e.fn, iters);
      total += iters;
      iters = Math.min(iters * 2, 1 << 20);
    }
    return { e, iters: Math.max(1, Math.round((batchMs * 1e6) / (elapsed / total))), rounds: [] };
  });
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < state.length; k++) {
      const s = state[(r + k) % state.length];
      s.rounds.push(runBatch(s.e.fn, s.iters) / s.iters / s.e.perCall / 1000);
    }
  }
  return Object.fromEntries(state.map((s) => [s.e.key, { rounds: s.rounds, median: median(s.rounds) }]));
}

/** The median over rounds of `f(t)`, where `t(key)` is that contender's time in the round. */
export const perRound = (res, f) => median(Object.values(res)[0].rounds.map((_, i) => f((key) => res[key].rounds[i])));

/** The median over rounds of a's time / b's time in the same round. */
export const ratio = (res, a, b) => perRound(res, (t) => t(a) / t(b));
