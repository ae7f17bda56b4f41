// Type-level test of index.d.ts: a realistic strict-mode consumer of the package. Checked (not
// run) by test/types.test.mjs with `tsc -p test/types/tsconfig.json`; every `@ts-expect-error`
// line must really be an error, so wrong specs are proven to be rejected.
//
// The package is imported by its own name, resolved through package.json "exports" -> "types".
// This file is CommonJS for TypeScript (the package has no "type": "module"), so it also checks
// the `require` view; `esmView` below checks the ES module view with a dynamic import.

import cms from 'cqrs-mongo-spec';
import cjs = require('cqrs-mongo-spec');
import {
  Compiler,
  compile,
  compileJson,
  decompile,
  DecompileError,
  decompileJson,
  filter,
  init,
  matcher,
  Matcher,
  matches,
  MatchError,
  operators,
  SpecError,
  validate,
} from 'cqrs-mongo-spec';
import type {
  CanonicalValue,
  DecompileErrorCode,
  ElemMatchNode,
  EvalErrorCode,
  FieldComparisonNode,
  CompileResult,
  ErrorCode,
  GeoJsonPolygon,
  Int32Wrapper,
  Int64Wrapper,
  JsOutputValue,
  OperatorInfo,
  OperatorName,
  OutputFormat,
  PipelineStage,
  QueryOptions,
  RelaxedValue,
  Settings,
  Spec,
  SpecErrorInfo,
  SpecValue,
  ValueShape,
} from 'cqrs-mongo-spec';

/** Compile-time equality of two types. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

// --- Building specs ------------------------------------------------------------------------------

const ALLOWED = ['status', 'total', 'created_at', 'region', 'tags', 'customer.*', 'location', 'meta'] as const;

interface OrderSearch {
  status?: string;
  minTotal?: string;
  since?: Date;
  regions?: readonly string[];
  customer?: string;
  nearParis?: boolean;
}

/** Turns a search form into a spec, the way a service would. */
function orderSpec(search: OrderSearch): Spec {
  const conditions: Spec[] = [];
  if (search.status !== undefined) conditions.push({ op: '=', attr: 'status', val: search.status });
  if (search.minTotal !== undefined) {
    conditions.push({ op: '>=', attr: 'total', val: search.minTotal, value_type: 'decimal' });
  }
  if (search.since !== undefined) conditions.push({ op: 'gte', attr: 'created_at', val: search.since });
  if (search.regions !== undefined) conditions.push({ op: 'in', attr: 'region', val: search.regions });
  if (search.customer !== undefined) conditions.push({ op: 'ilike', attr: 'customer.name', val: `%${search.customer}%` });
  if (search.nearParis === true) {
    conditions.push({ op: 'dwithin', attr: 'location', val: { point: [2.3522, 48.8566], distance: 5_000 } });
  }
  return { op: 'and', conditions };
}

const paris: GeoJsonPolygon = {
  type: 'Polygon',
  coordinates: [[[2.25, 48.81], [2.42, 48.81], [2.42, 48.9], [2.25, 48.9], [2.25, 48.81]]],
};

/** One node of every shape the union accepts. */
const everyShape: Spec = {
  op: 'or',
  conditions: [
    { op: '!=', attr: 'status', val: null },
    { op: 'eq', attr: 'meta', val: { source: 'import', batch: 3n, at: { $date: '2024-01-01T00:00:00Z' } } },
    { op: '<', attr: 'total', val: { $numberDecimal: '100.00' } },
    { op: 'le', attr: 'customer.id', val: { $oid: '507f1f77bcf86cd799439011' } },
    { op: 'between', attr: 'total', val: [10, { $numberDouble: '99.5' }] },
    { op: 'not_between', attr: 'created_at', val: '["2024-01-01", "2024-12-31"]', value_type: 'json' },
    { op: 'not_in', attr: 'region', val: ['eu', null, { $uuid: '123e4567-e89b-12d3-a456-426614174000' }] },
    { op: 'all', attr: 'tags', val: 'red, blue', value_type: 'list' },
    { op: 'not_like', attr: 'customer.name', val: 'test_%' },
    { op: 'iregex', attr: 'customer.email', val: '@example\\.(com|org)$' },
    { op: 'is_null', attr: 'customer.deleted_at' },
    { op: 'is_empty', attr: 'tags', val: false },
    { op: 'json_contains', attr: 'meta', val: { items: [{ sku: 'A', qty: 2 }] } },
    { op: 'json_has_key', attr: 'meta', val: 'source' },
    { op: 'json_has_all', attr: 'meta', val: ['source', 'batch'] },
    { op: 'json_path_exists', attr: 'meta', val: '$.items[0].sku' },
    { op: 'within', attr: 'location', val: { $geometry: paris } },
    { op: 'intersects', attr: 'location', val: { type: 'LineString', coordinates: [[2.3, 48.8], [2.4, 48.9]] } },
    {
      op: 'disjoint',
      attr: 'location',
      val: { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [2.35, 48.85, 35] }] },
    },
    { op: 'distance_lt', attr: 'location', val: [{ type: 'Point', coordinates: [2.35, 48.85] }, 1_000] },
    { op: 'fts_phrase', attr: 'notes', val: 'late delivery' },
    { op: 'not', condition: { op: 'is_not_empty', attr: 'tags' } },
    { op: 'not', conditions: [{ op: 'contains', attr: 'customer.name', val: 'bot' }] },
  ],
};

const listValue: SpecValue = [1, 'two', new Date(0), 3n, { nested: [true, null] }];

// --- Wrong specs are rejected ------------------------------------------------------------------

const rejected: Spec[] = [
  // @ts-expect-error between takes exactly two values
  { op: 'between', attr: 'total', val: [1, 2, 3] },
  // @ts-expect-error not an operator
  { op: 'betwen', attr: 'total', val: [1, 2] },
  // @ts-expect-error '=' needs a val
  { op: '=', attr: 'status' },
  // @ts-expect-error a typo of a key is not ignored
  { op: '=', attr: 'status', vale: 'paid' },
  // @ts-expect-error ordering comparisons need a scalar, not null
  { op: '>', attr: 'total', val: null },
  // @ts-expect-error nor a list
  { op: '>=', attr: 'total', val: [1] },
  // @ts-expect-error string operators need a string
  { op: 'contains', attr: 'customer.name', val: 5 },
  // @ts-expect-error `within` needs a Polygon or MultiPolygon
  { op: 'within', attr: 'location', val: { type: 'Point', coordinates: [2.35, 48.85] } },
  // @ts-expect-error a position is [longitude, latitude(, altitude)]
  { op: 'intersects', attr: 'location', val: { type: 'Point', coordinates: [2.35] } },
  // @ts-expect-error unsupported operators always fail, so the type leaves them out
  { op: 'touches', attr: 'location', val: paris },
  // @ts-expect-error unknown value_type
  { op: '=', attr: 'total', val: '1', value_type: 'integr' },
  // @ts-expect-error `not` negates exactly one condition
  { op: 'not', conditions: [{ op: 'is_null', attr: 'a' }, { op: 'is_null', attr: 'b' }] },
  // @ts-expect-error and/or take `conditions`, not `condition`
  { op: 'and', condition: { op: 'is_null', attr: 'a' } },
  // @ts-expect-error logical nodes have no attr
  { op: 'or', attr: 'status', conditions: [] },
  // @ts-expect-error a text range needs value_type list or json
  { op: 'between', attr: 'total', val: '1, 5' },
  // @ts-expect-error null tests take a boolean flag
  { op: 'is_null', attr: 'status', val: 'yes' },
];

// @ts-expect-error Uint8Array is not an input value (use { $binary } or { $uuid })
const binaryInput: SpecValue = new Uint8Array([1, 2]);

// --- Query options and settings ----------------------------------------------------------------

const page: QueryOptions = {
  limit: 20,
  offset: 40,
  order_by: ['-created_at', ['total', 'asc']],
  select_fields: ['status', 'total', 'customer.name'],
};
const report: QueryOptions = { group_by: ['region'], order_by: [['count', 'DESC']], limit: null };
const settings: Settings<'relaxed'> = { allowedFields: ALLOWED, maxDepth: 8, maxNodes: 200, maxListLen: 500 };

// @ts-expect-error limit is a number
const badOptions: QueryOptions = { limit: '20' };
// @ts-expect-error a typo in a setting would silently drop the whitelist at run time
const typoSettings: Settings = { allowedfields: ['status'] };

// --- compile: one overload per output ----------------------------------------------------------

function relaxedQuery(search: OrderSearch): CompileResult {
  const query = compile(orderSpec(search), page, settings);
  expectType<Equals<typeof query, CompileResult<'relaxed'>>>();
  const total: RelaxedValue | undefined = query.filter['total'];
  const limit: number | undefined = query.limit;
  const direction: 1 | -1 | undefined = query.sort?.['created_at'];
  // @ts-expect-error relaxed output has no Date objects
  const when: Date | undefined = query.filter['created_at'];
  void [total, limit, direction, when];
  return query;
}

function canonicalQuery(): CompileResult<'canonical'> {
  const query = compile(orderSpec({ minTotal: '100.00' }), undefined, { output: 'canonical' });
  expectType<Equals<typeof query, CompileResult<'canonical'>>>();
  const limit: Int32Wrapper | Int64Wrapper | undefined = query.limit;
  const first: CanonicalValue | undefined = query.filter['$and'];
  // @ts-expect-error canonical output never holds a bare number
  const bare: number | undefined = query.limit;
  void [limit, first, bare];
  return query;
}

/** The `js` output: values ready for the `mongodb` driver. */
function jsQuery(since: Date): { since: Date | undefined; skip: bigint | number | undefined } {
  const query = compile(orderSpec({ since }), { offset: 2 ** 40 }, { output: 'js' });
  expectType<Equals<typeof query, CompileResult<'js'>>>();
  const clause: JsOutputValue | undefined = query.filter['$and'];
  let found: Date | undefined;
  if (Array.isArray(clause)) {
    for (const item of clause) {
      if (item !== null && typeof item === 'object' && !(item instanceof Date) && !(item instanceof Uint8Array)
        && !Array.isArray(item)) {
        const created = item['created_at'];
        if (created !== null && typeof created === 'object' && !Array.isArray(created)
          && !(created instanceof Date) && !(created instanceof Uint8Array)) {
          const gte: JsOutputValue | undefined = created['$gte'];
          if (gte instanceof Date) found = gte;
        }
      }
    }
  }
  const skip: bigint | number | undefined = query.skip;
  return { since: found, skip };
}

/** An output chosen at run time: the result is the union of the three. */
function dynamicOutput(output: OutputFormat): number {
  const query = compile('{"op": "=", "attr": "status", "val": "paid"}', '{"limit": 5}', { output });
  expectType<Equals<typeof query, CompileResult<'relaxed'> | CompileResult<'canonical'> | CompileResult<'js'>>>();
  return query.pipeline.length;
}

function pipelineStages(): string[] {
  const { pipeline } = compile(orderSpec({ regions: ['eu', 'us'] }), report);
  return pipeline.map((stage: PipelineStage) => {
    if ('$match' in stage) return `match ${Object.keys(stage.$match).join(',')}`;
    if ('$sort' in stage) return `sort ${Object.keys(stage.$sort).join(',')}`;
    if ('$limit' in stage) return `limit ${stage.$limit}`;
    return Object.keys(stage).join(',');
  });
}

/** Calls the types refuse (never run: each would throw). */
function misuse(): void {
  // @ts-expect-error the output format must be one of the three
  compile(everyShape, null, { output: 'xml' });
  // @ts-expect-error compileJson takes JSON text, not an object
  compileJson({ op: '=', attr: 'status', val: 'paid' });
  // @ts-expect-error compileJson returns Extended JSON text only
  compileJson('{}', null, { output: 'js' });
}

// --- compileJson --------------------------------------------------------------------------------

function storedSpecToJson(specJson: string): string {
  // Text in keeps numbers exact: 1.0 stays a Double, 2^63 - 1 stays exact.
  const relaxed: string = compileJson(specJson);
  const canonical: string = compileJson(specJson, '{"order_by": ["-created_at"]}', { output: 'canonical' });
  void relaxed;
  return canonical;
}

// --- Errors -------------------------------------------------------------------------------------

/** What a UI shows for each error code (exhaustive: a new code breaks the build). */
function hint(code: ErrorCode): string {
  switch (code) {
    case 'invalid_json':
      return 'not JSON';
    case 'invalid_node':
    case 'missing_field':
    case 'unknown_key':
    case 'empty_group':
      return 'malformed filter';
    case 'unknown_operator':
    case 'unsupported_operator':
      return 'operator not available';
    case 'invalid_value':
    case 'invalid_cast':
    case 'unknown_value_type':
    case 'invalid_extended_json':
    case 'invalid_regex':
    case 'invalid_text_search':
    case 'value_type_mismatch':
    case 'value_not_allowed':
      return 'check the value';
    case 'invalid_field_path':
    case 'field_not_allowed':
    case 'invalid_field_comparison':
      return 'field not available';
    case 'too_deep':
    case 'too_many_nodes':
    case 'list_too_long':
    case 'string_too_long':
    case 'spec_too_large':
    case 'regex_too_long':
      return 'filter too large';
    case 'operator_not_allowed':
    case 'regex_not_allowed':
    case 'unsafe_regex':
      return 'not allowed here';
    case 'invalid_option':
      return 'bad paging or sorting';
    default: {
      const never: never = code;
      return never;
    }
  }
}

function compileOrExplain(spec: Spec): CompileResult | { error: string; at: string } {
  try {
    return compile(spec, null, { allowedFields: ALLOWED });
  } catch (err: unknown) {
    if (err instanceof SpecError) {
      const at = err.path.map((step) => (typeof step === 'number' ? `[${step}]` : `.${step}`)).join('');
      if (err.code === 'field_not_allowed') return { error: 'you may not filter on that', at };
      // @ts-expect-error not an error code
      if (err.code === 'field_forbidden') return { error: '', at };
      return { error: `${hint(err.code)}: ${err.message}`, at };
    }
    throw err;
  }
}

function formErrors(untrusted: unknown): Map<string, SpecErrorInfo[]> {
  const byPath = new Map<string, SpecErrorInfo[]>();
  for (const error of validate(untrusted, { limit: 0 }, { maxNodes: 50 })) {
    const key = error.path.join('/');
    byPath.set(key, [...(byPath.get(key) ?? []), error]);
  }
  return byPath;
}

const rethrown = new SpecError('at <root>.attr: no', 'field_not_allowed', ['attr']);
const asError: Error = rethrown;
const name: 'SpecError' = rethrown.name;

// --- operators() for a picker -------------------------------------------------------------------

interface PickerOption {
  value: OperatorName;
  label: string;
  shape: ValueShape;
}

function geoPicker(): PickerOption[] {
  return operators()
    .filter((info: OperatorInfo) => info.supported && info.family === 'geo')
    .map((info) => ({ value: info.name, label: info.description, shape: info.value_shape }));
}

function comparisonAliases(): string[] {
  const names: string[] = [];
  for (const info of operators()) {
    if (info.family === 'logical') {
      const shape: 'conditions' | 'condition' = info.value_shape;
      void shape;
      continue;
    }
    if (info.family === 'comparison') {
      const name: '=' | '!=' | '>' | '>=' | '<' | '<=' | 'between' | 'not_between' = info.name;
      names.push(name, ...info.aliases);
    }
  }
  return names;
}

// --- init, the default export, require and ES module views ---------------------------------------

async function browserStyleStart(): Promise<number> {
  await init();
  await cms.init();
  const viaDefault: CompileResult<'js'> = cms.compile(everyShape, undefined, { output: 'js' });
  const viaRequire: CompileResult = cjs.compile(everyShape);
  const error: typeof SpecError = cjs.SpecError;
  void error;
  return viaDefault.pipeline.length + viaRequire.pipeline.length;
}

async function esmView(): Promise<number> {
  const esm = await import('cqrs-mongo-spec');
  const result: CompileResult = esm.compile(everyShape);
  const sameDefault: CompileResult = esm.default.compile(everyShape);
  const errors: SpecErrorInfo[] = esm.validate('{"op": "nope"}');
  return result.pipeline.length + sameDefault.pipeline.length + errors.length;
}

type EsmModule = typeof import('cqrs-mongo-spec', { with: { 'resolution-mode': 'import' } });
const esmCompile: EsmModule['compile'] = compile;

// A compiler prepared once: its output format types every result it returns.
function preparedCompilers(): [Date | bigint | string | number | boolean | null | undefined, string] {
  const plain = new Compiler();
  const relaxed: CompileResult<'relaxed'> = plain.compile({ op: '=', attr: 'status', val: 'paid' });
  const js = new Compiler({ output: 'js', maxNodes: 50 });
  const typed: CompileResult<'js'> = js.compile('{"op": "=", "attr": "a", "val": 1}', { limit: 5 });
  // @ts-expect-error a js compiler does not return relaxed values
  const wrong: CompileResult<'relaxed'> = js.compile({ op: '=', attr: 'a', val: 1 });
  // @ts-expect-error settings are checked at construction
  new Compiler({ maxNode: 3 });
  const errors: SpecErrorInfo[] = plain.validate({ op: '?' });
  js.free();
  return [typed.limit, JSON.stringify([relaxed, wrong, errors]) + plain.compileJson('{}')];
}

// --- decompile: a filter back into a spec ------------------------------------------------------

/** A stored filter shown in a spec editor, or the reason it cannot be. */
function editableSpec(filter: CompileResult['filter']): Spec | { reason: DecompileErrorCode; at: string } {
  try {
    const spec: Spec = decompile(filter);
    const again: string = decompileJson(JSON.stringify(filter));
    return again.length > 0 ? spec : spec;
  } catch (err: unknown) {
    if (err instanceof DecompileError) {
      const code: DecompileErrorCode = err.code;
      return { reason: code, at: err.path.join('.') };
    }
    throw err;
  }
}

const byHand: Spec = decompile({ status: 'paid', at: { $gte: new Date(0) }, n: { $in: [1n, 2] } });
const fromText: Spec = decompile('{"status": "paid"}');
const sameElement: ElemMatchNode = {
  op: 'elem_match',
  attr: 'lines',
  conditions: [{ op: '=', attr: 'sku', val: 'A' }, { op: '>', attr: 'qty', val: 1 }],
};
const twoFields: FieldComparisonNode = { op: '<=', attr: 'shipped_at', field: 'promised_at' };
const withNewNodes: Spec = { op: 'or', conditions: [sameElement, twoFields] };

function decompileMisuse(): void {
  // @ts-expect-error decompileJson takes text
  decompileJson({ a: 1 });
  // @ts-expect-error a filter is an object or its text
  decompile(5);
  // @ts-expect-error the codes of DecompileError are its own
  const code: DecompileErrorCode = 'invalid_value';
  // @ts-expect-error a field comparison has no val
  const both: FieldComparisonNode = { op: '=', attr: 'a', field: 'b', val: 1 };
  void [code, both];
}

// --- matches / filter: evaluating in memory --------------------------------------------------

interface Order {
  readonly _id: string;
  readonly total: number;
  readonly placedAt: Date;
}

function urgentOrders(orders: readonly Order[]): Order[] {
  const spec: Spec = { op: '>=', attr: 'total', val: 100 };
  const kept: Order[] = filter(spec, orders);
  const one: boolean = orders.length > 0 && matches(spec, orders[0] ?? { _id: '', total: 0, placedAt: new Date(0) });
  const prepared = new Compiler({ allowedFields: ['total'] });
  const again: Order[] = prepared.filter(spec, orders);
  const text: boolean = prepared.matches('{"op": "=", "attr": "total", "val": 1}', '{"total": 1}');
  prepared.free();
  return one && text ? again : kept;
}

function preparedMatcher(orders: readonly Order[]): Order[] {
  const compiler = new Compiler({ allowedFields: ['total'] });
  const big: Matcher = compiler.matcher({ op: '>=', attr: 'total', val: 100 });
  const kept: Order[] = big.filter(orders);
  const first: boolean = big.matches(orders[0] ?? '{"total": 1}');
  big.free();
  compiler.free();
  const fromText: Matcher = matcher('{"op": "=", "attr": "total", "val": 1}', { allowedFields: ['total'] });
  return first || fromText.matches({ total: 1 }) ? kept : [];
}

function matcherMisuse(): void {
  // @ts-expect-error a Matcher comes from matcher(), not from new
  const made = new Matcher();
  // @ts-expect-error a prepared matcher takes no spec
  matcher({ op: 'is_null', attr: 'a' }).matches({ op: 'is_null', attr: 'a' }, {});
  // @ts-expect-error documents are a list
  matcher({ op: 'is_null', attr: 'a' }).filter({ a: 1 });
  void made;
}

function whyNot(err: unknown): EvalErrorCode | 'spec' | 'other' {
  if (err instanceof MatchError) return err.code;
  return err instanceof SpecError ? 'spec' : 'other';
}

function matchesMisuse(): void {
  // @ts-expect-error documents are a list
  filter({ op: 'is_null', attr: 'a' }, { a: 1 });
  // @ts-expect-error a document is an object or its text
  matches({ op: 'is_null', attr: 'a' }, 5);
  // @ts-expect-error evaluation codes are their own
  const code: EvalErrorCode = 'invalid_value';
  void code;
}

export {
  matchesMisuse,
  matcherMisuse,
  preparedMatcher,
  urgentOrders,
  whyNot,
  byHand,
  decompileMisuse,
  editableSpec,
  fromText,
  withNewNodes,
  preparedCompilers,
  binaryInput,
  badOptions,
  browserStyleStart,
  canonicalQuery,
  comparisonAliases,
  compileOrExplain,
  dynamicOutput,
  esmCompile,
  esmView,
  formErrors,
  geoPicker,
  jsQuery,
  listValue,
  misuse,
  asError,
  name,
  pipelineStages,
  rejected,
  relaxedQuery,
  storedSpecToJson,
  typoSettings,
};
