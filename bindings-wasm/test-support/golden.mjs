// What the Node test files share about the golden corpus (outside test/, which `node --test`
// runs whole): where it is, its case files, a case's members as raw JSON text, and the typed
// comparison of canonical Extended JSON.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const goldenRoot = join(dirname(fileURLToPath(import.meta.url)), '../../tests/golden');

/** Every case file below the corpus (its sub-folders: `dataset.json` is not a case), sorted. */
export function caseFiles(dir = goldenRoot) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return caseFiles(path);
    return name.endsWith('.json') && dir !== goldenRoot ? [path] : [];
  });
}

/**
 * The raw JSON text of each top-level member of an object, numbers unparsed: `JSON.parse` would
 * turn `1.0` into `1` and large integers into doubles, so specs are passed as the text cut out.
 */
export function rawMembers(text) {
  const members = {};
  let i = text.indexOf('{') + 1;
  const skipWs = () => { while (/\s/.test(text[i])) i++; };
  const skipString = () => { i++; while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1; i++; };
  for (;;) {
    skipWs();
    if (text[i] === '}') return members;
    const keyStart = i;
    skipString();
    const key = JSON.parse(text.slice(keyStart, i));
    skipWs(); i++; skipWs(); // the colon
    const start = i;
    let depth = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') { skipString(); continue; }
      if (c === '{' || c === '[') depth++;
      if (c === '}' || c === ']') { if (depth === 0) break; depth--; }
      if (c === ',' && depth === 0) break;
      i++;
    }
    members[key] = text.slice(start, i).trim();
    skipWs();
    if (text[i] === ',') i++;
  }
}

const WRAPPERS = {
  $numberInt: (v) => ['int32', Number(v)],
  $numberLong: (v) => ['int64', BigInt(v).toString()],
  $numberDouble: (v) => ['double', Object.is(Number(v), -0) ? '-0' : String(Number(v))],
  $numberDecimal: (v) => ['decimal', v],
  $date: (v) => ['date', BigInt(v.$numberLong).toString()],
  $oid: (v) => ['oid', v],
  $binary: (v) => ['binary', v.subType, v.base64],
};

/**
 * Canonical Extended JSON as a typed, order-preserving form: `"1.0"` and `"1"` doubles agree,
 * Int32, Int64 and Double differ, `-0.0` is not `0.0`, key order counts.
 */
export function typed(value) {
  if (Array.isArray(value)) return value.map(typed);
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && WRAPPERS[keys[0]]) return WRAPPERS[keys[0]](value[keys[0]]);
    return keys.map((key) => [key, typed(value[key])]);
  }
  return value;
}

/** `typed` as text, for one string comparison. */
export const typedText = (value) => JSON.stringify(typed(value));
