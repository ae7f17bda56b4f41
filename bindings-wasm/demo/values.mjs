// The text of a condition's value input, both ways: `toVal` reads what was typed into the `val`
// of a specification (by the operator's value shape), `valueText` writes a `val` back as text
// that `toVal` reads into the very same value, or says it cannot (`undefined`).

/** What the value input suggests for each value shape. */
export const PLACEHOLDERS = {
  any: 'value', scalar: 'value', list: 'a, b, c', range: 'low, high', string: 'text',
  pattern: 'regular expression', key: 'key or path', keys: 'key1, key2',
  document: '{"key": "value"}', geometry: '{"type": "Point", "coordinates": [lng, lat]}',
  distance: '[[lng, lat], metres]',
};
/** Shapes whose value is typed as JSON (shown in a monospace font). */
export const JSON_SHAPES = ['document', 'geometry', 'distance'];

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** Numeric text becomes a number (integers only while exact in a double); the rest stays text. */
function item(text) {
  if (!NUMBER.test(text)) return text;
  const number = Number(text);
  const integral = /^-?\d+$/.test(text);
  return Number.isFinite(number) && (!integral || Number.isSafeInteger(number)) ? number : text;
}

const splitList = (text) => text.split(',').map((s) => s.trim()).filter((s) => s !== '');

/** JSON text that parses to the wanted kind (`array` or `object`), else `undefined`. */
function parsed(text, kind) {
  try {
    const value = JSON.parse(text);
    const isArray = Array.isArray(value);
    return value !== null && typeof value === 'object' && isArray === (kind === 'array') ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `val` of a condition from its text input (`undefined`: leave `val` out). A scalar typed
 * as a JSON object (an Extended JSON value such as `{"$oid": "…"}`) and a list typed as a JSON
 * array are read as JSON.
 */
export function toVal(shape, text) {
  if (shape === 'flag' || text.trim() === '') return undefined;
  const trimmed = text.trim();
  switch (shape) {
    case 'list': case 'range':
      return (trimmed.startsWith('[') && parsed(trimmed, 'array')) || splitList(text).map(item);
    case 'keys': return splitList(text);
    case 'any': case 'scalar':
      return (trimmed.startsWith('{') && parsed(trimmed, 'object')) || item(trimmed);
    case 'document': case 'geometry': case 'distance':
      try { return JSON.parse(text); } catch { return text; } // the compiler reports the shape
    default: return text;
  }
}

/** JSON on one line, with a space after `:` and `,` and inside braces. */
export function oneLine(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(oneLine).join(', ')}]`;
  const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${oneLine(v)}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const isDate = (v) => v !== null && typeof v === 'object' && Object.keys(v).length === 1 && typeof v.$date === 'string';

/**
 * The text of `val` in the value input for an operator of value shape `shape`, on a field whose
 * react-querybuilder `inputType` is `inputType`: `undefined` when no text reads back into
 * exactly `val`. A `{"$date": ISO}` on a date field is shown as the ISO text, which the field's
 * cast reads into the same date.
 */
export function valueText(shape, val, inputType) {
  if (val === undefined) return '';
  if (shape === 'flag') return undefined;
  const dates = inputType === 'date' || inputType === 'datetime-local';
  const plain = (v) => (dates && isDate(v) ? v.$date : v);
  const target = Array.isArray(val) && shape !== 'distance' ? val.map(plain) : plain(val);
  const natural = (v) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : oneLine(v));
  const candidates = Array.isArray(target) && !JSON_SHAPES.includes(shape)
    ? [target.map(natural).join(', '), oneLine(target)]
    : [natural(target), oneLine(target)];
  return candidates.find((text) => same(toVal(shape, text), target));
}
