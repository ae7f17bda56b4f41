// The package's JS layer, shared by every entry point (the CommonJS copy in pkg/node/api.cjs is
// generated from this file by scripts/build-wasm.sh). It only converts: JS values to JSON text
// on the way in (one string crosses into WebAssembly instead of one call per value), JSON text
// to JS values on the way out (and documents to BSON bytes for a matcher, in bson.mjs). All
// compiling and evaluating happens in the WebAssembly module.

import { bsonDocument, bsonDocuments } from './bson.mjs';

/** A specification error: `code` is stable across Rust, JS and Python; `path` points at the node. */
export class SpecError extends Error {
  constructor(message, code, path) {
    super(message);
    this.name = 'SpecError';
    this.code = code;
    this.path = path;
  }
}

/**
 * A filter that `decompile` cannot turn into a specification: `code` is stable across Rust, JS
 * and Python; `path` points into the filter (keys and list indexes from its root).
 */
export class DecompileError extends Error {
  constructor(message, code, path) {
    super(message);
    this.name = 'DecompileError';
    this.code = code;
    this.path = path;
  }
}

/**
 * A compiled filter that cannot be evaluated in memory (`matches`, `filter`): a text search or
 * `$near` (`needs_server`), a regular expression the matcher refuses or that runs out of steps.
 * `code` is stable across Rust, JS and Python; `path` points into the compiled filter.
 */
export class MatchError extends Error {
  constructor(message, code, path) {
    super(message);
    this.name = 'MatchError';
    this.code = code;
    this.path = path;
  }
}

function fail(path, code, message) {
  const where = path.reduce((text, seg) => (typeof seg === 'number' ? `${text}[${seg}]` : `${text}.${seg}`), '<root>');
  const err = new SpecError(`at ${where}: ${message}`, code, path.slice());
  Object.defineProperty(err, 'reason', { value: message }); // validate() reports the bare message
  return err;
}

const isInt64 = (big) => BigInt.asIntN(64, big) === big;

/** What a value threw, without trusting it (a thrown Proxy or a throwing `message` getter). */
function thrown(err) {
  try {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } catch {
    return 'an exception';
  }
}

/**
 * A plain copy of the settings object, so nothing the caller passed (a getter, a Proxy) runs
 * inside WebAssembly; what it throws while copied is `invalid_option`.
 */
function plainSettings(settings) {
  if (settings === undefined || settings === null || typeof settings !== 'object') return settings;
  try {
    // Without a prototype, so a key named "__proto__" is a key (refused as an unknown setting),
    // not the copy's prototype.
    const copy = Object.create(null);
    for (const key of Object.keys(settings)) {
      const value = settings[key];
      copy[key] = Array.isArray(value) ? Array.from(value) : value;
    }
    return copy;
  } catch (err) {
    throw fail(['settings'], 'invalid_option', `reading the settings threw ${thrown(err)}`);
  }
}

function describe(value) {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  return `a ${Object.prototype.toString.call(value).slice(8, -1)}`;
}

/**
 * JSON text of short strings seen before (object keys with their colon): specs repeat a few
 * keys (`op`, `attr`, `val`) and values (operator names). At most 4096 of each are kept.
 */
const quotedKeys = new Map();
const quotedStrings = new Map();
function quoted(cache, text, suffix) {
  let json = cache.get(text);
  if (json === undefined) {
    json = JSON.stringify(text) + suffix;
    if (text.length <= 32 && cache.size < 4096) cache.set(text, json);
  }
  return json;
}
const quotedKey = (key) => quoted(quotedKeys, key, ':');

/**
 * JSON text of a spec or options value, read in one walk that reads every value once (a getter
 * or Proxy trap runs once, so what is checked is what is written). `Date` becomes
 * `{"$date": {"$numberLong": ms}}` and a `BigInt` within Int64 `{"$numberLong": "…"}` (typed as
 * BSON Date and Int64); a `BigInt` outside Int64 is written as the plain integer it is, which
 * the compiler refuses like any integer literal outside Int64 (`invalid_value` at its path).
 * `undefined` properties are skipped as JSON.stringify does; functions, symbols, NaN,
 * infinities, other object types, cycles and list holes are SpecErrors with the path of the
 * value. So is anything a value throws while it is read: the walker never lets another
 * exception out.
 *
 * Every limit applies before anything proportional to a declared size is allocated, so any
 * value is refused in bounded time and memory:
 * - `maxDepth` (the parser's limit, `limits().maxJsonDepth`): a list or object inside that many
 *   others is `too_deep` at its path, as the same value written as JSON text is;
 * - `maxLen`: a list whose `length` says more items than any specification can hold (the larger
 *   of `max_list_len` and `max_nodes`) is `list_too_long` at its path, before one item is read;
 * - `maxText`: the text stops growing at `max_spec_len` code units (each at least one byte of
 *   UTF-8): past it the value is `spec_too_large` at `root`, as the compiler says of the text.
 * So a walk reads at most `maxText / 2` values whatever lengths the value claims.
 *
 * With `keep` (a Set), a root object keeps only its keys in `keep` and those starting with `$`
 * (what a prepared matcher reads of a document): the others are not read at all.
 */
export function toJsonText(value, path, limits) {
  const { maxDepth, maxLen = Infinity, maxText = Infinity, keep } = typeof limits === 'number' ? { maxDepth: limits } : limits;
  const base = path.length;
  const root = path.slice();
  let out = '';
  const tooLarge = () =>
    fail(root, 'spec_too_large', `the ${base === 0 ? 'specification' : root[0]} is larger than ${maxText} bytes of JSON`);
  // One walk, no closure per value: a value that throws while it is read (a getter, a Proxy
  // trap) leaves `path` where it was read, and the catch below reports it there.
  const walk = (v) => {
    switch (typeof v) {
      case 'string':
        out += quoted(quotedStrings, v, '');
        if (out.length > maxText) throw tooLarge();
        return;
      case 'boolean':
        out += v ? 'true' : 'false';
        return;
      case 'number':
        if (!Number.isFinite(v)) throw fail(path, 'invalid_value', `${v} is not a finite number`);
        // Integers beyond 2^53 are not exact in JS: they stay doubles rather than become Int64.
        out += Number.isInteger(v) && !Number.isSafeInteger(v) ? `{"$numberDouble":"${v}"}` : `${v}`;
        return;
      case 'bigint':
        out += isInt64(v) ? `{"$numberLong":"${v}"}` : `${v}`;
        return;
      case 'object':
        break;
      default:
        throw fail(path, 'invalid_value', `${describe(v)} is not a JSON value`);
    }
    if (v === null) {
      out += 'null';
      return;
    }
    if (path.length - base >= maxDepth) {
      throw fail(path, 'too_deep', `the input nests more than ${maxDepth} lists and objects inside each other (or is cyclic)`);
    }
    if (Array.isArray(v)) {
      const length = v.length;
      if (length > maxLen) {
        throw fail(path, 'list_too_long', `a list of ${length} items is longer than any specification may hold (${maxLen})`);
      }
      if (2 * length + 1 > maxText) throw tooLarge(); // "[", "]", at least a byte and a comma per item
      out += '[';
      const at = path.length;
      for (let i = 0; i < length; i++) {
        if (i > 0) out += ',';
        path[at] = i;
        const item = v[i];
        if (item === undefined) throw fail(path, 'invalid_value', 'undefined is not a value (a hole or an undefined item)');
        walk(item);
      }
      path.length = at;
      out += ']';
    } else if (v instanceof Date) {
      const ms = v.getTime();
      if (!Number.isFinite(ms)) throw fail(path, 'invalid_value', 'an invalid Date');
      out += `{"$date":{"$numberLong":"${ms}"}}`;
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw fail(path, 'invalid_value', `${describe(v)} is not a JSON value`);
      }
      const keys = Object.keys(v);
      out += '{';
      let first = true;
      const at = path.length;
      const only = at === base ? keep : undefined;
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k];
        if (only !== undefined && !only.has(key) && key[0] !== '$') continue;
        path[at] = key;
        const item = v[key];
        if (item !== undefined) {
          out += first ? quotedKey(key) : `,${quotedKey(key)}`;
          first = false;
          walk(item);
        }
      }
      path.length = at;
      out += '}';
    }
    if (out.length > maxText) throw tooLarge();
  };
  try {
    walk(value);
  } catch (err) {
    if (err instanceof SpecError) throw err;
    throw fail(path, 'invalid_value', `reading the value threw ${thrown(err)}`);
  }
  return out;
}

/** `pipeline` as an own data property holding `value`. */
function setPipeline(target, value) {
  Object.defineProperty(target, 'pipeline', { value, writable: true, enumerable: true, configurable: true });
  return value;
}

/**
 * `result` with `pipeline: [{ $match: <a copy of the filter> }]`, parsed from `filterJson` when
 * it is first read (then an own data property like the others); assigning it replaces it.
 */
function withPipeline(result, filterJson) {
  return Object.defineProperty(result, 'pipeline', {
    enumerable: true,
    configurable: true,
    get() {
      return setPipeline(this, [{ $match: JSON.parse(filterJson) }]);
    },
    set(value) {
      setPipeline(this, value);
    },
  });
}

/** `<filter>.a["b.c"][0]`, as Rust writes the path of a DecompileError. */
function filterWhere(path) {
  return path.reduce((text, seg) => {
    if (typeof seg === 'number') return `${text}[${seg}]`;
    return /^[\p{Alphabetic}\p{N}_$]+$/u.test(seg) ? `${text}.${seg}` : `${text}[${JSON.stringify(seg)}]`;
  }, '<filter>');
}

/**
 * The JSON text of a filter (a JS object in Extended JSON, or its text), read by the walker of
 * specs: what it refuses is a DecompileError with the code the decompiler gives the same
 * problem in JSON text (`too_deep` for nesting, `invalid_filter` for anything else).
 */
function filterText(filter, limits) {
  if (typeof filter === 'string') return filter;
  try {
    return toJsonText(filter, [], limits);
  } catch (err) {
    const code = err.code === 'too_deep' ? 'too_deep' : 'invalid_filter';
    const reason = err.reason ?? err.message;
    throw new DecompileError(`at ${filterWhere(err.path)}: ${reason}`, code, err.path);
  }
}

/**
 * A document's JSON text (an object, or its text), read with the parser's nesting limit
 * (`limits.maxDepth` lists and objects, `depth` of them already open around it); of an object,
 * only the top-level keys in `limits.keep` (and those starting with `$`), when it is given.
 */
function documentText(document, limits, path = ['document'], depth = 0) {
  if (typeof document === 'string') return document;
  return toJsonText(document, path, { maxDepth: limits.maxDepth - depth, keep: limits.keep });
}

/** The JSON text of a list of documents, and its items (each read once). */
function documentsText(documents, limits) {
  if (!Array.isArray(documents)) {
    throw fail(['documents'], 'invalid_value', `documents must be a list of documents, got ${describe(documents)}`);
  }
  const items = [];
  let text = '[';
  const path = ['documents', 0];
  try {
    const { length } = documents;
    for (let i = 0; i < length; i++) {
      path[1] = i;
      const item = documents[i];
      if (typeof item !== 'object' || item === null) {
        throw fail(path, 'invalid_value', `a document is an object, got ${item === null ? 'null' : describe(item)}`);
      }
      items.push(item);
      text += (i > 0 ? ',' : '') + documentText(item, limits, path.slice(), 1);
    }
  } catch (err) {
    if (err instanceof SpecError) throw err;
    throw fail(path, 'invalid_value', `reading the documents threw ${thrown(err)}`);
  }
  return { items, text: `${text}]` };
}

const utf8Encoder = new TextEncoder();
/** The module's input buffer: its first size; it doubles, up to the last, when a document's BSON does not fit. */
const INPUT_BYTES = 65536;
const MAX_INPUT_BYTES = 16 * 1024 * 1024;
let inputBytes = INPUT_BYTES;
/** A view of the module's input buffer, made again when a grown memory has detached it. */
let inputView = new Uint8Array(0);

function inputTarget() {
  if (inputView.byteLength === 0) {
    const at = wasm.inputBuffer(inputBytes);
    inputView = new Uint8Array(wasm.wasmMemory().buffer, at, inputBytes);
  }
  return inputView;
}

/**
 * Whether a document is being written as BSON into the input buffer: a getter of that document
 * may call a matcher itself, which must then leave the buffer alone (its document goes as a
 * string).
 */
let writingBson = false;

/**
 * `write(target)` (a BSON writer's call) with the input buffer held: its result, or -1 when the
 * buffer is held already or when the module's memory grew while it wrote (a getter that called
 * into the module: the view written to is then detached, and what went to it is lost).
 */
function withInput(write) {
  if (writingBson) return -1;
  writingBson = true;
  try {
    const target = inputTarget();
    const n = write(target);
    return target.byteLength === 0 ? -1 : n;
  } finally {
    writingBson = false;
  }
}

/** A larger input buffer for the next write, or false at the largest. */
function growInput() {
  if (inputBytes >= MAX_INPUT_BYTES) return false;
  inputBytes *= 2;
  inputView = new Uint8Array(0);
  return true;
}

/**
 * Writes a document's text as UTF-8 straight into the module's input buffer, in one
 * `encodeInto` (a lone surrogate as U+FFFD, as wasm-bindgen writes a string argument, which it
 * does a code unit at a time and into a fresh allocation): the byte count, or -1 when the text
 * may not fit (it is then passed as a string).
 */
function writeInput(text) {
  if (writingBson) return -1;
  const target = inputTarget();
  if (3 * text.length > target.byteLength) return -1;
  return utf8Encoder.encodeInto(text, target).written;
}

/** Only `Compiler.matcher` makes a `Matcher`. */
const token = Symbol('Matcher');

/**
 * A spec's filter prepared once (`compiler.matcher(spec)`): `matches(document)` and
 * `filter(documents)` read only the documents. Its WebAssembly memory is released when it is
 * collected, or at once by `free()`.
 */
export class Matcher {
  #raw;
  #limits;

  constructor(raw, maxDepth, key) {
    if (key !== token) throw new TypeError('cqrs-mongo-spec: a Matcher comes from compiler.matcher(spec)');
    this.#raw = raw;
    // Only the top-level fields the filter reads can change its answer: the others of a
    // document object are neither read nor written (undefined: the filter may read any).
    const fields = raw.fields();
    this.#limits = { maxDepth, keep: fields === undefined ? undefined : new Set(fields) };
  }

  /** Whether `find` with the filter would return `document` (an object, or its JSON text). */
  matches(document) {
    if (typeof document === 'object' && document !== null) {
      const { keep, maxDepth } = this.#limits;
      for (;;) {
        const n = withInput((target) => bsonDocument(document, keep, maxDepth, target));
        if (n >= 0) return this.#raw.matchesBson(n);
        if (n === -1 || !growInput()) break;
      }
    }
    const text = documentText(document, this.#limits);
    const n = writeInput(text);
    return n >= 0 ? this.#raw.matchesInput(n, text) : this.#raw.matchesJson(text);
  }

  /** The documents the filter keeps, in their order: the very objects given. */
  filter(documents) {
    const { keep, maxDepth } = this.#limits;
    for (const items = []; ; items.length = 0) {
      const n = withInput((target) => bsonDocuments(documents, keep, maxDepth - 1, target, items));
      if (n >= 0) return Array.from(this.#raw.filterBson(n), (index) => items[index]);
      if (n === -1 || !growInput()) break;
    }
    const { items, text } = documentsText(documents, this.#limits);
    const n = writeInput(text);
    const kept = n >= 0 ? this.#raw.filterInput(n, text) : this.#raw.filterJson(text);
    return Array.from(kept, (index) => items[index]);
  }

  /** Releases the WebAssembly memory now rather than when the object is collected. */
  free() {
    this.#raw.free();
  }
}

/** The WebAssembly module's glue, once `makeApi` has been given it. */
let wasm;

/**
 * A compiler prepared once from its settings (the field schema's index, operator sets, regex
 * policy, output format), then used for any number of specs. Refused settings throw a
 * SpecError (`invalid_option` at `settings.<name>`) here.
 */
export class Compiler {
  #raw;
  #limits;

  constructor(settings) {
    if (!wasm) throw new Error('cqrs-mongo-spec: call and await init() before using the compiler');
    this.#raw = new wasm.Compiler(plainSettings(settings));
    const { maxJsonDepth, maxSpecLen, maxListLen, maxNodes, output } = this.#raw.limits();
    this.#limits = { maxDepth: maxJsonDepth, maxLen: Math.max(maxListLen, maxNodes), maxText: maxSpecLen, output };
  }

  #specText(spec) {
    if (typeof spec === 'string') return spec;
    if (spec === undefined || spec === null) {
      throw new SpecError('at <root>: the specification is missing (undefined or null)', 'invalid_node', []);
    }
    return toJsonText(spec, [], this.#limits);
  }

  #optionsText(options) {
    if (options === undefined || options === null || typeof options === 'string') return options ?? undefined;
    return toJsonText(options, ['options'], this.#limits);
  }

  /**
   * Compiles a spec (an object or JSON text) and optional query options. Without options the
   * result's `pipeline` (`[{ $match: filter }]`, a copy) is built when it is first read.
   */
  compile(spec, options) {
    const specJson = this.#specText(spec);
    const optionsJson = this.#optionsText(options);
    if (this.#limits.output === 'js') return this.#raw.compileJs(specJson, optionsJson);
    if (optionsJson === undefined) {
      const filterJson = this.#raw.compileFilterJson(specJson);
      return withPipeline({ filter: JSON.parse(filterJson) }, filterJson);
    }
    return JSON.parse(this.#raw.compileJson(specJson, optionsJson));
  }

  /** JSON text in, Extended JSON text out (relaxed, or canonical with `output: 'canonical'`). */
  compileJson(specJson, optionsJson) {
    return this.#raw.compileJson(specJson, optionsJson);
  }

  /** Every error of a spec and its options, as `{code, path, message}` objects. */
  validate(spec, options) {
    let specJson;
    let optionsJson;
    try {
      specJson = this.#specText(spec);
      optionsJson = this.#optionsText(options);
    } catch (err) {
      if (err instanceof SpecError) return [{ code: err.code, path: err.path, message: err.reason ?? err.message }];
      throw err;
    }
    return this.#raw.validateJson(specJson, optionsJson);
  }

  /**
   * Whether `find` with the spec's filter would return `document` (an object in Extended JSON,
   * with `Date` and `BigInt` read as in specs, or its JSON text), evaluated in memory.
   */
  matches(spec, document) {
    const prepared = this.matcher(spec);
    try {
      return prepared.matches(document);
    } finally {
      prepared.free();
    }
  }

  /**
   * The documents the spec's filter keeps, in their order: the very objects given (each item is
   * read once).
   */
  filter(spec, documents) {
    const prepared = this.matcher(spec);
    try {
      return prepared.filter(documents);
    } finally {
      prepared.free();
    }
  }

  /**
   * The spec compiled and its filter prepared once (regular expressions included): a `Matcher`
   * for any number of documents. What `matches` throws for the spec, it throws here.
   */
  matcher(spec) {
    return new Matcher(this.#raw.matcherJson(this.#specText(spec)), this.#limits.maxDepth, token);
  }

  /** This compiler's `schema` as react-querybuilder's `fields` (`invalid_option` without one). */
  querybuilderFields() {
    return JSON.parse(this.#raw.querybuilderFieldsJson());
  }

  /** Releases the WebAssembly memory now rather than when the object is collected. */
  free() {
    this.#raw.free();
  }
}

/** The public API over a loaded WebAssembly module (`raw`, the wasm-bindgen glue). */
export function makeApi(raw) {
  raw.setSpecErrorClass(SpecError);
  raw.setDecompileErrorClass(DecompileError);
  raw.setMatchErrorClass(MatchError);
  wasm = raw;
  const standard = new Compiler();
  /** Runs `use` on the default compiler, or on one built for `settings` and freed after. */
  const withCompiler = (settings, use) => {
    if (settings === undefined || settings === null) return use(standard);
    const compiler = new Compiler(settings);
    try {
      return use(compiler);
    } finally {
      compiler.free();
    }
  };
  const { maxJsonDepth, maxSpecLen } = raw.limits();
  const schemaLimits = { maxDepth: maxJsonDepth, maxText: maxSpecLen };
  // A filter is read with the parser's nesting limit only, as the decompiler reads its text.
  const filterLimits = { maxDepth: maxJsonDepth };
  return {
    Compiler,
    Matcher,
    DecompileError,
    MatchError,
    compile: (spec, options, settings) => withCompiler(settings, (c) => c.compile(spec, options)),
    compileJson: (specJson, optionsJson, settings) =>
      withCompiler(settings, (c) => c.compileJson(specJson, optionsJson)),
    validate: (spec, options, settings) => withCompiler(settings, (c) => c.validate(spec, options)),
    matches: (spec, document, settings) => withCompiler(settings, (c) => c.matches(spec, document)),
    filter: (spec, documents, settings) => withCompiler(settings, (c) => c.filter(spec, documents)),
    matcher: (spec, settings) => withCompiler(settings, (c) => c.matcher(spec)),
    decompile: (filter) => JSON.parse(raw.decompileJson(filterText(filter, filterLimits), true)),
    decompileJson: (filterJson) => raw.decompileJson(filterJson, false),
    operators: () => raw.operators(),
    querybuilderFields: (schema) =>
      JSON.parse(raw.querybuilderFieldsJson(typeof schema === 'string' ? schema : toJsonText(schema, ['schema'], schemaLimits))),
  };
}
