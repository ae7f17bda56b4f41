// Specification nodes. Part of the declarations of the `cqrs-mongo-spec` npm
// package: index.d.ts re-exports every name declared here.

import type { DistanceOperator, EqualityOperator, NullOperator, OrderingOperator, RangeOperator, SetOperator, StringOperator, TextOperator } from './operators';
import type { DistanceValue, GeoJsonMultiPolygon, GeoJsonPolygon, GeometryValue, SpecScalar, SpecValue, ValueTypeName } from './values';

/** The members every leaf shares. */
export interface LeafBase {
  /** Dotted field path (validated; checked against `allowedFields` when given). */
  attr: string;
  /** Cast applied to `val` before the operator sees it (lists are cast element-wise). */
  value_type?: ValueTypeName;
}

/** `=` / `!=` (and `eq` / `ne`): `{f: {$eq | $ne: v}}`. */
export interface EqualityNode extends LeafBase {
  op: EqualityOperator;
  val: SpecValue;
}

/** `>` `>=` `<` `<=` and aliases: `{f: {$gt | $gte | $lt | $lte: v}}`. */
export interface OrderingNode extends LeafBase {
  op: OrderingOperator;
  val: SpecScalar;
}

/** `between` / `not_between` with `[low, high]`. */
export interface RangeNode extends LeafBase {
  op: RangeOperator;
  val: readonly [low: SpecScalar, high: SpecScalar];
}

/** `between` / `not_between` with the range as text cast to a two-item list (`"[1, 5]"`). */
export interface RangeTextNode {
  op: RangeOperator;
  attr: string;
  val: string;
  value_type: 'list' | 'json';
}

/** `in` / `not_in` / `all` with a list of values. */
export interface SetNode extends LeafBase {
  op: SetOperator;
  val: readonly SpecValue[];
}

/** `in` / `not_in` / `all` with the list as text (`"a, b"` with `list`, `"[1, 2]"` with `json`). */
export interface SetTextNode {
  op: SetOperator;
  attr: string;
  val: string;
  value_type: 'list' | 'json';
}

/** String operators: `val` is a text (`like` patterns use `%` and `_`) or a regex pattern. */
export interface StringNode extends LeafBase {
  op: StringOperator;
  val: string;
}

/** Null and emptiness tests: `val` absent, `null` or `true` as named, `false` negated. */
export interface NullNode extends LeafBase {
  op: NullOperator;
  val?: boolean | null;
}

/** `json_contains`: PostgreSQL `@>` containment of a document, list or scalar. */
export interface JsonContainsNode extends LeafBase {
  op: 'json_contains';
  val: SpecValue;
}

/** `json_has_key` (a key) and `json_path_exists` (`a.b.0`, `$.a.b[0]` or `$`). */
export interface JsonKeyNode extends LeafBase {
  op: 'json_has_key' | 'json_path_exists';
  val: string;
}

/** `json_has_any` / `json_has_all`: a non-empty list of keys, or one key. */
export interface JsonKeysNode extends LeafBase {
  op: 'json_has_any' | 'json_has_all';
  val: string | readonly string[];
}

/** `intersects` / `disjoint`: any GeoJSON geometry. */
export interface GeometryNode extends LeafBase {
  op: 'intersects' | 'disjoint';
  val: GeometryValue;
}

/** `within`: a Polygon or MultiPolygon. */
export interface WithinNode extends LeafBase {
  op: 'within';
  val: GeometryValue<GeoJsonPolygon | GeoJsonMultiPolygon>;
}

/** `distance_lt` / `dwithin`: `[point, metres]` or `{point, distance}`. */
export interface DistanceNode extends LeafBase {
  op: DistanceOperator;
  val: DistanceValue;
}

/** `fts` / `fts_phrase`: a non-empty search text (at most one per spec, never under `not`). */
export interface TextSearchNode extends LeafBase {
  op: TextOperator;
  val: string;
}

/** Any leaf node (a condition on one field). */
export type LeafNode =
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
export interface GroupNode {
  op: 'and' | 'or';
  conditions: readonly Spec[];
}

/** `not` over one condition: `{"$nor": [X]}`. */
export type NotNode = { op: 'not'; condition: Spec } | { op: 'not'; conditions: readonly [Spec] };

/**
 * `elem_match`: one element of the array `attr` satisfies every condition, whose `attr`s name
 * fields of the element: `{attr: {$elemMatch: {…}}}`.
 */
export interface ElemMatchNode {
  op: 'elem_match';
  attr: string;
  conditions: readonly Spec[];
}

/**
 * A comparison of two fields of the same document (`attr` against `field`), with the
 * aggregation comparison of `$expr` (no type bracketing).
 */
export interface FieldComparisonNode {
  op: EqualityOperator | OrderingOperator;
  attr: string;
  field: string;
}

/** Any logical node. */
export type LogicalNode = GroupNode | NotNode | ElemMatchNode;

/** A specification: the filter AST, a discriminated union on `op`. */
export type Spec = LeafNode | FieldComparisonNode | LogicalNode;
