// Browser and bundler entry (ES modules). Call `await init()` once before the other functions;
// it fetches and instantiates the WebAssembly module next to this file.
import initWasm, * as raw from '../pkg/web/cqrs_mongo_spec.js';

/** A specification error: `code` is stable across Rust, JS and Python; `path` points at the node. */
export class SpecError extends Error {
  constructor(message, code, path) {
    super(message);
    this.name = 'SpecError';
    this.code = code;
    this.path = path;
  }
}

let ready;
export function init(moduleOrPath) {
  ready ??= initWasm(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath }).then(
    () => raw.setSpecErrorClass(SpecError),
    (err) => {
      ready = undefined; // let a later call retry
      throw err;
    },
  );
  return ready;
}

export const compile = (spec, options, settings) => raw.compile(spec, options, settings);
export const compileJson = (specJson, optionsJson, settings) => raw.compileJson(specJson, optionsJson, settings);
export const validate = (spec, options, settings) => raw.validate(spec, options, settings);
export const operators = () => raw.operators();
export default { init, compile, compileJson, validate, operators, SpecError };
