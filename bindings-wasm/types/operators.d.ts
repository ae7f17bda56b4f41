// Operators: names, aliases, families and metadata. Part of the declarations of the `cqrs-mongo-spec` npm
// package: index.d.ts re-exports every name declared here.

import type { Spec } from './spec';

/** Equality comparisons (`val` may be any value, including `null`, a list or a document). */
export type EqualityOperator = '=' | '!=' | 'eq' | 'ne';

/** Ordering comparisons (`val` must be a scalar). */
export type OrderingOperator = '>' | '>=' | '<' | '<=' | 'gt' | 'gte' | 'ge' | 'lt' | 'lte' | 'le';

/** Range comparisons (`val` is `[low, high]`). */
export type RangeOperator = 'between' | 'not_between';

/** Every comparison operator name, canonical names and aliases. */
export type ComparisonOperator = EqualityOperator | OrderingOperator | RangeOperator;

/** Aliases of the comparison operators (as listed in {@link OperatorInfo.aliases}). */
export type OperatorAlias = 'eq' | 'ne' | 'gt' | 'gte' | 'ge' | 'lt' | 'lte' | 'le';

/** Set membership operators: `$in`, `$nin`, `$all`. */
export type SetOperator = 'in' | 'not_in' | 'all';

/** String operators whose `val` is a literal text (escaped before it becomes a regex). */
export type TextMatchOperator =
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
export type PatternOperator = 'regex' | 'iregex';

/** Every operator of the `string` family. */
export type StringOperator = TextMatchOperator | PatternOperator;

/** Null and emptiness tests (`val` optional: absent, `null` or `true`, or `false` to negate). */
export type NullOperator = 'is_null' | 'is_not_null' | 'is_empty' | 'is_not_empty';

/** JSON document operators that compile (see {@link UnsupportedOperator} for the other one). */
export type JsonOperator = 'json_contains' | 'json_has_key' | 'json_has_any' | 'json_has_all' | 'json_path_exists';

/** Geometry operators that take a GeoJSON geometry and compile. */
export type GeometryOperator = 'intersects' | 'within' | 'disjoint';

/** Distance operators (`val` is `[point, metres]` or `{point, distance}`). */
export type DistanceOperator = 'distance_lt' | 'dwithin';

/** Every geospatial operator that compiles. */
export type GeoOperator = GeometryOperator | DistanceOperator;

/** Full-text search operators (MongoDB `$text`). */
export type TextOperator = 'fts' | 'fts_phrase';

/** Logical operators. */
export type LogicalOperator = 'and' | 'or' | 'not' | 'elem_match';

/**
 * Known operators with no exact MongoDB form: they always fail with `unsupported_operator`, so
 * the {@link Spec} type does not accept them ({@link operators} lists them with
 * `supported: false`).
 */
export type UnsupportedOperator =
  | 'json_contained_by'
  | 'contains_geom'
  | 'touches'
  | 'crosses'
  | 'overlaps'
  | 'geom_equals'
  | 'bbox_intersects';

/** Every operator that {@link compile} accepts (lower-case; the compiler ignores case). */
export type Operator =
  | ComparisonOperator
  | SetOperator
  | StringOperator
  | NullOperator
  | JsonOperator
  | GeoOperator
  | TextOperator
  | LogicalOperator;

/** The 49 canonical operator names reported by {@link operators} (aliases excluded). */
export type OperatorName = Exclude<Operator, OperatorAlias> | UnsupportedOperator;

/** The operator families of {@link OperatorInfo.family}. */
export type OperatorFamily = 'comparison' | 'set' | 'string' | 'null' | 'json' | 'geo' | 'text' | 'logical';

/** What an operator's `val` looks like, as reported by {@link OperatorInfo.value_shape}. */
export type ValueShape =
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
export interface OperatorInfoOf<F extends OperatorFamily, N extends OperatorName, S extends ValueShape> {
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
export type OperatorInfo =
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
  | OperatorInfoOf<'logical', 'and' | 'or' | 'elem_match', 'conditions'>
  | OperatorInfoOf<'logical', 'not', 'condition'>;
