// Documents written as BSON bytes straight into the WebAssembly module's input buffer, where a
// prepared matcher reads them in place (`Matcher.matchesBson` / `filterBson`): no JSON text, no
// copy rebuilt on the other side. Conversion only, and only of the values whose BSON is not in
// doubt: strings, finite numbers, bigints of 64 bits, booleans, null, valid Dates, arrays without
// holes and plain objects, each written as the JSON-text route's reader types it (a safe integer
// as Int32 or Int64, any other number as Double, a Date as a UTC datetime). Anything else (an
// undefined item, a key starting with `$` or holding NUL, a lone surrogate, another class, a
// getter or Proxy that throws, a document nested near the depth limit) gives up, and the caller
// sends the JSON text instead, whose reader accepts it or reports it at its path: the two routes
// answer alike, which the package's tests compare on generated documents.

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const isInt64 = (big) => BigInt.asIntN(64, big) === big;
const encoder = new TextEncoder();

/** Thrown inside the writer: the value is left to the JSON-text route. */
const GIVE_UP = { giveUp: true };
/** Thrown inside the writer: the buffer is too small. */
const NO_ROOM = { noRoom: true };

/** The writer's state: the buffer, its DataView, the next byte, the nesting limit. */
let bytes = new Uint8Array(0);
let view;
let pos = 0;
let end = 0;
let maxNesting = 0;

function room(n) {
  if (pos + n > end) throw NO_ROOM;
}

/** A key as a NUL-terminated UTF-8 string; a `$` key or one holding NUL gives up. */
function key(name) {
  const n = name.length;
  if (n > 0 && name.charCodeAt(0) === 36) throw GIVE_UP;
  room(n + 1);
  let i = 0;
  for (; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80 || c === 0) break;
    bytes[pos + i] = c;
  }
  if (i === n) {
    pos += n;
  } else {
    if (name.includes('\0')) throw GIVE_UP;
    pos += utf8(name, n);
  }
  bytes[pos++] = 0;
}

/** Writes `text` (of `n` code units, not all ASCII) as UTF-8 at `pos`; returns its length. */
function utf8(text, n) {
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate: the JSON-text route reports it.
      if (c > 0xdbff || i + 1 === n) throw GIVE_UP;
      const d = text.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) throw GIVE_UP;
      i++;
    }
  }
  room(3 * n);
  return encoder.encodeInto(text, bytes.subarray(pos, end)).written;
}

/** A string value: its length with the NUL, its UTF-8, the NUL. */
function string(text) {
  const n = text.length;
  room(5 + n);
  const at = pos;
  pos += 4;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) break;
    bytes[pos + i] = c;
  }
  pos += i === n ? n : utf8(text, n);
  room(1);
  bytes[pos++] = 0;
  view.setInt32(at, pos - at - 4, true);
}

/** One element: its type byte, its key, its value. */
function element(name, v, depth) {
  room(1);
  const typeAt = pos++;
  key(name);
  switch (typeof v) {
    case 'string':
      bytes[typeAt] = 0x02;
      string(v);
      return;
    case 'number':
      if (Number.isSafeInteger(v)) {
        if (v >= INT32_MIN && v <= INT32_MAX) {
          bytes[typeAt] = 0x10;
          room(4);
          view.setInt32(pos, v, true);
          pos += 4;
        } else {
          bytes[typeAt] = 0x12;
          room(8);
          view.setBigInt64(pos, BigInt(v), true);
          pos += 8;
        }
        return;
      }
      if (!Number.isFinite(v)) throw GIVE_UP;
      bytes[typeAt] = 0x01;
      room(8);
      view.setFloat64(pos, v, true);
      pos += 8;
      return;
    case 'boolean':
      bytes[typeAt] = 0x08;
      room(1);
      bytes[pos++] = v ? 1 : 0;
      return;
    case 'bigint':
      if (!isInt64(v)) throw GIVE_UP;
      bytes[typeAt] = 0x12;
      room(8);
      view.setBigInt64(pos, v, true);
      pos += 8;
      return;
    case 'object':
      break;
    default:
      throw GIVE_UP;
  }
  if (v === null) {
    bytes[typeAt] = 0x0a;
    return;
  }
  if (depth >= maxNesting) throw GIVE_UP;
  if (Array.isArray(v)) {
    bytes[typeAt] = 0x04;
    array(v, depth + 1);
  } else if (v instanceof Date) {
    const ms = v.getTime();
    if (!Number.isFinite(ms)) throw GIVE_UP;
    bytes[typeAt] = 0x09;
    room(8);
    view.setBigInt64(pos, BigInt(ms), true);
    pos += 8;
  } else {
    bytes[typeAt] = 0x03;
    object(v, depth + 1, undefined);
  }
}

function array(items, depth) {
  room(4);
  const at = pos;
  pos += 4;
  const { length } = items;
  for (let i = 0; i < length; i++) {
    const item = items[i];
    if (item === undefined) throw GIVE_UP;
    element(i < 10 ? DIGITS[i] : String(i), item, depth);
  }
  room(1);
  bytes[pos++] = 0;
  view.setInt32(at, pos - at, true);
}

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** A plain object's own enumerable fields (at the root only those in `keep`), undefined ones left out. */
function object(v, depth, keep) {
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) throw GIVE_UP;
  room(4);
  const at = pos;
  pos += 4;
  const keys = Object.keys(v);
  for (let k = 0; k < keys.length; k++) {
    const name = keys[k];
    if (keep !== undefined && !keep.has(name)) {
      // The JSON-text route keeps a root key starting with `$`: left to it.
      if (name.charCodeAt(0) === 36) throw GIVE_UP;
      continue;
    }
    const item = v[name];
    if (item !== undefined) element(name, item, depth);
  }
  room(1);
  bytes[pos++] = 0;
  view.setInt32(at, pos - at, true);
}

/**
 * Writes `document` (with `keep`, a Set: only those top-level keys) as BSON at the start of
 * `target` (a Uint8Array) and returns its length; -1 when it is left to the JSON-text route,
 * -2 when `target` is too small. `maxDepth` is the route's nesting limit.
 */
export function bsonDocument(document, keep, maxDepth, target) {
  return bsonDocuments([document], keep, maxDepth, target, undefined);
}

/**
 * Writes each document of `documents` back to back, as `bsonDocument`, pushing each onto
 * `items` (when given); returns the bytes written, -1 or -2.
 */
export function bsonDocuments(documents, keep, maxDepth, target, items) {
  if (!Array.isArray(documents)) return -1;
  if (target !== bytes) {
    // A new view of the buffer (the first write, or memory grown): its DataView made once.
    bytes = target;
    view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  }
  pos = 0;
  end = target.byteLength;
  // Two levels short of the route's limit: a Date is two levels of JSON text there.
  maxNesting = maxDepth - 3;
  try {
    const { length } = documents;
    for (let i = 0; i < length; i++) {
      const document = documents[i];
      if (typeof document !== 'object' || document === null || Array.isArray(document) || document instanceof Date) {
        return -1;
      }
      if (items !== undefined) items.push(document);
      object(document, 1, keep);
    }
    return pos;
  } catch (err) {
    return err === NO_ROOM ? -2 : -1;
  }
}
