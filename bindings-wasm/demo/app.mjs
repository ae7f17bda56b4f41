// Filter builder demo: the builder (builder.mjs) over the fields of a field schema
// (schema.json, through querybuilderFields), its specification validated and compiled live by
// the WebAssembly module with the same schema, so the page offers nothing the compiler refuses.
// The specification is also editable as JSON, and a spec edited by hand is checked the same way.
// A pasted MongoDB filter is decompiled into the builder (load.mjs), and a sample document is
// evaluated against the current specification as either changes (`Compiler.matches`).
import { init, Compiler, DecompileError, decompile, operators, querybuilderFields } from '../js/web.mjs';
import { comparePaths, createBuilder, formatPath, h, pretty } from './builder.mjs';
import { bareMessage, formatFilterPath, withSchemaNames } from './load.mjs';

const $ = (selector) => document.querySelector(selector);
const container = $('#builder');
const specEditor = $('#spec-json');
const editedNote = $('#spec-edited');
const filterOut = $('#filter-json');
const summary = $('#errors');
const filterInput = $('#mongo-filter');
const loadResult = $('#load-result');
const sampleInput = $('#sample-doc');
const verdict = $('#match');

/** An order as the schema describes it, for the match preview. */
const SAMPLE = `{
  "_id": {"$oid": "665f1c2e9b1e8a3d4c5b6a70"},
  "status": "paid",
  "total": 240,
  "region": "eu",
  "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
  "created_at": {"$date": "2024-05-14T09:30:00Z"},
  "shipped_at": {"$date": "2024-05-16T15:05:00Z"},
  "tags": ["gift", "express"],
  "note": "Gift wrap, please",
  "items": [
    {"sku": "AB-123", "qty": 2, "price": 80},
    {"sku": "CD-456", "qty": 1, "price": 80}
  ]
}`;

let SCHEMA;
/** The compiler with the schema, as a service would apply it. */
let compiler;
/** Canonical output, with and without the schema: what a loaded filter is compared with. */
let canonical;
let canonicalPlain;
let builder;
/** The specification on show (an object, or the JSON text typed by hand) and whether it compiles. */
let current = { spec: undefined, compiles: false };

/** Validates and compiles `spec` (an object, or JSON text typed by hand) with the schema. */
function check(spec) {
  let errors = compiler.validate(spec);
  let filter;
  if (errors.length === 0) {
    try {
      filter = compiler.compile(spec).filter;
    } catch (err) {
      errors = [{ code: err.code ?? 'error', path: err.path ?? [], message: err.message }];
    }
  }
  errors.sort((a, b) => comparePaths(a.path, b.path));
  return { errors, filter };
}

/** A list of `{code, path, message}` problems in the page's error style. */
const problemList = (items) => h('ul', {}, ...items.map((err) => h('li', {},
  err.code ? h('code', {}, err.code) : null, err.code ? ' ' : null,
  h('span', { class: 'path' }, err.where), ' ', err.message)));

/** Shows the errors (on their conditions too when `inline`), the filter and the match verdict. */
function showResult(spec, { errors, filter }, inline) {
  builder.markErrors(inline ? errors : []);
  summary.dataset.count = String(errors.length);
  summary.className = errors.length ? 'summary bad' : 'summary ok';
  if (errors.length === 0) {
    summary.replaceChildren(h('strong', {}, '✓ Valid specification'));
  } else {
    const title = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
    summary.replaceChildren(h('strong', {}, title),
      problemList(errors.map((err) => ({ ...err, where: formatPath(err.path) }))));
  }
  filterOut.textContent = filter === undefined ? '// fix the problems to see the filter' : pretty(filter);
  filterOut.classList.toggle('stale', filter === undefined);
  current = { spec, compiles: filter !== undefined };
  showVerdict();
}

/** Whether the sample document matches the specification on show, or why it cannot be told. */
function showVerdict() {
  const show = (state, ...content) => {
    verdict.dataset.state = state;
    verdict.className = `verdict ${state}`;
    verdict.replaceChildren(...content);
  };
  if (!current.compiles) {
    show('pending', 'Fix the specification to evaluate it.');
    return;
  }
  let matched;
  try {
    matched = compiler.matches(current.spec, sampleInput.value);
  } catch (err) {
    // A document that cannot be read (its path starts with "document"), or a filter the page
    // cannot evaluate (a text search needs the server's text index).
    const where = err.path?.[0] === 'document'
      ? formatPath(err.path).replace('<root>.document', '<document>')
      : formatPath(err.path ?? []).replace('<root>', '<filter>');
    const title = err.path?.[0] === 'document' ? 'The sample document cannot be read' : 'Cannot evaluate in the page';
    show('error', h('strong', {}, title), problemList([{ code: err.code, where, message: bareMessage(err, formatPath(err.path ?? [])) }]));
    verdict.dataset.code = err.code ?? 'error';
    return;
  }
  delete verdict.dataset.code;
  show(matched ? 'match' : 'no-match', h('strong', {}, matched ? '✓ Matches' : '✗ Does not match'),
    matched ? ': find with this filter returns the document' : ': find with this filter skips the document');
}

/** The builder changed: its spec replaces whatever the editor held. */
function refresh() {
  const spec = builder.spec();
  specEditor.value = pretty(spec, 68);
  editedNote.hidden = true;
  showResult(spec, check(spec), true);
}

/** The spec was edited by hand: the text is what is checked (errors by path, not by row). */
function onSpecEdited() {
  editedNote.hidden = false;
  showResult(specEditor.value, check(specEditor.value), false);
}

/** Shows the outcome of loading a filter: `state` ok / bad / warn, a title, then details. */
function showLoad(state, title, ...details) {
  loadResult.className = `summary ${state}`;
  loadResult.dataset.state = state;
  loadResult.replaceChildren(h('strong', {}, title), ...details);
}

/** Decompiles the pasted filter and shows its specification in the builder. */
function loadFilter() {
  delete loadResult.dataset.code;
  let spec;
  try {
    spec = decompile(filterInput.value);
  } catch (err) {
    if (!(err instanceof DecompileError)) throw err;
    const where = formatFilterPath(err.path);
    loadResult.dataset.code = err.code;
    showLoad('bad', 'This filter cannot be loaded', problemList([{ code: err.code, where, message: bareMessage(err, where) }]));
    return;
  }
  const named = withSchemaNames(spec, SCHEMA);
  const problems = named.problems.length ? named.problems : builder.load(named.spec);
  if (problems.length) {
    // Nothing is dropped: the whole specification goes to the JSON editor, checked as typed.
    specEditor.value = pretty(named.spec, 68);
    onSpecEdited();
    showLoad('bad', 'The builder cannot show all of this filter; its whole specification is in the JSON editor',
      problemList(problems.map((p) => ({ where: formatPath(p.path), message: p.message }))));
    return;
  }
  // The builder's spec, compiled with the schema, against the decompiled spec compiled without
  // it (the pasted filter itself when our compiler wrote it).
  let reference;
  let shown;
  try {
    reference = canonicalPlain.compile(spec).filter;
    shown = canonical.compile(builder.spec()).filter;
  } catch {
    showLoad('warn', 'Loaded into the builder, with the problems the compiler reports under the filter');
    return;
  }
  if (JSON.stringify(reference) !== JSON.stringify(shown)) {
    showLoad('warn', 'Loaded into the builder; with the schema\'s casts the filter differs from the pasted one, which reads',
      h('pre', {}, pretty(reference)));
    return;
  }
  showLoad('ok', '✓ Loaded into the builder');
}

try {
  const [schema] = await Promise.all([fetch('schema.json').then((r) => r.json()), init()]);
  SCHEMA = schema;
  compiler = new Compiler({ schema });
  canonical = new Compiler({ schema, output: 'canonical' });
  canonicalPlain = new Compiler({ output: 'canonical' });
  builder = createBuilder({
    container,
    fields: querybuilderFields(schema),
    operators: operators(),
    onChange: () => builder && refresh(),
    negation: true,
    fieldComparisons: true,
    arrays: schema.fields.filter((f) => f.type === 'array' && f.items === 'object').map((f) => f.name),
  });
  sampleInput.value = SAMPLE;
  specEditor.addEventListener('input', onSpecEdited);
  sampleInput.addEventListener('input', showVerdict);
  $('#reset-spec').addEventListener('click', refresh);
  $('#load-filter').addEventListener('click', loadFilter);
  refresh();
  document.body.dataset.ready = 'true';
} catch (err) {
  container.replaceChildren(h('p', { class: 'error' }, `Could not load the compiler: ${err.message}`));
  document.body.dataset.ready = 'error';
  throw err;
}
