// Browser and bundler entry (ES modules). Call `await init()` once before the other functions;
// it fetches and instantiates the WebAssembly module next to this file.
import initWasm, * as raw from '../pkg/web/cqrs_mongo_spec.js';
import { Compiler, DecompileError, makeApi, MatchError, Matcher, SpecError } from './api.mjs';

export { Compiler, DecompileError, MatchError, Matcher, SpecError };

let api;
let ready;
export function init(moduleOrPath) {
  ready ??= initWasm(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath }).then(
    () => {
      api = makeApi(raw);
    },
    (err) => {
      ready = undefined; // let a later call retry
      throw err;
    },
  );
  return ready;
}

function loaded() {
  if (!api) throw new Error('cqrs-mongo-spec: call and await init() before using the compiler');
  return api;
}

export const compile = (spec, options, settings) => loaded().compile(spec, options, settings);
export const compileJson = (specJson, optionsJson, settings) => loaded().compileJson(specJson, optionsJson, settings);
export const validate = (spec, options, settings) => loaded().validate(spec, options, settings);
export const matches = (spec, document, settings) => loaded().matches(spec, document, settings);
export const filter = (spec, documents, settings) => loaded().filter(spec, documents, settings);
export const matcher = (spec, settings) => loaded().matcher(spec, settings);
export const decompile = (mongoFilter) => loaded().decompile(mongoFilter);
export const decompileJson = (filterJson) => loaded().decompileJson(filterJson);
export const operators = () => loaded().operators();
export const querybuilderFields = (schema) => loaded().querybuilderFields(schema);
export default {
  init,
  Compiler,
  Matcher,
  compile,
  compileJson,
  validate,
  matches,
  filter,
  matcher,
  decompile,
  decompileJson,
  operators,
  querybuilderFields,
  SpecError,
  DecompileError,
  MatchError,
};
