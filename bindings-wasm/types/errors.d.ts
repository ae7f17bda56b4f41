// Error codes and paths. Part of the declarations of the `cqrs-mongo-spec` npm
// package: index.d.ts re-exports every name declared here.

/** The stable error codes (the same in Rust, JavaScript and Python). */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_node'
  | 'missing_field'
  | 'unknown_key'
  | 'unknown_operator'
  | 'unsupported_operator'
  | 'empty_group'
  | 'invalid_value'
  | 'invalid_cast'
  | 'unknown_value_type'
  | 'invalid_extended_json'
  | 'invalid_field_path'
  | 'field_not_allowed'
  | 'invalid_regex'
  | 'invalid_text_search'
  | 'too_deep'
  | 'too_many_nodes'
  | 'list_too_long'
  | 'invalid_option'
  | 'operator_not_allowed'
  | 'regex_not_allowed'
  | 'regex_too_long'
  | 'unsafe_regex'
  | 'string_too_long'
  | 'spec_too_large'
  | 'value_type_mismatch'
  | 'value_not_allowed'
  | 'invalid_field_comparison';

/** The stable codes of a {@link DecompileError} (the same in Rust, JavaScript and Python). */
export type DecompileErrorCode =
  | 'invalid_json'
  | 'invalid_extended_json'
  | 'invalid_filter'
  | 'unsupported_filter'
  | 'too_deep';

/**
 * The stable codes of a {@link MatchError} (the same in Rust, JavaScript and Python);
 * `invalid_document` (BSON bytes that do not decode) comes from `matches_raw` in Rust only.
 */
export type EvalErrorCode =
  | 'needs_server'
  | 'unknown_operator'
  | 'invalid_filter'
  | 'invalid_regex'
  | 'unsupported_regex'
  | 'regex_too_complex'
  | 'invalid_document';

/** One step of an error path: an object key or a list index. */
export type PathSegment = string | number;

/**
 * Where an error is, from the root of the spec: `['conditions', 2, 'val']`. Option errors start
 * with `'options'`, settings errors are `['settings']`.
 */
export type ErrorPath = PathSegment[];

/** One error reported by {@link validate}. */
export interface SpecErrorInfo {
  /** Stable error code. */
  code: ErrorCode;
  /** Location of the offending node or value. */
  path: ErrorPath;
  /** English explanation (without the location prefix). */
  message: string;
}
