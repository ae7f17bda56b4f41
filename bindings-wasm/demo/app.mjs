// Filter builder demo: the builder (builder.mjs) over the fields of a field schema
// (schema.json, through querybuilderFields), its specification validated and compiled live by
// the WebAssembly module with the same schema, so the page offers nothing the compiler refuses.
// The specification is also editable as JSON, and a spec edited by hand is checked the same way.
import { init, compile, validate, operators, querybuilderFields } from '../js/web.mjs';
import { comparePaths, createBuilder, formatPath, h, pretty } from './builder.mjs';

const $ = (selector) => document.querySelector(selector);
const container = $('#builder');
const specEditor = $('#spec-json');
const editedNote = $('#spec-edited');
const filterOut = $('#filter-json');
const summary = $('#errors');

/** The compiler settings: the schema, as a service would apply it. */
let SETTINGS = {};
let builder;

/** Validates and compiles `spec` (an object, or JSON text typed by hand) with the schema. */
function check(spec) {
  let errors = validate(spec, null, SETTINGS);
  let filter;
  if (errors.length === 0) {
    try {
      filter = compile(spec, null, SETTINGS).filter;
    } catch (err) {
      errors = [{ code: err.code ?? 'error', path: err.path ?? [], message: err.message }];
    }
  }
  errors.sort((a, b) => comparePaths(a.path, b.path));
  return { errors, filter };
}

/** Shows the errors (on their conditions too when `inline`) and the filter. */
function showResult({ errors, filter }, inline) {
  builder.markErrors(inline ? errors : []);
  summary.dataset.count = String(errors.length);
  summary.className = errors.length ? 'summary bad' : 'summary ok';
  if (errors.length === 0) {
    summary.replaceChildren(h('strong', {}, '✓ Valid specification'));
  } else {
    const title = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
    summary.replaceChildren(h('strong', {}, title), h('ul', {}, ...errors.map((err) => h('li', {},
      h('code', {}, err.code), ' ', h('span', { class: 'path' }, formatPath(err.path)), ' ', err.message))));
  }
  filterOut.textContent = filter === undefined ? '// fix the problems to see the filter' : pretty(filter);
  filterOut.classList.toggle('stale', filter === undefined);
}

/** The builder changed: its spec replaces whatever the editor held. */
function refresh() {
  const spec = builder.spec();
  specEditor.value = pretty(spec, 68);
  editedNote.hidden = true;
  showResult(check(spec), true);
}

/** The spec was edited by hand: the text is what is checked (errors by path, not by row). */
function onSpecEdited() {
  editedNote.hidden = false;
  showResult(check(specEditor.value), false);
}

try {
  const [schema] = await Promise.all([fetch('schema.json').then((r) => r.json()), init()]);
  SETTINGS = { schema };
  builder = createBuilder({
    container,
    fields: querybuilderFields(schema),
    operators: operators(),
    onChange: () => builder && refresh(),
  });
  specEditor.addEventListener('input', onSpecEdited);
  $('#reset-spec').addEventListener('click', refresh);
  refresh();
  document.body.dataset.ready = 'true';
} catch (err) {
  container.replaceChildren(h('p', { class: 'error' }, `Could not load the compiler: ${err.message}`));
  document.body.dataset.ready = 'error';
  throw err;
}
