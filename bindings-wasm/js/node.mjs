// Node entry (ES modules): the same instance as node.cjs.
import api from './node.cjs';

export const {
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
  init,
  SpecError,
  DecompileError,
  MatchError,
} = api;
export default api;
