'use strict';
// Node entry (CommonJS). The ESM entry node.mjs re-exports this module, so `import` and
// `require` share one SpecError class. api.cjs is generated from api.mjs by the build.
const { makeApi, SpecError } = require('../pkg/node/api.cjs');

const api = makeApi(require('../pkg/node/cqrs_mongo_spec.js'));

module.exports = {
  ...api,
  /** Node loads the module synchronously; `init` exists so code can be shared with browsers. */
  init: async () => {},
  SpecError,
};
