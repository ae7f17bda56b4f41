// Type declarations of the `cqrs-mongo-spec` npm package (every entry: Node ESM, Node CJS,
// browser). The contract behind them is spec-compiler/SEMANTICS.md.
//
// The package has no `"type": "module"`, so TypeScript reads this file as a CommonJS
// declaration: it uses `export =`, which matches `require('cqrs-mongo-spec')` exactly (there is
// no `.default` property on it) and still gives ES module users both the named imports and the
// default import (`import cms from 'cqrs-mongo-spec'`, the same object as the ESM entries'
// default export).

/**
 * Compile specification filter ASTs (the legacy CQRS/DDD JSON format) to MongoDB filters, find
 * plans and aggregation pipelines. Default-importing the package gives this object; every member
 * is also a named export.
 */
declare namespace cqrsMongoSpec {
  // ---------------------------------------------------------------------------------------------
  // Operators
  // ---------------------------------------------------------------------------------------------

  /** Equality comparisons (`val` may be any value, including `null`, a list or a document). */
  type EqualityOperator = '=' | '!=' | 'eq' | 'ne';

  /** Ordering comparisons (`val` must be a scalar). */
  type OrderingOperator = '>' | '>=' | '<' | '<=' | 'gt' | 'gte' | 'ge' | 'lt' | 'lte' | 'le';

  /** Range comparisons (`val` is `[low, high]`). */
  type RangeOperator = 'between' | 'not_between';

  /** Every comparison operator name, canonical names and aliases. */
  type ComparisonOperator = EqualityOperator | OrderingOperator | RangeOperator;

  /** Aliases of the comparison operators (as listed in {@link OperatorInfo.aliases}). */
  type OperatorAlias = 'eq' | 'ne' | 'gt' | 'gte' | 'ge' | 'lt' | 'lte' | 'le';

  /** Set membership operators: `$in`, `$nin`, `$all`. */
  type SetOperator = 'in' | 'not_in' | 'all';

  /** String operators whose `val` is a literal text (escaped before it becomes a regex). */
  type TextMatchOperator =
    | 'like'
    | 'not_like'
    | 'ilike'
    | 'contains'
    | 'icontains'
    | 'startswith'
    | 'istartswith'
    | 'endswith'
    | 'iendswith';

  /** String operators whose `val` is a regular expression pattern. */
  type PatternOperator = 'regex' | 'iregex';

  /** Every operator of the `string` family. */
  type StringOperator = TextMatchOperator | PatternOperator;

  /** Null and emptiness tests (`val` optional: absent, `null` or `true`, or `false` to negate). */
  type NullOperator = 'is_null' | 'is_not_null' | 'is_empty' | 'is_not_empty';

  /** JSON document operators that compile (see {@link UnsupportedOperator} for the other one). */
  type JsonOperator = 'json_contains' | 'json_has_key' | 'json_has_any' | 'json_has_all' | 'json_path_exists';

  /** Geometry operators that take a GeoJSON geometry and compile. */
  type GeometryOperator = 'intersects' | 'within' | 'disjoint';

  /** Distance operators (`val` is `[point, metres]` or `{point, distance}`). */
  type DistanceOperator = 'distance_lt' | 'dwithin';

  /** Every geospatial operator that compiles. */
  type GeoOperator = GeometryOperator | DistanceOperator;

  /** Full-text search operators (MongoDB `$text`). */
  type TextOperator = 'fts' | 'fts_phrase';

  /** Logical operators. */
  type LogicalOperator = 'and' | 'or' | 'not';

  /**
   * Known operators with no exact MongoDB form: they always fail with `unsupported_operator`, so
   * the {@link Spec} type does not accept them ({@link operators} lists them with
   * `supported: false`).
   */
  type UnsupportedOperator =
    | 'json_contained_by'
    | 'contains_geom'
    | 'touches'
    | 'crosses'
    | 'overlaps'
    | 'geom_equals'
    | 'bbox_intersects';

  /** Every operator that {@link compile} accepts (lower-case; the compiler ignores case). */
  type Operator =
    | ComparisonOperator
    | SetOperator
    | StringOperator
    | NullOperator
    | JsonOperator
    | GeoOperator
    | TextOperator
    | LogicalOperator;

  /** The 48 canonical operator names reported by {@link operators} (aliases excluded). */
  type OperatorName = Exclude<Operator, OperatorAlias> | UnsupportedOperator;

  /** The operator families of {@link OperatorInfo.family}. */
  type OperatorFamily = 'comparison' | 'set' | 'string' | 'null' | 'json' | 'geo' | 'text' | 'logical';

  /** What an operator's `val` looks like, as reported by {@link OperatorInfo.value_shape}. */
  type ValueShape =
    | 'any'
    | 'scalar'
    | 'list'
    | 'range'
    | 'string'
    | 'pattern'
    | 'flag'
    | 'document'
    | 'key'
    | 'keys'
    | 'geometry'
    | 'distance'
    | 'conditions'
    | 'condition';

  /** One family's operator metadata (a member of the {@link OperatorInfo} union). */
  interface OperatorInfoOf<F extends OperatorFamily, N extends OperatorName, S extends ValueShape> {
    /** Canonical operator name. */
    name: N;
    /** Operator family. */
    family: F;
    /** Shape of `val` (for logical operators: `conditions` or `condition`). */
    value_shape: S;
    /** Other accepted names (only comparison operators have any). */
    aliases: OperatorAlias[];
    /** `false` for operators that always fail with `unsupported_operator`. */
    supported: boolean;
    /** One-sentence English description, suitable for a tooltip. */
    description: string;
  }

  /**
   * Metadata of one operator, as returned by {@link operators}: narrowing on `family` narrows
   * `name` and `value_shape`.
   */
  type OperatorInfo =
    | OperatorInfoOf<'comparison', '=' | '!=', 'any'>
    | OperatorInfoOf<'comparison', '>' | '>=' | '<' | '<=', 'scalar'>
    | OperatorInfoOf<'comparison', RangeOperator, 'range'>
    | OperatorInfoOf<'set', SetOperator, 'list'>
    | OperatorInfoOf<'string', TextMatchOperator, 'string'>
    | OperatorInfoOf<'string', PatternOperator, 'pattern'>
    | OperatorInfoOf<'null', NullOperator, 'flag'>
    | OperatorInfoOf<'json', 'json_contains' | 'json_contained_by', 'document'>
    | OperatorInfoOf<'json', 'json_has_key' | 'json_path_exists', 'key'>
    | OperatorInfoOf<'json', 'json_has_any' | 'json_has_all', 'keys'>
    | OperatorInfoOf<
        'geo',
        GeometryOperator | Exclude<UnsupportedOperator, 'json_contained_by'>,
        'geometry'
      >
    | OperatorInfoOf<'geo', DistanceOperator, 'distance'>
    | OperatorInfoOf<'text', TextOperator, 'string'>
    | OperatorInfoOf<'logical', 'and' | 'or', 'conditions'>
    | OperatorInfoOf<'logical', 'not', 'condition'>;

  // ---------------------------------------------------------------------------------------------
  // Values
  // ---------------------------------------------------------------------------------------------

  /**
   * Names accepted by a leaf's `value_type` (lower-case; the compiler ignores case). See the
   * cast table in SEMANTICS.md.
   */
  type ValueTypeName =
    | 'string'
    | 'text'
    | 'str'
    | 'integer'
    | 'int'
    | 'biginteger'
    | 'smallinteger'
    | 'float'
    | 'double'
    | 'decimal'
    | 'numeric'
    | 'boolean'
    | 'bool'
    | 'datetime'
    | 'date'
    | 'time'
    | 'interval'
    | 'uuid'
    | 'json'
    | 'list'
    | 'auto';

  /** Extended JSON Int64: `{ $numberLong: "9007199254740993" }` (decimal digits as a string). */
  interface Int64Wrapper {
    $numberLong: string;
  }

  /** Extended JSON Int32: `{ $numberInt: "42" }`. */
  interface Int32Wrapper {
    $numberInt: string;
  }

  /** Extended JSON Double: `{ $numberDouble: "1.0" }` (the way to send an integral double). */
  interface DoubleWrapper {
    $numberDouble: string;
  }

  /** Extended JSON Decimal128: `{ $numberDecimal: "19.99" }`. */
  interface Decimal128Wrapper {
    $numberDecimal: string;
  }

  /** Extended JSON date: ISO 8601 text, integer milliseconds, or `{ $numberLong: ms }`. */
  interface DateWrapper {
    $date: string | number | Int64Wrapper;
  }

  /** Extended JSON ObjectId: `{ $oid: "507f1f77bcf86cd799439011" }` (24 hex digits). */
  interface ObjectIdWrapper {
    $oid: string;
  }

  /** Extended JSON UUID (becomes Binary subtype 4): `{ $uuid: "123e4567-e89b-12d3-a456-426614174000" }`. */
  interface UuidWrapper {
    $uuid: string;
  }

  /** Canonical Extended JSON binary: `{ $binary: { base64: "AAEC", subType: "00" } }` (two hex digits). */
  interface BinaryWrapper {
    $binary: { base64: string; subType: string };
  }

  /** Legacy Extended JSON binary: `{ $binary: "AAEC", $type: "00" }`. */
  interface LegacyBinaryWrapper {
    $binary: string;
    $type: string;
  }

  /** An Extended JSON wrapper: an object whose keys are exactly those of one of these forms. */
  type ExtendedJsonWrapper =
    | DateWrapper
    | ObjectIdWrapper
    | Decimal128Wrapper
    | Int64Wrapper
    | Int32Wrapper
    | DoubleWrapper
    | UuidWrapper
    | BinaryWrapper
    | LegacyBinaryWrapper;

  /**
   * A single value: strings, finite numbers (an integral number is an integer: `1.0` is `1`),
   * booleans, `Date` (a BSON Date), `bigint` (a BSON Int64) and Extended JSON wrappers.
   */
  type SpecScalar = string | number | boolean | Date | bigint | ExtendedJsonWrapper;

  /**
   * A plain object used as a literal value. Keys may not start with `$` (except in an Extended
   * JSON wrapper) and may not contain NUL; `undefined` properties are skipped, as in
   * `JSON.stringify`. Class instances other than `Date` (including `Uint8Array`) are rejected.
   */
  interface SpecDocument {
    readonly [key: string]: SpecValue | undefined;
  }

  /** Any value a spec may hold in `val`. */
  type SpecValue = SpecScalar | null | readonly SpecValue[] | SpecDocument;

  /** A GeoJSON position: `[longitude, latitude]`, optionally with an altitude. */
  type Position =
    | readonly [longitude: number, latitude: number]
    | readonly [longitude: number, latitude: number, altitude: number];

  /** GeoJSON Point. */
  interface GeoJsonPoint {
    type: 'Point';
    coordinates: Position;
  }

  /** GeoJSON LineString. */
  interface GeoJsonLineString {
    type: 'LineString';
    coordinates: readonly Position[];
  }

  /** GeoJSON Polygon: closed rings of at least four positions, the first one the outer ring. */
  interface GeoJsonPolygon {
    type: 'Polygon';
    coordinates: readonly (readonly Position[])[];
  }

  /** GeoJSON MultiPoint. */
  interface GeoJsonMultiPoint {
    type: 'MultiPoint';
    coordinates: readonly Position[];
  }

  /** GeoJSON MultiLineString. */
  interface GeoJsonMultiLineString {
    type: 'MultiLineString';
    coordinates: readonly (readonly Position[])[];
  }

  /** GeoJSON MultiPolygon. */
  interface GeoJsonMultiPolygon {
    type: 'MultiPolygon';
    coordinates: readonly (readonly (readonly Position[])[])[];
  }

  /** GeoJSON GeometryCollection. */
  interface GeoJsonGeometryCollection {
    type: 'GeometryCollection';
    geometries: readonly GeoJsonGeometry[];
  }

  /** Any GeoJSON geometry (no `bbox` or `crs` members: the compiler rejects them). */
  type GeoJsonGeometry =
    | GeoJsonPoint
    | GeoJsonLineString
    | GeoJsonPolygon
    | GeoJsonMultiPoint
    | GeoJsonMultiLineString
    | GeoJsonMultiPolygon
    | GeoJsonGeometryCollection;

  /** A geometry given plainly or already wrapped as `{ $geometry: G }`. */
  type GeometryValue<G extends GeoJsonGeometry = GeoJsonGeometry> = G | { $geometry: G };

  /** The value of `distance_lt` / `dwithin`: a point and a radius in metres (finite, ≥ 0). */
  type DistanceValue =
    | readonly [point: GeoJsonPoint | Position, metres: number]
    | { point: GeoJsonPoint | Position; distance: number };

  // ---------------------------------------------------------------------------------------------
  // Specification nodes
  // ---------------------------------------------------------------------------------------------

  /** The members every leaf shares. */
  interface LeafBase {
    /** Dotted field path (validated; checked against `allowedFields` when given). */
    attr: string;
    /** Cast applied to `val` before the operator sees it (lists are cast element-wise). */
    value_type?: ValueTypeName;
  }

  /** `=` / `!=` (and `eq` / `ne`): `{f: {$eq | $ne: v}}`. */
  interface EqualityNode extends LeafBase {
    op: EqualityOperator;
    val: SpecValue;
  }

  /** `>` `>=` `<` `<=` and aliases: `{f: {$gt | $gte | $lt | $lte: v}}`. */
  interface OrderingNode extends LeafBase {
    op: OrderingOperator;
    val: SpecScalar;
  }

  /** `between` / `not_between` with `[low, high]`. */
  interface RangeNode extends LeafBase {
    op: RangeOperator;
    val: readonly [low: SpecScalar, high: SpecScalar];
  }

  /** `between` / `not_between` with the range as text cast to a two-item list (`"[1, 5]"`). */
  interface RangeTextNode {
    op: RangeOperator;
    attr: string;
    val: string;
    value_type: 'list' | 'json';
  }

  /** `in` / `not_in` / `all` with a list of values. */
  interface SetNode extends LeafBase {
    op: SetOperator;
    val: readonly SpecValue[];
  }

  /** `in` / `not_in` / `all` with the list as text (`"a, b"` with `list`, `"[1, 2]"` with `json`). */
  interface SetTextNode {
    op: SetOperator;
    attr: string;
    val: string;
    value_type: 'list' | 'json';
  }

  /** String operators: `val` is a text (`like` patterns use `%` and `_`) or a regex pattern. */
  interface StringNode extends LeafBase {
    op: StringOperator;
    val: string;
  }

  /** Null and emptiness tests: `val` absent, `null` or `true` as named, `false` negated. */
  interface NullNode extends LeafBase {
    op: NullOperator;
    val?: boolean | null;
  }

  /** `json_contains`: PostgreSQL `@>` containment of a document, list or scalar. */
  interface JsonContainsNode extends LeafBase {
    op: 'json_contains';
    val: SpecValue;
  }

  /** `json_has_key` (a key) and `json_path_exists` (`a.b.0`, `$.a.b[0]` or `$`). */
  interface JsonKeyNode extends LeafBase {
    op: 'json_has_key' | 'json_path_exists';
    val: string;
  }

  /** `json_has_any` / `json_has_all`: a non-empty list of keys, or one key. */
  interface JsonKeysNode extends LeafBase {
    op: 'json_has_any' | 'json_has_all';
    val: string | readonly string[];
  }

  /** `intersects` / `disjoint`: any GeoJSON geometry. */
  interface GeometryNode extends LeafBase {
    op: 'intersects' | 'disjoint';
    val: GeometryValue;
  }

  /** `within`: a Polygon or MultiPolygon. */
  interface WithinNode extends LeafBase {
    op: 'within';
    val: GeometryValue<GeoJsonPolygon | GeoJsonMultiPolygon>;
  }

  /** `distance_lt` / `dwithin`: `[point, metres]` or `{point, distance}`. */
  interface DistanceNode extends LeafBase {
    op: DistanceOperator;
    val: DistanceValue;
  }

  /** `fts` / `fts_phrase`: a non-empty search text (at most one per spec, never under `not`). */
  interface TextSearchNode extends LeafBase {
    op: TextOperator;
    val: string;
  }

  /** Any leaf node (a condition on one field). */
  type LeafNode =
    | EqualityNode
    | OrderingNode
    | RangeNode
    | RangeTextNode
    | SetNode
    | SetTextNode
    | StringNode
    | NullNode
    | JsonContainsNode
    | JsonKeyNode
    | JsonKeysNode
    | GeometryNode
    | WithinNode
    | DistanceNode
    | TextSearchNode;

  /** `and` / `or` over a non-empty list of conditions (an empty list is `empty_group`). */
  interface GroupNode {
    op: 'and' | 'or';
    conditions: readonly Spec[];
  }

  /** `not` over one condition: `{"$nor": [X]}`. */
  type NotNode = { op: 'not'; condition: Spec } | { op: 'not'; conditions: readonly [Spec] };

  /** Any logical node. */
  type LogicalNode = GroupNode | NotNode;

  /** A specification: the filter AST, a discriminated union on `op`. */
  type Spec = LeafNode | LogicalNode;

  // ---------------------------------------------------------------------------------------------
  // Query options and settings
  // ---------------------------------------------------------------------------------------------

  /** A sort direction in the two-item form of `order_by` (the compiler ignores case). */
  type SortDirectionName = 'asc' | 'desc' | 'ASC' | 'DESC';

  /** One `order_by` item: `"field"`, `"-field"` (descending), `"+field"`, or `[field, direction]`. */
  type OrderByItem = string | readonly [field: string, direction: SortDirectionName];

  /** The legacy query options (every member optional; `null` means not set). */
  interface QueryOptions {
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
  type OutputFormat = 'relaxed' | 'canonical' | 'js';

  /**
   * The third argument of every function. Leave a member out rather than setting it to
   * `undefined`: `output: undefined` is rejected with `invalid_option`.
   */
  interface Settings<O extends OutputFormat = OutputFormat> {
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
  type FieldType =
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
  interface FieldDef {
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
  interface FieldSchema {
    fields: readonly FieldDef[];
  }

  /** The regex operators' policy. */
  interface RegexPolicy {
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
  type JsonSettings = Settings<'relaxed' | 'canonical'>;

  // ---------------------------------------------------------------------------------------------
  // Results
  // ---------------------------------------------------------------------------------------------

  /** A JSON value. */
  type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

  /** Relaxed Extended JSON date: ISO text for years 1970–9999, else `{ $numberLong: ms }`. */
  interface RelaxedDate {
    $date: string | Int64Wrapper;
  }

  /** Typed values in relaxed output (Int32, Int64 and Double are plain numbers). */
  type RelaxedWrapper = RelaxedDate | ObjectIdWrapper | Decimal128Wrapper | BinaryWrapper;

  /** A value in relaxed Extended JSON output. */
  type RelaxedValue = string | number | boolean | null | RelaxedWrapper | RelaxedValue[] | RelaxedDocument;

  /** A document in relaxed Extended JSON output. */
  interface RelaxedDocument {
    [key: string]: RelaxedValue;
  }

  /** Canonical Extended JSON date. */
  interface CanonicalDate {
    $date: Int64Wrapper;
  }

  /** Typed values in canonical output: every number is wrapped. */
  type CanonicalWrapper =
    | Int32Wrapper
    | Int64Wrapper
    | DoubleWrapper
    | Decimal128Wrapper
    | CanonicalDate
    | ObjectIdWrapper
    | BinaryWrapper;

  /** A value in canonical Extended JSON output (never a bare number). */
  type CanonicalValue = string | boolean | null | CanonicalWrapper | CanonicalValue[] | CanonicalDocument;

  /** A document in canonical Extended JSON output. */
  interface CanonicalDocument {
    [key: string]: CanonicalValue;
  }

  /**
   * A value in `js` output: `Date` for dates, `bigint` for Int64, `number` for Int32 and Double,
   * `string` for Decimal128 and ObjectId, `Uint8Array` for binary (UUIDs included).
   */
  type JsOutputValue =
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
  interface JsOutputDocument {
    [key: string]: JsOutputValue;
  }

  /** The types each output format uses, indexed by {@link OutputFormat}. */
  interface OutputTypes {
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
  type OutputDocument<O extends OutputFormat = 'relaxed'> = OutputTypes[O]['document'];

  /** A sort document: `{field: 1 | -1}` in the given order. */
  type SortSpec<O extends OutputFormat = 'relaxed'> = { [field: string]: OutputTypes[O]['direction'] };

  /** A projection document: `{field: 1}` for each selected field. */
  type ProjectionSpec<O extends OutputFormat = 'relaxed'> = { [field: string]: OutputTypes[O]['included'] };

  /** One aggregation pipeline stage. */
  type PipelineStage<O extends OutputFormat = 'relaxed'> =
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
  interface CompileResult<O extends OutputFormat = 'relaxed'> {
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
  type CompileResultFor<O extends OutputFormat> = O extends OutputFormat ? CompileResult<O> : never;

  // ---------------------------------------------------------------------------------------------
  // Errors
  // ---------------------------------------------------------------------------------------------

  /** The stable error codes (the same in Rust, JavaScript and Python). */
  type ErrorCode =
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
    | 'value_not_allowed';

  /** One step of an error path: an object key or a list index. */
  type PathSegment = string | number;

  /**
   * Where an error is, from the root of the spec: `['conditions', 2, 'val']`. Option errors start
   * with `'options'`, settings errors are `['settings']`.
   */
  type ErrorPath = PathSegment[];

  /** One error reported by {@link validate}. */
  interface SpecErrorInfo {
    /** Stable error code. */
    code: ErrorCode;
    /** Location of the offending node or value. */
    path: ErrorPath;
    /** English explanation (without the location prefix). */
    message: string;
  }

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

  /** Metadata of every operator (48, including the unsupported ones), for operator pickers. */
  function operators(): OperatorInfo[];
}

export = cqrsMongoSpec;
