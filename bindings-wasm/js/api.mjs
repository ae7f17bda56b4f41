// The package's JS layer, shared by every entry point (the CommonJS copy in pkg/node/api.cjs is
// generated from this file by scripts/build-wasm.sh). It only converts: JS values to JSON text
// on the way in (one string crosses into WebAssembly instead of one call per value), JSON text
// to JS values on the way out. All compiling happens in the WebAssembly module.

/** A specification error: `code` is stable across Rust, JS and Python; `path` points at the node. */
export class SpecError extends Error {
  constructor(message, code, path) {
    super(message);
    this.name = 'SpecError';
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
    const copy = {};
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
 * JSON text of a spec or options value. `Date` becomes `{"$date": {"$numberLong": ms}}` and a
 * `BigInt` within Int64 `{"$numberLong": "…"}` (typed as BSON Date and Int64); a `BigInt`
 * outside Int64 is written as the plain integer it is, which the compiler refuses like any
 * integer literal outside Int64 (`invalid_value` at its path). `undefined` properties are
 * skipped as JSON.stringify does; functions, symbols, NaN, infinities, other object types and
 * cycles are SpecErrors with the path of the value. So is anything a value throws while it is
 * read (a getter, a Proxy trap): the walker never lets another exception out.
 *
 * `maxDepth` is the compiler's limit on nesting (`limits().maxJsonDepth` of the WebAssembly
 * module): a list or object inside that many others is `too_deep` at its path, so a deep or
 * cyclic JS value fails exactly as the same value written as JSON text does.
 */
export function toJsonText(value, path, maxDepth) {
  const parts = [];
  const base = path.length;
  const open = () => {
    if (path.length - base >= maxDepth) {
      throw fail(path, 'too_deep', `the input nests more than ${maxDepth} lists and objects inside each other (or is cyclic)`);
    }
  };
  const unreadable = (err) => fail(path, 'invalid_value', `reading the value threw ${thrown(err)}`);
  const read = (get) => {
    try {
      return get();
    } catch (err) {
      throw unreadable(err);
    }
  };
  const walk = (v) => {
    try {
      walkValue(v);
    } catch (err) {
      throw err instanceof SpecError ? err : unreadable(err);
    }
  };
  const walkValue = (v) => {
    switch (typeof v) {
      case 'string':
        parts.push(JSON.stringify(v));
        return;
      case 'boolean':
        parts.push(v ? 'true' : 'false');
        return;
      case 'number':
        if (!Number.isFinite(v)) throw fail(path, 'invalid_value', `${v} is not a finite number`);
        // Integers beyond 2^53 are not exact in JS: they stay doubles rather than become Int64.
        parts.push(Number.isInteger(v) && !Number.isSafeInteger(v) ? `{"$numberDouble":"${v}"}` : String(v));
        return;
      case 'bigint':
        parts.push(isInt64(v) ? `{"$numberLong":"${v}"}` : String(v));
        return;
      case 'object':
        break;
      default:
        throw fail(path, 'invalid_value', `${describe(v)} is not a JSON value`);
    }
    if (v === null) {
      parts.push('null');
    } else if (Array.isArray(v)) {
      open();
      parts.push('[');
      const length = v.length;
      for (let i = 0; i < length; i++) {
        if (i > 0) parts.push(',');
        path.push(i);
        const item = read(() => v[i]);
        if (item === undefined) throw fail(path, 'invalid_value', 'undefined is not a value');
        walk(item);
        path.pop();
      }
      parts.push(']');
    } else if (v instanceof Date) {
      const ms = v.getTime();
      if (!Number.isFinite(ms)) throw fail(path, 'invalid_value', 'an invalid Date');
      parts.push(`{"$date":{"$numberLong":"${ms}"}}`);
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw fail(path, 'invalid_value', `${describe(v)} is not a JSON value`);
      }
      open();
      parts.push('{');
      let first = true;
      for (const key of Object.keys(v)) {
        path.push(key);
        const item = read(() => v[key]);
        if (item !== undefined) {
          if (!first) parts.push(',');
          first = false;
          parts.push(JSON.stringify(key), ':');
          walk(item);
        }
        path.pop();
      }
      parts.push('}');
    }
  };
  walk(value);
  return parts.join('');
}

/**
 * Fast path of `toJsonText`: the engine's JSON.stringify with a replacer for the values JSON has
 * no form for. Anything suspicious (a function, symbol, non-finite number, undefined list item,
 * class instance, cycle) sends the value to the careful walker above, which reports the error
 * with its path.
 */
function toJsonTextFast(value, path, maxDepth) {
  let suspicious = false;
  let text;
  try {
    text = JSON.stringify(value, function replacer(key, v) {
      const original = this[key];
      switch (typeof original) {
        case 'bigint':
          if (!isInt64(original)) suspicious = true; // written as a plain integer by the walker
          return { $numberLong: String(original) };
        case 'number':
          if (!Number.isFinite(original)) suspicious = true;
          else if (Number.isInteger(original) && !Number.isSafeInteger(original)) return { $numberDouble: String(original) };
          return v;
        case 'function':
        case 'symbol':
          suspicious = true;
          return v;
        case 'undefined':
          if (Array.isArray(this)) suspicious = true;
          return v;
        case 'object':
          if (original === null || Array.isArray(original)) return v;
          if (original instanceof Date) {
            const ms = original.getTime();
            if (!Number.isFinite(ms)) suspicious = true;
            return { $date: { $numberLong: String(ms) } };
          }
          if (Object.getPrototypeOf(original) !== Object.prototype && Object.getPrototypeOf(original) !== null) suspicious = true;
          return v;
        default:
          return v;
      }
    });
  } catch {
    suspicious = true; // a cycle, or a getter that throws
  }
  return suspicious || text === undefined ? toJsonText(value, path, maxDepth) : text;
}

/** The public functions over a loaded WebAssembly module (`raw`, the wasm-bindgen glue). */
export function makeApi(raw) {
  raw.setSpecErrorClass(SpecError);
  const { maxJsonDepth } = raw.limits();
  const specText = (spec) => {
    if (typeof spec === 'string') return spec;
    if (spec === undefined || spec === null) {
      throw new SpecError('at <root>: the specification is missing (undefined or null)', 'invalid_node', []);
    }
    return toJsonTextFast(spec, [], maxJsonDepth);
  };
  const optionsText = (options) => {
    if (options === undefined || options === null) return undefined;
    return typeof options === 'string' ? options : toJsonTextFast(options, ['options'], maxJsonDepth);
  };
  return {
    compile(spec, options, settings) {
      const plain = plainSettings(settings);
      const specJson = specText(spec);
      const opts = optionsText(options);
      if (plain && plain.output === 'js') return raw.compileJs(specJson, opts, plain);
      return JSON.parse(raw.compileJson(specJson, opts, plain));
    },
    compileJson(specJson, optionsJson, settings) {
      return raw.compileJson(specJson, optionsJson, plainSettings(settings));
    },
    validate(spec, options, settings) {
      const plain = plainSettings(settings);
      let specJson;
      let opts;
      try {
        specJson = specText(spec);
        opts = optionsText(options);
      } catch (err) {
        if (err instanceof SpecError) return [{ code: err.code, path: err.path, message: err.reason ?? err.message }];
        throw err;
      }
      return raw.validateJson(specJson, opts, plain);
    },
    operators() {
      return raw.operators();
    },
    querybuilderFields(schema) {
      return JSON.parse(raw.querybuilderFieldsJson(toJsonTextFast(schema, ['schema'], maxJsonDepth)));
    },
  };
}
