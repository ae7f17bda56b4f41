// Query options, compiler settings and the field schema. Part of the declarations of the `cqrs-mongo-spec` npm
// package: index.d.ts re-exports every name declared here.

import type { JsonValue } from './results';

/** A sort direction in the two-item form of `order_by` (the compiler ignores case). */
export type SortDirectionName = 'asc' | 'desc' | 'ASC' | 'DESC';

/** One `order_by` item: `"field"`, `"-field"` (descending), `"+field"`, or `[field, direction]`. */
export type OrderByItem = string | readonly [field: string, direction: SortDirectionName];

/** The legacy query options (every member optional; `null` means not set). */
export interface QueryOptions {
  /** Maximum number of documents, an integer ≥ 1. */
  limit?: number | null;
  /** Number of documents to skip, an integer ≥ 0. */
  offset?: number | null;
  /** Sort order; a field may appear once. */
  order_by?: readonly OrderByItem[] | null;
  /** Fields to return (no path may be a prefix of another). */
  select_fields?: readonly string[] | null;
  /** Distinct combinations of `select_fields` (aggregation pipeline only). */
  distinct?: boolean | null;
  /** Group and count by these fields (aggregation pipeline only). */
  group_by?: readonly string[] | null;
}

/** Result value formats. */
export type OutputFormat = 'relaxed' | 'canonical' | 'js';

/**
 * The third argument of every function. Leave a member out rather than setting it to
 * `undefined`: `output: undefined` is rejected with `invalid_option`.
 */
export interface Settings<O extends OutputFormat = OutputFormat> {
  /** Result format: relaxed Extended JSON (default), canonical Extended JSON, or JS values. */
  output?: O;
  /** Field whitelist: exact paths, and `prefix.*` for anything below `prefix`. */
  allowedFields?: readonly string[];
  /**
   * Maximum nesting depth of the spec (default 32, at most 45: deeper specs compile to filters
   * beyond the 100 levels of nesting MongoDB accepts; a larger setting is `invalid_option`).
   */
  maxDepth?: number;
  /** Maximum number of nodes (default 1000). */
  maxNodes?: number;
  /** Maximum number of items in any list (default 10000). */
  maxListLen?: number;
  /** Only these operators (names or aliases) may be used (`operator_not_allowed`). */
  allowedOperators?: readonly string[];
  /** These operators (names or aliases) may not be used (`operator_not_allowed`). */
  deniedOperators?: readonly string[];
  /** What `regex` and `iregex` may do. */
  regex?: RegexPolicy;
  /** Longest string anywhere in a value, in bytes (default 65536; `string_too_long`). */
  maxStringLen?: number;
  /** Largest spec, in bytes of JSON text (default 16 MiB; `spec_too_large`). */
  maxSpecLen?: number;
  /**
   * The fields specs may use: their types (values are cast by them), operators, enumerated
   * values and stored paths (the compiled filter uses those).
   */
  schema?: FieldSchema;
}

/** The type of a schema field. */
export type FieldType =
  | 'string'
  | 'integer'
  | 'decimal'
  | 'double'
  | 'bool'
  | 'date'
  | 'datetime'
  | 'uuid'
  | 'object_id'
  | 'geo_point'
  | 'geo_shape'
  | 'array'
  | 'object';

/** One field of a {@link FieldSchema}. */
export interface FieldDef {
  /** The name specs use in `attr`. */
  name: string;
  /** Its type. */
  type: FieldType;
  /** For `array`: the items' type. */
  items?: Exclude<FieldType, 'array'>;
  /** Allowed operators (default: those meaningful for the type). */
  operators?: readonly string[];
  /** The only values it may be compared with (`value_not_allowed`). */
  values?: readonly JsonValue[];
  /** The stored document path (default: the name). */
  path?: string;
  /** What a UI shows. */
  label?: string;
}

/** The fields specs may use (the same document in Rust, JavaScript and Python). */
export interface FieldSchema {
  fields: readonly FieldDef[];
}

/** The regex operators' policy. */
export interface RegexPolicy {
  /** Whether `regex` / `iregex` may be used at all (default true; `regex_not_allowed`). */
  enabled?: boolean;
  /** Longest pattern, in bytes (default 4096; `regex_too_long`). */
  maxLen?: number;
  /**
   * Accept patterns that can backtrack catastrophically, such as `(a+)+` (default false:
   * they are `unsafe_regex`).
   */
  allowBacktracking?: boolean;
}

/** Settings of {@link compileJson}, which returns Extended JSON text only. */
export type JsonSettings = Settings<'relaxed' | 'canonical'>;
