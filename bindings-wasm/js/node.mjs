// Node entry (ES modules): the same instance as node.cjs.
import api from './node.cjs';

export const {
  Compiler,
  compile,
  compileJson,
  validate,
  decompile,
  decompileJson,
  operators,
  querybuilderFields,
  init,
  SpecError,
  DecompileError,
} = api;
export default api;
