// Values a spec may hold: scalars, Extended JSON wrappers, GeoJSON. Part of the declarations of the `cqrs-mongo-spec` npm
// package: index.d.ts re-exports every name declared here.

/**
 * Names accepted by a leaf's `value_type` (lower-case; the compiler ignores case). See the
 * cast table in SEMANTICS.md.
 */
export type ValueTypeName =
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
export interface Int64Wrapper {
  $numberLong: string;
}

/** Extended JSON Int32: `{ $numberInt: "42" }`. */
export interface Int32Wrapper {
  $numberInt: string;
}

/** Extended JSON Double: `{ $numberDouble: "1.0" }` (the way to send an integral double). */
export interface DoubleWrapper {
  $numberDouble: string;
}

/** Extended JSON Decimal128: `{ $numberDecimal: "19.99" }`. */
export interface Decimal128Wrapper {
  $numberDecimal: string;
}

/** Extended JSON date: ISO 8601 text, integer milliseconds, or `{ $numberLong: ms }`. */
export interface DateWrapper {
  $date: string | number | Int64Wrapper;
}

/** Extended JSON ObjectId: `{ $oid: "507f1f77bcf86cd799439011" }` (24 hex digits). */
export interface ObjectIdWrapper {
  $oid: string;
}

/** Extended JSON UUID (becomes Binary subtype 4): `{ $uuid: "123e4567-e89b-12d3-a456-426614174000" }`. */
export interface UuidWrapper {
  $uuid: string;
}

/** Canonical Extended JSON binary: `{ $binary: { base64: "AAEC", subType: "00" } }` (two hex digits). */
export interface BinaryWrapper {
  $binary: { base64: string; subType: string };
}

/** Legacy Extended JSON binary: `{ $binary: "AAEC", $type: "00" }`. */
export interface LegacyBinaryWrapper {
  $binary: string;
  $type: string;
}

/** An Extended JSON wrapper: an object whose keys are exactly those of one of these forms. */
export type ExtendedJsonWrapper =
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
export type SpecScalar = string | number | boolean | Date | bigint | ExtendedJsonWrapper;

/**
 * A plain object used as a literal value. Keys may not start with `$` (except in an Extended
 * JSON wrapper) and may not contain NUL; `undefined` properties are skipped, as in
 * `JSON.stringify`. Class instances other than `Date` (including `Uint8Array`) are rejected.
 */
export interface SpecDocument {
  readonly [key: string]: SpecValue | undefined;
}

/** Any value a spec may hold in `val`. */
export type SpecValue = SpecScalar | null | readonly SpecValue[] | SpecDocument;

/** A GeoJSON position: `[longitude, latitude]`, optionally with an altitude. */
export type Position =
  | readonly [longitude: number, latitude: number]
  | readonly [longitude: number, latitude: number, altitude: number];

/** GeoJSON Point. */
export interface GeoJsonPoint {
  type: 'Point';
  coordinates: Position;
}

/** GeoJSON LineString. */
export interface GeoJsonLineString {
  type: 'LineString';
  coordinates: readonly Position[];
}

/** GeoJSON Polygon: closed rings of at least four positions, the first one the outer ring. */
export interface GeoJsonPolygon {
  type: 'Polygon';
  coordinates: readonly (readonly Position[])[];
}

/** GeoJSON MultiPoint. */
export interface GeoJsonMultiPoint {
  type: 'MultiPoint';
  coordinates: readonly Position[];
}

/** GeoJSON MultiLineString. */
export interface GeoJsonMultiLineString {
  type: 'MultiLineString';
  coordinates: readonly (readonly Position[])[];
}

/** GeoJSON MultiPolygon. */
export interface GeoJsonMultiPolygon {
  type: 'MultiPolygon';
  coordinates: readonly (readonly (readonly Position[])[])[];
}

/** GeoJSON GeometryCollection. */
export interface GeoJsonGeometryCollection {
  type: 'GeometryCollection';
  geometries: readonly GeoJsonGeometry[];
}

/** Any GeoJSON geometry (no `bbox` or `crs` members: the compiler rejects them). */
export type GeoJsonGeometry =
  | GeoJsonPoint
  | GeoJsonLineString
  | GeoJsonPolygon
  | GeoJsonMultiPoint
  | GeoJsonMultiLineString
  | GeoJsonMultiPolygon
  | GeoJsonGeometryCollection;

/** A geometry given plainly or already wrapped as `{ $geometry: G }`. */
export type GeometryValue<G extends GeoJsonGeometry = GeoJsonGeometry> = G | { $geometry: G };

/** The value of `distance_lt` / `dwithin`: a point and a radius in metres (finite, ≥ 0). */
export type DistanceValue =
  | readonly [point: GeoJsonPoint | Position, metres: number]
  | { point: GeoJsonPoint | Position; distance: number };
