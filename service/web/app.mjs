// The service's page: a form that places orders (POST /orders), the filter builder over the
// service's field schema (GET /schema), validated as the user types by the npm package with
// that schema, and a results table with paging (POST /orders/search). An empty filter lists
// every order (the search is sent without a spec), as the page does on load. Each error is
// shown once, at the condition or group its path points at (the service's own 400s too).
// Times are shown in the browser's time zone, which they name. Plain ES modules, no bundler.
import { init, validate, operators } from '/pkg/js/web.mjs';
import { comparePaths, createBuilder, formatPath, h } from '/pkg/demo/builder.mjs';

const PAGE = 5;
/** What a new condition starts as: one the service accepts as it is. */
const NEW_CONDITION = { field: 'status', op: '=', value: 'placed' };
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

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/**
 * Validates the builder's spec locally, with the schema the service compiles with. Each error
 * is shown at its condition or group; below the filter only how many there are. No condition
 * at all is no error: the search then lists every order.
 */
function validateLocally() {
  const errors = builder.isEmpty() ? [] : validate(builder.spec(), null, settings).sort((a, b) => comparePaths(a.path, b.path));
  builder.markErrors(errors);
  localErrors.dataset.count = String(errors.length);
  localErrors.textContent = errors.length
    ? `${plural(errors.length, 'problem', 'problems')} in the filter, marked above.`
    : builder.isEmpty() ? 'No condition: the search lists every order.' : '';
}

/** The service's 400, once: at the condition or group its path names, else in the banner. */
function showServiceError(err) {
  serviceError.hidden = false;
  serviceError.dataset.code = err.code;
  serviceError.dataset.path = JSON.stringify(err.path ?? []);
  if (err.path) {
    builder.markErrors([{ ...err, message: `service: ${err.message}` }]);
    serviceError.replaceChildren(h('strong', {}, 'The service refused the search: '), 'see the filter.');
  } else {
    serviceError.replaceChildren(h('strong', {}, 'The service refused the search: '), h('code', {}, err.code), ' ', err.message);
  }
}

// Times in the browser's time zone, named: `2025-03-01 14:05 GMT+1`, `… UTC`, `… EST`.
const TIME = new Intl.DateTimeFormat('en-US', {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
});

function localTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h('span', {}, iso);
  const part = Object.fromEntries(TIME.formatToParts(date).map(({ type, value }) => [type, value]));
  // The date and the time with its zone may go on two lines, each stays whole.
  return h('time', { datetime: iso, title: `${iso} (UTC)` }, h('span', {}, `${part.year}-${part.month}-${part.day}`),
    ' ', h('span', {}, `${part.hour}:${part.minute} ${part.timeZoneName}`));
}

function showRows(page, everything) {
  serviceError.hidden = true;
  const empty = everything ? 'No orders yet: place one.' : 'No orders match.';
  rows.replaceChildren(...(page.rows.length === 0
    ? [h('tr', { class: 'empty' }, h('td', { colspan: '6', testid: 'no-results' }, empty))]
    : page.rows.map((row) => h('tr', { testid: `result-${row.id}` },
      h('td', {}, row.id), h('td', {}, row.customer), h('td', { class: 'num' }, row.total.toFixed(2)),
      h('td', { class: 'num' }, String(row.items)), h('td', { class: `status-${row.status}` }, row.status),
      h('td', { testid: 'placed-at' }, localTime(row.placed_at))))));
  const last = Math.min(page.offset + page.rows.length, page.total);
  pageInfo.textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : '0 orders';
  pageInfo.dataset.total = String(page.total);
  $('#page-prev').disabled = page.offset === 0;
  $('#page-next').disabled = last >= page.total;
}

/**
 * Sends the builder's spec as it is (even with local errors: the service has the last word);
 * an empty filter is sent without a spec: every order.
 */
async function search() {
  const everything = builder.isEmpty();
  const body = { options: { order_by: ['-total', 'id'], limit: PAGE, offset } };
  if (!everything) body.spec = builder.spec();
  const { status, body: answer } = await call('POST', '/orders/search', body);
  document.body.dataset.searches = String(Number(document.body.dataset.searches ?? 0) + 1);
  if (status === 200) showRows(answer, everything);
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
    newCondition: NEW_CONDITION,
    onChange: () => builder && validateLocally(),
  });
  validateLocally();
  await search(); // every order, on load
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
