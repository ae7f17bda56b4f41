// Node entry (ES modules): the same instance as node.cjs.
import api from './node.cjs';

export const {
  Compiler,
  compile,
  compileJson,
  validate,
  matches,
  filter,
  decompile,
  decompileJson,
  operators,
  querybuilderFields,
  init,
  SpecError,
  DecompileError,
  MatchError,
} = api;
export default api;
