'use strict';
// Node entry (CommonJS). The ESM entry node.mjs re-exports this module, so `import` and
// `require` share one SpecError class.
const raw = require('../pkg/node/cqrs_mongo_spec.js');

/** A specification error: `code` is stable across Rust, JS and Python; `path` points at the node. */
class SpecError extends Error {
  constructor(message, code, path) {
    super(message);
    this.name = 'SpecError';
    this.code = code;
    this.path = path;
  }
}
raw.setSpecErrorClass(SpecError);

module.exports = {
  compile: (spec, options, settings) => raw.compile(spec, options, settings),
  compileJson: (specJson, optionsJson, settings) => raw.compileJson(specJson, optionsJson, settings),
  validate: (spec, options, settings) => raw.validate(spec, options, settings),
  operators: () => raw.operators(),
  /** Node loads the module synchronously; `init` exists so code can be shared with browsers. */
  init: async () => {},
  SpecError,
};
