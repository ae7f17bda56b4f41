// The service's page: a form that places orders (POST /orders), the filter builder over the
// service's field schema (GET /schema), validated as the user types by the npm package with
// that schema, and a results table with paging (POST /orders/search). The service's own 400
// errors are shown at the condition their path points at. Plain ES modules, no bundler.
import { init, validate, operators } from '/pkg/js/web.mjs';
import { comparePaths, createBuilder, formatPath, h } from '/pkg/demo/builder.mjs';

const PAGE = 5;
const $ = (selector) => document.querySelector(selector);
const localErrors = $('#local-errors');
const serviceError = $('#service-error');
const rows = $('#rows');
const pageInfo = $('#page-info');

let settings;
let builder;
let offset = 0;

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Validates the builder's spec locally, with the schema the service compiles with. */
function validateLocally() {
  const errors = validate(builder.spec(), null, settings).sort((a, b) => comparePaths(a.path, b.path));
  builder.markErrors(errors);
  localErrors.dataset.count = String(errors.length);
  localErrors.replaceChildren(...errors.map((err) => h('div', { class: 'error' },
    h('code', {}, err.code), ' ', h('span', { class: 'path' }, formatPath(err.path)), ' ', err.message)));
}

function showServiceError(err) {
  serviceError.hidden = false;
  serviceError.dataset.code = err.code;
  serviceError.dataset.path = JSON.stringify(err.path ?? []);
  serviceError.replaceChildren(h('strong', {}, 'The service refused the search: '), h('code', {}, err.code), ' ',
    h('span', { class: 'path' }, formatPath(err.path ?? [])), ' ', err.message);
  // The service's error, at the condition it names.
  if (err.path) builder.markErrors([{ ...err, message: `service: ${err.message}` }]);
}

function showRows(page) {
  serviceError.hidden = true;
  rows.replaceChildren(...page.rows.map((row) => h('tr', { testid: `result-${row.id}` },
    h('td', {}, row.id), h('td', {}, row.customer), h('td', { class: 'num' }, row.total.toFixed(2)),
    h('td', { class: 'num' }, String(row.items)), h('td', { class: `status-${row.status}` }, row.status),
    h('td', {}, row.placed_at.slice(0, 16).replace('T', ' ')))));
  const last = Math.min(page.offset + page.rows.length, page.total);
  pageInfo.textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : '0 orders';
  pageInfo.dataset.total = String(page.total);
  $('#page-prev').disabled = page.offset === 0;
  $('#page-next').disabled = last >= page.total;
}

/** Sends the builder's spec as it is (even with local errors: the service has the last word). */
async function search() {
  const body = { spec: builder.spec(), options: { order_by: ['-total', 'id'], limit: PAGE, offset } };
  const { status, body: answer } = await call('POST', '/orders/search', body);
  document.body.dataset.searches = String(Number(document.body.dataset.searches ?? 0) + 1);
  if (status === 200) showRows(answer);
  else showServiceError(answer);
}

async function placeOrder(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const order = {
    customer: form.get('customer'),
    lines: [{ sku: form.get('sku'), quantity: Number(form.get('quantity')), price_cents: Math.round(Number(form.get('price')) * 100) }],
  };
  const { status, body } = await call('POST', '/orders', order);
  const result = $('#order-result');
  result.dataset.status = String(status);
  result.textContent = status === 201
    ? `Placed ${body.id}: ${(body.total_cents / 100).toFixed(2)} for ${body.customer}.`
    : `Refused (${body.code}${body.path ? ` at ${formatPath(body.path)}` : ''}): ${body.message}`;
  if (status === 201) result.dataset.id = body.id;
}

try {
  const [{ body: schema }] = await Promise.all([call('GET', '/schema'), init()]);
  settings = { schema: schema.schema };
  builder = createBuilder({
    container: $('#builder'),
    fields: schema.fields,
    operators: operators(),
    onChange: () => builder && validateLocally(),
  });
  validateLocally();
  $('#order-form').addEventListener('submit', placeOrder);
  $('#search').addEventListener('click', () => { offset = 0; search(); });
  $('#page-prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); search(); });
  $('#page-next').addEventListener('click', () => { offset += PAGE; search(); });
  document.body.dataset.ready = 'true';
} catch (err) {
  $('#builder').replaceChildren(h('p', { class: 'error' }, `Could not load: ${err.message}`));
  document.body.dataset.ready = 'error';
  throw err;
}
