// Results: the compiled query in each output format. Part of the declarations of the `cqrs-mongo-spec` npm
// package: index.d.ts re-exports every name declared here.

import type { OutputFormat } from './options';
import type { BinaryWrapper, Decimal128Wrapper, DoubleWrapper, Int32Wrapper, Int64Wrapper, ObjectIdWrapper } from './values';

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Relaxed Extended JSON date: ISO text for years 1970–9999, else `{ $numberLong: ms }`. */
export interface RelaxedDate {
  $date: string | Int64Wrapper;
}

/** Typed values in relaxed output (Int32, Int64 and Double are plain numbers). */
export type RelaxedWrapper = RelaxedDate | ObjectIdWrapper | Decimal128Wrapper | BinaryWrapper;

/** A value in relaxed Extended JSON output. */
export type RelaxedValue = string | number | boolean | null | RelaxedWrapper | RelaxedValue[] | RelaxedDocument;

/** A document in relaxed Extended JSON output. */
export interface RelaxedDocument {
  [key: string]: RelaxedValue;
}

/** Canonical Extended JSON date. */
export interface CanonicalDate {
  $date: Int64Wrapper;
}

/** Typed values in canonical output: every number is wrapped. */
export type CanonicalWrapper =
  | Int32Wrapper
  | Int64Wrapper
  | DoubleWrapper
  | Decimal128Wrapper
  | CanonicalDate
  | ObjectIdWrapper
  | BinaryWrapper;

/** A value in canonical Extended JSON output (never a bare number). */
export type CanonicalValue = string | boolean | null | CanonicalWrapper | CanonicalValue[] | CanonicalDocument;

/** A document in canonical Extended JSON output. */
export interface CanonicalDocument {
  [key: string]: CanonicalValue;
}

/**
 * A value in `js` output: `Date` for dates, `bigint` for Int64, `number` for Int32 and Double,
 * `string` for Decimal128 and ObjectId, `Uint8Array` for binary (UUIDs included).
 */
export type JsOutputValue =
  | string
  | number
  | boolean
  | null
  | bigint
  | Date
  | Uint8Array
  | JsOutputValue[]
  | JsOutputDocument;

/** A document in `js` output. */
export interface JsOutputDocument {
  [key: string]: JsOutputValue;
}

/** The types each output format uses, indexed by {@link OutputFormat}. */
export interface OutputTypes {
  relaxed: {
    value: RelaxedValue;
    document: RelaxedDocument;
    integer: number;
    direction: 1 | -1;
    included: 1;
  };
  canonical: {
    value: CanonicalValue;
    document: CanonicalDocument;
    integer: Int32Wrapper | Int64Wrapper;
    direction: { $numberInt: '1' } | { $numberInt: '-1' };
    included: { $numberInt: '1' };
  };
  js: {
    value: JsOutputValue;
    document: JsOutputDocument;
    integer: number | bigint;
    direction: 1 | -1;
    included: 1;
  };
}

/** A document (filter, `$group`, `$project` stage body) in the given output format. */
export type OutputDocument<O extends OutputFormat = 'relaxed'> = OutputTypes[O]['document'];

/** A sort document: `{field: 1 | -1}` in the given order. */
export type SortSpec<O extends OutputFormat = 'relaxed'> = { [field: string]: OutputTypes[O]['direction'] };

/** A projection document: `{field: 1}` for each selected field. */
export type ProjectionSpec<O extends OutputFormat = 'relaxed'> = { [field: string]: OutputTypes[O]['included'] };

/** One aggregation pipeline stage. */
export type PipelineStage<O extends OutputFormat = 'relaxed'> =
  | { $match: OutputDocument<O> }
  | { $group: OutputDocument<O> }
  | { $project: OutputDocument<O> }
  | { $sort: SortSpec<O> }
  | { $skip: OutputTypes[O]['integer'] }
  | { $limit: OutputTypes[O]['integer'] };

/**
 * The compiled query. `sort`, `skip`, `limit` and `projection` form the find plan and are
 * present only when the options set them (never with `distinct` or `group_by`, which only the
 * pipeline can express); `pipeline` is always present (at least `[{ $match: filter }]`).
 */
export interface CompileResult<O extends OutputFormat = 'relaxed'> {
  /** The MongoDB filter. */
  filter: OutputDocument<O>;
  /** Sort of the find plan. */
  sort?: SortSpec<O>;
  /** Number of documents to skip (from `offset`). */
  skip?: OutputTypes[O]['integer'];
  /** Maximum number of documents. */
  limit?: OutputTypes[O]['integer'];
  /** Projection of the find plan (from `select_fields`). */
  projection?: ProjectionSpec<O>;
  /** The equivalent aggregation pipeline. */
  pipeline: PipelineStage<O>[];
}

/** The result for an output format union: distributes to a union of {@link CompileResult}s. */
export type CompileResultFor<O extends OutputFormat> = O extends OutputFormat ? CompileResult<O> : never;
