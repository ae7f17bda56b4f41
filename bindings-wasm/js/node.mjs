// Node entry (ES modules): the same instance as node.cjs.
import api from './node.cjs';

export const { Compiler, compile, compileJson, validate, operators, querybuilderFields, init, SpecError } = api;
export default api;
