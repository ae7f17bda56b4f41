// The golden corpus and its data set for the benchmarks, and Extended JSON turned into the plain
// JS values other matchers (sift, mingo) read.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { caseFiles, goldenRoot, rawMembers } from '../test-support/golden.mjs';

export { goldenRoot, rawMembers };

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Every case file as `{name, family, ...the file's members}`, sorted by name. */
export function goldenCases() {
  return caseFiles(goldenRoot).map((file) => {
    const name = relative(goldenRoot, file).replace(/\.json$/, '');
    return { name, family: name.split('/')[0], ...JSON.parse(readFileSync(file, 'utf8')) };
  });
}

/** `tests/golden/dataset.json`: 50 documents in relaxed Extended JSON. */
export function dataset() {
  return JSON.parse(readFileSync(join(goldenRoot, 'dataset.json'), 'utf8'));
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Extended JSON (canonical or relaxed) as plain JS values, the way JS matchers take a filter
 * and documents: Int32, Int64, Double and Decimal128 all become `number` (types and the digits
 * of Decimal128 beyond a double are lost), `$date` a `Date`, `$regularExpression` a `RegExp`
 * (flags JS lacks, such as `x`, are dropped and listed in `lost`), `$oid` its hex string,
 * `$binary` / `$uuid` a `Buffer` (or, with `{binary: 'wrapper'}`, the wrapper object as it is, which
 * our API reads too). Everything lossy is pushed to `lost` as a short note.
 */
export function fromExtendedJson(value, lost = [], how = {}) {
  if (Array.isArray(value)) return value.map((v) => fromExtendedJson(v, lost, how));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  const only = (k) => keys.length === 1 && keys[0] === k;
  if (only('$numberInt')) return Number(value.$numberInt);
  if (only('$numberDouble')) return Number(value.$numberDouble);
  if (only('$numberLong')) {
    const n = Number(value.$numberLong);
    if (!Number.isSafeInteger(n)) lost.push(`Int64 ${value.$numberLong} as a double`);
    return n;
  }
  if (only('$numberDecimal')) {
    const n = Number(value.$numberDecimal);
    if (String(n) !== value.$numberDecimal) lost.push(`Decimal128 ${value.$numberDecimal} as the double ${n}`);
    return n;
  }
  if (only('$date')) {
    const d = value.$date;
    if (typeof d === 'object' && d !== null) return new Date(Number(d.$numberLong));
    return new Date(DATE_ONLY.test(d) ? `${d}T00:00:00Z` : d);
  }
  if (only('$oid')) {
    lost.push('ObjectId as its hex string');
    return value.$oid;
  }
  if ((only('$binary') || only('$uuid')) && how.binary === 'wrapper') return value;
  if (only('$binary')) {
    lost.push('Binary as a Buffer (subtype lost)');
    const b = value.$binary;
    return Buffer.from(typeof b === 'string' ? b : b.base64, 'base64');
  }
  if (only('$uuid')) {
    lost.push('UUID as a Buffer');
    return Buffer.from(value.$uuid.replace(/-/g, ''), 'hex');
  }
  if (only('$regularExpression')) {
    const { pattern, options } = value.$regularExpression;
    const flags = [...options].filter((f) => 'ims'.includes(f)).join('');
    if (flags.length !== options.length) lost.push(`regex options ${options} as /${flags}`);
    return new RegExp(pattern, flags);
  }
  const out = {};
  for (const k of keys) out[k] = fromExtendedJson(value[k], lost, how);
  return out;
}
