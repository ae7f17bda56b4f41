// Type declarations of the `cqrs-mongo-spec` npm package (every entry: Node ESM, Node CJS,
// browser). The contract behind them is spec-compiler/SEMANTICS.md.
//
// The package has no `"type": "module"`, so TypeScript reads this file as a CommonJS
// declaration: it uses `export =`, which matches `require('cqrs-mongo-spec')` exactly (there is
// no `.default` property on it) and still gives ES module users both the named imports and the
// default import (`import cms from 'cqrs-mongo-spec'`, the same object as the ESM entries'
// default export).

import * as operators from './types/operators';
import * as values from './types/values';
import * as spec from './types/spec';
import * as options from './types/options';
import * as results from './types/results';
import * as errors from './types/errors';

/**
 * Compile specification filter ASTs (the legacy CQRS/DDD JSON format) to MongoDB filters, find
 * plans and aggregation pipelines. Default-importing the package gives this object; every member
 * is also a named export.
 */
declare namespace cqrsMongoSpec {
  // Operators: names, aliases, families and metadata. (types/operators.d.ts)
  export import EqualityOperator = operators.EqualityOperator;
  export import OrderingOperator = operators.OrderingOperator;
  export import RangeOperator = operators.RangeOperator;
  export import ComparisonOperator = operators.ComparisonOperator;
  export import OperatorAlias = operators.OperatorAlias;
  export import SetOperator = operators.SetOperator;
  export import TextMatchOperator = operators.TextMatchOperator;
  export import PatternOperator = operators.PatternOperator;
  export import StringOperator = operators.StringOperator;
  export import NullOperator = operators.NullOperator;
  export import JsonOperator = operators.JsonOperator;
  export import GeometryOperator = operators.GeometryOperator;
  export import DistanceOperator = operators.DistanceOperator;
  export import GeoOperator = operators.GeoOperator;
  export import TextOperator = operators.TextOperator;
  export import LogicalOperator = operators.LogicalOperator;
  export import UnsupportedOperator = operators.UnsupportedOperator;
  export import Operator = operators.Operator;
  export import OperatorName = operators.OperatorName;
  export import OperatorFamily = operators.OperatorFamily;
  export import ValueShape = operators.ValueShape;
  export import OperatorInfoOf = operators.OperatorInfoOf;
  export import OperatorInfo = operators.OperatorInfo;

  // Values a spec may hold: scalars, Extended JSON wrappers, GeoJSON. (types/values.d.ts)
  export import ValueTypeName = values.ValueTypeName;
  export import Int64Wrapper = values.Int64Wrapper;
  export import Int32Wrapper = values.Int32Wrapper;
  export import DoubleWrapper = values.DoubleWrapper;
  export import Decimal128Wrapper = values.Decimal128Wrapper;
  export import DateWrapper = values.DateWrapper;
  export import ObjectIdWrapper = values.ObjectIdWrapper;
  export import UuidWrapper = values.UuidWrapper;
  export import BinaryWrapper = values.BinaryWrapper;
  export import LegacyBinaryWrapper = values.LegacyBinaryWrapper;
  export import ExtendedJsonWrapper = values.ExtendedJsonWrapper;
  export import SpecScalar = values.SpecScalar;
  export import SpecDocument = values.SpecDocument;
  export import SpecValue = values.SpecValue;
  export import Position = values.Position;
  export import GeoJsonPoint = values.GeoJsonPoint;
  export import GeoJsonLineString = values.GeoJsonLineString;
  export import GeoJsonPolygon = values.GeoJsonPolygon;
  export import GeoJsonMultiPoint = values.GeoJsonMultiPoint;
  export import GeoJsonMultiLineString = values.GeoJsonMultiLineString;
  export import GeoJsonMultiPolygon = values.GeoJsonMultiPolygon;
  export import GeoJsonGeometryCollection = values.GeoJsonGeometryCollection;
  export import GeoJsonGeometry = values.GeoJsonGeometry;
  export import GeometryValue = values.GeometryValue;
  export import DistanceValue = values.DistanceValue;

  // Specification nodes. (types/spec.d.ts)
  export import LeafBase = spec.LeafBase;
  export import EqualityNode = spec.EqualityNode;
  export import OrderingNode = spec.OrderingNode;
  export import RangeNode = spec.RangeNode;
  export import RangeTextNode = spec.RangeTextNode;
  export import SetNode = spec.SetNode;
  export import SetTextNode = spec.SetTextNode;
  export import StringNode = spec.StringNode;
  export import NullNode = spec.NullNode;
  export import JsonContainsNode = spec.JsonContainsNode;
  export import JsonKeyNode = spec.JsonKeyNode;
  export import JsonKeysNode = spec.JsonKeysNode;
  export import GeometryNode = spec.GeometryNode;
  export import WithinNode = spec.WithinNode;
  export import DistanceNode = spec.DistanceNode;
  export import TextSearchNode = spec.TextSearchNode;
  export import LeafNode = spec.LeafNode;
  export import GroupNode = spec.GroupNode;
  export import NotNode = spec.NotNode;
  export import ElemMatchNode = spec.ElemMatchNode;
  export import FieldComparisonNode = spec.FieldComparisonNode;
  export import LogicalNode = spec.LogicalNode;
  export import Spec = spec.Spec;

  // Query options, compiler settings and the field schema. (types/options.d.ts)
  export import SortDirectionName = options.SortDirectionName;
  export import OrderByItem = options.OrderByItem;
  export import QueryOptions = options.QueryOptions;
  export import OutputFormat = options.OutputFormat;
  export import Settings = options.Settings;
  export import FieldType = options.FieldType;
  export import FieldDef = options.FieldDef;
  export import FieldSchema = options.FieldSchema;
  export import RegexPolicy = options.RegexPolicy;
  export import JsonSettings = options.JsonSettings;

  // Results: the compiled query in each output format. (types/results.d.ts)
  export import JsonValue = results.JsonValue;
  export import RelaxedDate = results.RelaxedDate;
  export import RelaxedWrapper = results.RelaxedWrapper;
  export import RelaxedValue = results.RelaxedValue;
  export import RelaxedDocument = results.RelaxedDocument;
  export import CanonicalDate = results.CanonicalDate;
  export import CanonicalWrapper = results.CanonicalWrapper;
  export import CanonicalValue = results.CanonicalValue;
  export import CanonicalDocument = results.CanonicalDocument;
  export import JsOutputValue = results.JsOutputValue;
  export import JsOutputDocument = results.JsOutputDocument;
  export import OutputTypes = results.OutputTypes;
  export import OutputDocument = results.OutputDocument;
  export import SortSpec = results.SortSpec;
  export import ProjectionSpec = results.ProjectionSpec;
  export import PipelineStage = results.PipelineStage;
  export import CompileResult = results.CompileResult;
  export import CompileResultFor = results.CompileResultFor;

  // Error codes and paths. (types/errors.d.ts)
  export import ErrorCode = errors.ErrorCode;
  export import DecompileErrorCode = errors.DecompileErrorCode;
  export import EvalErrorCode = errors.EvalErrorCode;
  export import PathSegment = errors.PathSegment;
  export import ErrorPath = errors.ErrorPath;
  export import SpecErrorInfo = errors.SpecErrorInfo;

  /**
   * Thrown by {@link compile} and {@link compileJson} for an invalid spec, options or settings
   * (and by {@link validate} for invalid settings). The message starts with the location, as in
   * `at <root>.conditions[2].val: …`.
   */
  class SpecError extends Error {
    /** Creates an error (the package creates them; exposed for tests and re-throwing). */
    constructor(message: string, code: ErrorCode, path: ErrorPath);
    /** Always `'SpecError'`. */
    name: 'SpecError';
    /** Stable error code. */
    readonly code: ErrorCode;
    /** Location of the offending node or value. */
    readonly path: ErrorPath;
  }

  /**
   * Thrown by {@link decompile} and {@link decompileJson} for a filter a specification cannot
   * express, or that is not a filter. The message starts with the location in the filter, as in
   * `at <filter>.$or[1].$where: …`.
   */
  class DecompileError extends Error {
    /** Creates an error (the package creates them; exposed for tests and re-throwing). */
    constructor(message: string, code: DecompileErrorCode, path: ErrorPath);
    /** Always `'DecompileError'`. */
    name: 'DecompileError';
    /** Stable error code. */
    readonly code: DecompileErrorCode;
    /** Location in the filter: keys and list indexes from its root. */
    readonly path: ErrorPath;
  }

  /**
   * Thrown by {@link matches}, {@link filter} and {@link matcher} when the compiled filter cannot be evaluated in
   * memory: a text search or `$near` (`needs_server`), a regular expression the matcher refuses
   * (`unsupported_regex`) or that runs out of steps (`regex_too_complex`). The path points into
   * the compiled filter: `at <root>.$text: …`. (A spec or document that cannot be read is a
   * {@link SpecError}.)
   */
  class MatchError extends Error {
    /** Creates an error (the package creates them; exposed for tests and re-throwing). */
    constructor(message: string, code: EvalErrorCode, path: ErrorPath);
    /** Always `'MatchError'`. */
    name: 'MatchError';
    /** Stable error code. */
    readonly code: EvalErrorCode;
    /** Location in the compiled filter. */
    readonly path: ErrorPath;
  }

  /**
   * A document as {@link matches} reads it: a plain object in Extended JSON (canonical or
   * relaxed), whose values may also be `Date` and `bigint`, as in specs. An object that is
   * exactly one of the wrappers specs use (`$date`, `$oid`, `$numberLong`, `$numberInt`,
   * `$numberDouble`, `$numberDecimal`, `$uuid`, `$binary`) or `$regularExpression` is that
   * value; any other object is an embedded document. Only the top-level fields the filter reads
   * (and `$` keys) are read, all of them when it may read any (`$expr`).
   */
  type DocumentInput = object;

  /**
   * A MongoDB filter as {@link decompile} reads it: a plain object in Extended JSON (canonical or
   * relaxed, such as the `filter` of a `relaxed` or `canonical` compile result), whose values may
   * also be `Date` and `bigint`, as in specs.
   */
  type FilterInput = object;

  // ---------------------------------------------------------------------------------------------
  // Initialisation
  // ---------------------------------------------------------------------------------------------

  /** An instance type of a global class when the environment declares it (DOM or Node types). */
  type GlobalInstance<K extends string> = typeof globalThis extends { [P in K]: { prototype: infer T } } ? T : never;

  /** `WebAssembly.Module` when the environment declares it. */
  type WasmModule = typeof globalThis extends { WebAssembly: { Module: { prototype: infer M } } } ? M : never;

  /**
   * Where browsers load the WebAssembly module from: a URL (string or `URL`), a `Request`, a
   * `Response`, the bytes, or a compiled `WebAssembly.Module`.
   */
  type InitInput =
    | string
    | GlobalInstance<'URL'>
    | GlobalInstance<'Request'>
    | GlobalInstance<'Response'>
    | ArrayBuffer
    | ArrayBufferView
    | WasmModule;

  // ---------------------------------------------------------------------------------------------
  // Functions
  // ---------------------------------------------------------------------------------------------

  /**
   * Loads the WebAssembly module. Browsers must await it once before calling anything else (by
   * default it fetches `cqrs_mongo_spec_bg.wasm` next to the package's web entry; pass a URL or
   * the module when a bundler moves it). Later calls return the same promise. In Node it is a
   * no-op that ignores its argument.
   */
  function init(moduleOrPath?: InitInput | Promise<InitInput>): Promise<void>;

  /**
   * Compiles a spec and optional query options to a filter, a find plan and an aggregation
   * pipeline, as relaxed Extended JSON values (the default output).
   *
   * @param spec a spec object or its JSON text
   * @param options legacy query options, their JSON text, or `null`/`undefined`
   * @param settings output format, field whitelist and limits
   * @throws {SpecError} for an invalid spec, options or settings, and for any value that throws
   *   while it is read (a getter, a Proxy trap): the functions throw nothing else. Relaxed output
   *   writes an Int64 beyond ±2^53 as a plain number, which no JS number holds exactly: it comes
   *   back rounded; use `canonical` or `js` output for such values.
   */
  function compile(
    spec: Spec | string,
    options?: QueryOptions | string | null,
    settings?: Settings<'relaxed'>,
  ): CompileResult<'relaxed'>;
  /**
   * Compiles a spec to canonical Extended JSON values (`{ $numberInt: "1" }`, …), suitable for
   * `EJSON.deserialize` of the `bson` package.
   *
   * @throws {SpecError} for an invalid spec, options or settings
   */
  function compile(
    spec: Spec | string,
    options: QueryOptions | string | null | undefined,
    settings: Settings<'canonical'> & { output: 'canonical' },
  ): CompileResult<'canonical'>;
  /**
   * Compiles a spec to plain JS values: `Date`, `bigint` for Int64, `string` for Decimal128 and
   * ObjectId, `Uint8Array` for binary.
   *
   * @throws {SpecError} for an invalid spec, options or settings
   */
  function compile(
    spec: Spec | string,
    options: QueryOptions | string | null | undefined,
    settings: Settings<'js'> & { output: 'js' },
  ): CompileResult<'js'>;
  /**
   * Compiles a spec with an output format only known at run time: the result is the union of
   * the possible results.
   *
   * @throws {SpecError} for an invalid spec, options or settings
   */
  function compile<O extends OutputFormat>(
    spec: Spec | string,
    options: QueryOptions | string | null | undefined,
    settings: Settings<O>,
  ): CompileResultFor<O>;

  /**
   * String in, string out: compiles spec JSON text (and optional options JSON text) to the
   * result as JSON text. The exact path for stored specs: numbers keep their JSON form (`1.0`
   * stays a Double, integers beyond 2^53 stay exact).
   *
   * @param specJson the spec as JSON text
   * @param optionsJson query options as JSON text (`"{}"` when absent)
   * @param settings `output` may be `relaxed` (default) or `canonical`
   * @throws {SpecError} for an invalid spec, options or settings
   */
  function compileJson(specJson: string, optionsJson?: string | null, settings?: JsonSettings): string;

  /**
   * Every error of a spec and its options (empty when valid). Accepts any value, since reporting
   * what is wrong with it is its purpose; strings are parsed as JSON.
   *
   * @throws {SpecError} only for invalid settings
   */
  function validate(spec: unknown, options?: unknown, settings?: Settings): SpecErrorInfo[];

  /**
   * Whether `find` with the spec's filter would return `document`, evaluated in memory with the
   * server's semantics (type bracketing, arrays matched element-wise, missing fields, collation-
   * free string order): for tests, optimistic UIs and caches.
   *
   * @param spec a spec object or its JSON text
   * @param document a document object in Extended JSON, or its JSON text
   * @throws {SpecError} for an invalid spec or settings, and for a document that cannot be read
   *   (its path starts with `'document'`)
   * @throws {MatchError} for a filter only the server can evaluate (`needs_server`)
   */
  function matches(spec: Spec | string, document: DocumentInput | string, settings?: Settings): boolean;

  /**
   * The documents the spec's filter keeps, in their order: the very objects given (each is read
   * once). The spec is compiled once.
   *
   * @throws {SpecError} as {@link matches}; a document's path starts with `['documents', index]`
   * @throws {MatchError} as {@link matches}
   */
  function filter<D extends DocumentInput>(spec: Spec | string, documents: readonly D[], settings?: Settings): D[];

  /**
   * The spec compiled and its filter prepared once (regular expressions included), for any
   * number of documents: `matcher(spec).filter(orders)`. With `settings`, the compiler built
   * for them is freed at once; the matcher does not need it.
   *
   * @throws {SpecError} for an invalid spec or settings
   * @throws {MatchError} for a filter only the server can evaluate (`needs_server`)
   */
  function matcher(spec: Spec | string, settings?: Settings): Matcher;

  /**
   * A spec's filter prepared once, made by {@link Compiler.matcher} or {@link matcher}: its
   * calls read only the documents (the same answers and errors as {@link matches} and
   * {@link filter}). Its WebAssembly memory is released when it is garbage-collected, or at
   * once by `free()`.
   *
   * ```ts
   * const urgent = compiler.matcher({ op: 'ilike', attr: 'note', val: '%urgent%' });
   * const kept = urgent.filter(orders);
   * urgent.free();
   * ```
   */
  class Matcher {
    private constructor();
    /** Whether `find` with the filter would return `document` (an object, or its JSON text). */
    matches(document: DocumentInput | string): boolean;
    /** The documents the filter keeps, in their order (the objects given). */
    filter<D extends DocumentInput>(documents: readonly D[]): D[];
    /** Releases the WebAssembly memory now rather than when the object is garbage-collected. */
    free(): void;
  }

  /**
   * A MongoDB filter back into a specification, which compiles back to the same filter for every
   * filter {@link compile} makes, and to an equivalent one for the usual hand-written forms
   * (`{ a: 1 }`, several fields or operators in one document, `$exists`, `$nor`, …). Values a JS
   * number cannot carry with their BSON type come back as Extended JSON wrappers: an Int64 as
   * `{ $numberLong }` (below 2^31, or beyond ±2^53), a Double with an integral value as
   * `{ $numberDouble: '1.0' }`, so `compile(decompile(filter))` gives the filter again.
   *
   * @param filter a filter object, or its JSON text
   * @throws {DecompileError} for a filter a specification cannot express (`unsupported_filter`),
   *   one MongoDB would refuse (`invalid_filter`), a malformed wrapper (`invalid_extended_json`),
   *   nesting beyond 100 levels (`too_deep`) and any value that is not JSON or throws while it is
   *   read (`invalid_filter`): the functions throw nothing else. The `js` output of compile is
   *   not a filter input (its ObjectId and Decimal128 are plain strings).
   */
  function decompile(filter: FilterInput | string): Spec;

  /**
   * String in, string out: filter JSON text (Extended JSON, canonical or relaxed) to the
   * specification's JSON text, numbers exactly as written (`1.0` stays a Double).
   *
   * @throws {DecompileError} as {@link decompile}; anything but a string is `invalid_json`
   */
  function decompileJson(filterJson: string): string;

  /** One field of react-querybuilder's `fields` array, as {@link querybuilderFields} makes it. */
  interface QueryBuilderField {
    name: string;
    label: string;
    inputType: 'text' | 'number' | 'date' | 'datetime-local';
    valueEditorType: 'text' | 'select' | 'checkbox' | 'textarea';
    /** Exactly the operators the compiler accepts on the field. */
    operators: { name: OperatorName; label: string }[];
    /** For enumerated fields. */
    values?: { name: JsonValue; label: string }[];
  }

  /**
   * A field schema as react-querybuilder's `fields`, so a UI offers exactly what the compiler
   * (with the same schema) accepts.
   * @throws {SpecError} `invalid_option` at `['schema', …]` for a document that is not a usable schema
   */
  function querybuilderFields(schema: FieldSchema): QueryBuilderField[];

  /** Metadata of every operator (49, including the unsupported ones), for operator pickers. */
  function operators(): OperatorInfo[];

  /**
   * A compiler prepared once from its settings (the field schema's index, the operator sets,
   * the regex policy and the output format are built here, not per call), then used for any
   * number of specs; the functions above are shortcuts that build one per call when given
   * settings. The settings' limits also bound how much of a JS value is read: a list longer
   * than `max(maxListLen, maxNodes)` is `list_too_long` before one item is read, and the JSON
   * text written from a value stops at `maxSpecLen` (`spec_too_large`).
   *
   * ```ts
   * const compiler = new Compiler({ schema, maxNodes: 200 });
   * const { filter } = compiler.compile({ op: '=', attr: 'status', val: 'paid' });
   * ```
   *
   * @throws {SpecError} `invalid_option` at `['settings', name]` for refused settings
   */
  class Compiler<O extends OutputFormat = 'relaxed'> {
    constructor(settings?: Settings<O>);
    /** Compiles a spec (an object or its JSON text) and optional query options. */
    compile(spec: Spec | string, options?: QueryOptions | string | null): CompileResultFor<O>;
    /** JSON text in, Extended JSON text out (relaxed, or canonical with `output: 'canonical'`). */
    compileJson(specJson: string, optionsJson?: string | null): string;
    /** Every error of a spec and its options (empty when valid). */
    validate(spec: unknown, options?: unknown): SpecErrorInfo[];
    /** Whether `find` with the spec's filter would return `document`, evaluated in memory. */
    matches(spec: Spec | string, document: DocumentInput | string): boolean;
    /** The documents the spec's filter keeps, in their order (the objects given). */
    filter<D extends DocumentInput>(spec: Spec | string, documents: readonly D[]): D[];
    /** The spec compiled and its filter prepared once, for any number of documents. */
    matcher(spec: Spec | string): Matcher;
    /** This compiler's `schema` as react-querybuilder's `fields` (`invalid_option` without one). */
    querybuilderFields(): QueryBuilderField[];
    /** Releases the WebAssembly memory now rather than when the object is garbage-collected. */
    free(): void;
  }
}

export = cqrsMongoSpec;
