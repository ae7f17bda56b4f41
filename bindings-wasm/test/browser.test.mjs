// Drives demo/index.html in headless Chromium: builds a three-condition filter by clicking and
// typing, and checks the filter the page shows (compiled by the WebAssembly module in the browser)
// against the Rust compiler's output for the same spec and the same field schema
// (`cargo run --example compile -- --settings`). Also checks that the page offers only the
// operators the schema allows, that a spec edited by hand with a disallowed operator shows the
// compiler's error, that an invalid value is reported inline, and captures the page
// (demo/screenshot.png, the README's, with UPDATE_SCREENSHOTS=1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

const PKG = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORKSPACE = resolve(PKG, '..');
const CHROMIUM = '/usr/bin/chromium';
const WASM = join(PKG, 'pkg/web/cqrs_mongo_spec_bg.wasm');
// The README's screenshot is refreshed only when asked (UPDATE_SCREENSHOTS=1), so a test run
// leaves the checkout as it was; otherwise the page is captured under target/.
const SCREENSHOT = process.env.UPDATE_SCREENSHOTS
  ? join(PKG, 'demo/screenshot.png')
  : join(WORKSPACE, 'target/screenshots/filter-builder.png');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ts': 'text/plain; charset=utf-8',
};

/** A static file server for PKG on 127.0.0.1 and a free port. */
async function startServer() {
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
      const file = resolve(PKG, '.' + path);
      if (file !== PKG && !file.startsWith(PKG + sep)) throw Object.assign(new Error('outside'), { status: 403 });
      if (!(await stat(file)).isFile()) throw Object.assign(new Error('not a file'), { status: 404 });
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch (err) {
      res.writeHead(err.status ?? 404, { 'content-type': 'text/plain' });
      res.end(err.status === 403 ? 'forbidden' : 'not found');
    }
  });
  await new Promise((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

/**
 * Runs cargo in the workspace with `input` on stdin; resolves to its stdout (also for exit
 * status 1 when `errorsToo`: the example's status for a spec error).
 */
function cargo(args, input = '', errorsToo = false) {
  return new Promise((ok, fail) => {
    const child = spawn('cargo', args, { cwd: WORKSPACE, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 || (errorsToo && code === 1)
      ? ok(out)
      : fail(new Error(`cargo ${args.join(' ')} exited with ${code}: ${out}${err}`))));
    child.stdin.end(input);
  });
}

const EXAMPLE = ['-q', '-p', 'cqrs-mongo-spec', '--example', 'compile'];
const SCHEMA = JSON.parse(await readFile(join(PKG, 'demo/schema.json'), 'utf8'));
const SETTINGS_FILE = join(await mkdtemp(join(tmpdir(), 'demo-settings-')), 'settings.json');
await writeFile(SETTINGS_FILE, JSON.stringify({ schema: SCHEMA }));

/**
 * What the Rust compiler makes of a spec with the page's schema: `{filter, ...}` as relaxed
 * Extended JSON, or `{error: {code, path, message}}`.
 */
async function rustCompile(specJson) {
  const out = await cargo(['run', ...EXAMPLE, '--', '--settings', SETTINGS_FILE], specJson, true);
  try {
    return JSON.parse(out);
  } catch {
    throw new Error(`bad output from the Rust example: ${out}`);
  }
}

/** The package is rebuilt by someone else now and then: wait a little if pkg/ is missing. */
async function waitForPackage() {
  for (let i = 0; i < 60 && !existsSync(WASM); i++) await sleep(500);
  assert.ok(existsSync(WASM), `${WASM} is missing: build the package with scripts/build-wasm.sh`);
}

const tid = (page, id) => page.getByTestId(id);

async function addCondition(page, id, field, op, value) {
  await tid(page, 'add-condition').click();
  await tid(page, `field-${id}`).selectOption(field);
  await tid(page, `op-${id}`).selectOption(op);
  if (value !== undefined) await tid(page, `value-${id}`).fill(value);
}

/** The spec (the editor's text) or the filter the page shows. */
const readJson = async (page, id) => JSON.parse(id === '#spec-json'
  ? await page.locator(id).inputValue()
  : await page.locator(id).textContent());
const specText = (page) => page.locator('#spec-json').inputValue();
/** The values of the options a select offers. */
const offered = (page, id) => tid(page, id).locator('option').evaluateAll((options) => options.map((o) => o.value));

test('demo page builds a filter identical to the Rust compiler', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(CHROMIUM),
    `Chromium is missing at ${CHROMIUM}: run scripts/setup.sh to install it (this test needs a real browser)`);
  await waitForPackage();
  // Build the Rust example while the browser works (a no-op when it is up to date).
  const built = cargo(['build', ...EXAMPLE]);
  built.catch(() => {}); // awaited below; avoids an unhandled rejection if the browser fails first

  const { server, base } = await startServer();
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    const problems = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
    // Everything must be local: refuse any request that leaves the test server.
    await page.route((url) => !url.href.startsWith(base + '/') && !url.href.startsWith('data:'), (route) => {
      problems.push(`external request: ${route.request().url()}`);
      return route.abort();
    });

    await page.goto(`${base}/demo/index.html`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });

    // An empty root group is reported as such.
    assert.equal(await page.locator('#errors').getAttribute('data-count'), '1');
    assert.equal(await tid(page, 'group-error').getAttribute('data-code'), 'empty_group');

    // Three conditions, combined with OR (toggled to OR, back to AND, and to OR again).
    await addCondition(page, 0, 'status', '=', 'active');
    await addCondition(page, 1, 'total', '>=', '100');
    await addCondition(page, 2, 'region', 'in', 'eu, us');
    for (const op of ['or', 'and', 'or']) {
      await tid(page, `group-op-${op}`).click();
      assert.equal(await tid(page, 'group-op').getAttribute('data-value'), op);
    }
    assert.equal(await tid(page, 'group-op-or').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('#errors').getAttribute('data-count'), '0');

    const spec = await readJson(page, '#spec-json');
    assert.deepEqual(spec, {
      op: 'or',
      conditions: [
        { op: '=', attr: 'status', val: 'active' },
        { op: '>=', attr: 'total', val: 100 },
        { op: 'in', attr: 'region', val: ['eu', 'us'] },
      ],
    });
    const filter = await readJson(page, '#filter-json');
    await built;
    const rust = await rustCompile(await specText(page));
    assert.deepEqual(filter, rust.filter);
    assert.deepEqual(filter, {
      $or: [{ status: { $eq: 'active' } }, { total: { $gte: 100 } }, { region: { $in: ['eu', 'us'] } }],
    });

    await page.evaluate(() => document.activeElement?.blur());
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: false });

    // `between` with a single value: an inline invalid_value error on that row, and no filter.
    await addCondition(page, 3, 'qty', 'between', '5');
    const rowError = tid(page, 'error-3');
    await rowError.waitFor({ state: 'visible' });
    assert.equal(await rowError.getAttribute('data-code'), 'invalid_value');
    assert.match(await rowError.textContent(), /between/);
    assert.equal(await tid(page, 'value-3').getAttribute('aria-invalid'), 'true');
    assert.equal(await tid(page, 'error-0').isVisible(), false);
    assert.equal(await page.locator('#errors').getAttribute('data-count'), '1');
    assert.match(await page.locator('#errors').textContent(), /invalid_value.*conditions\[3\]\.val/);
    assert.ok((await page.locator('#filter-json').textContent()).startsWith('//'));

    // Fixing the value clears the error; the four-condition filter matches Rust too.
    await tid(page, 'value-3').fill('5, 10');
    await rowError.waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#errors').getAttribute('data-count'), '0');
    const rust4 = await rustCompile(await specText(page));
    assert.deepEqual(await readJson(page, '#filter-json'), rust4.filter);

    // Flag operators hide the value input; removing a row drops it from the spec.
    await tid(page, 'op-3').selectOption('is_null');
    assert.equal(await tid(page, 'value-3').isVisible(), false);
    assert.deepEqual((await readJson(page, '#spec-json')).conditions[3], { op: 'is_null', attr: 'qty' });
    await tid(page, 'remove-3').click();
    assert.deepEqual(await readJson(page, '#filter-json'), rust.filter);

    // A nested group, with its own AND/OR toggle.
    await tid(page, 'add-group').click();
    assert.equal(await tid(page, 'group-error-1').getAttribute('data-code'), 'empty_group');
    await tid(page, 'add-condition-1').click();
    await tid(page, 'field-4').selectOption('note');
    await tid(page, 'op-4').selectOption('icontains');
    await tid(page, 'value-4').fill('gift');
    await tid(page, 'group-op-1-or').click();
    const nested = await readJson(page, '#spec-json');
    assert.deepEqual(nested.conditions[3], { op: 'or', conditions: [{ op: 'icontains', attr: 'note', val: 'gift' }] });
    const rust5 = await rustCompile(JSON.stringify(nested));
    assert.deepEqual(await readJson(page, '#filter-json'), rust5.filter);

    // The end-to-end demo's query (demo/summary_spec.json) is one the page builds by clicking.
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await addCondition(page, 0, 'total', '>=', '100');
    await addCondition(page, 1, 'status', 'in', 'placed, paid');
    const demoSpec = JSON.parse(await readFile(join(WORKSPACE, 'demo/summary_spec.json'), 'utf8'));
    assert.deepEqual(await readJson(page, '#spec-json'), demoSpec);
    const rustDemo = await rustCompile(JSON.stringify(demoSpec));
    assert.deepEqual(await readJson(page, '#filter-json'), rustDemo.filter);

    // Only the schema's fields, and per field only its operators, can be chosen.
    assert.deepEqual(await offered(page, 'field-0'), SCHEMA.fields.map((f) => f.name));
    assert.deepEqual(await offered(page, 'op-1'), ['=', '!=', 'in', 'not_in', 'is_null', 'is_not_null']); // status, as listed
    assert.deepEqual(await offered(page, 'op-0'), // total, an integer: the ordered operators
      ['=', '!=', '>', '>=', '<', '<=', 'between', 'not_between', 'in', 'not_in', 'is_null', 'is_not_null']);
    await assert.rejects(tid(page, 'op-1').selectOption('like', { timeout: 2_000 }));
    await tid(page, 'field-1').selectOption('note');
    assert.ok((await offered(page, 'op-1')).includes('like'));
    await tid(page, 'op-1').selectOption('like');
    await tid(page, 'field-1').selectOption('status');
    assert.equal(await tid(page, 'op-1').inputValue(), '=', 'an operator the new field does not allow is replaced');
    assert.equal((await readJson(page, '#spec-json')).conditions[1].op, '=');
    await tid(page, 'op-1').selectOption('in');

    // A UI name with a stored path: the filter uses the path, as the Rust compiler does.
    await addCondition(page, 2, 'customer', 'icontains', 'smith');
    const stored = await readJson(page, '#filter-json');
    assert.deepEqual(stored.$and[2], { 'customer.name': { $regex: 'smith', $options: 'i' } });
    assert.deepEqual(stored, (await rustCompile(await specText(page))).filter);

    // A spec edited by hand with an operator the schema does not allow on its field shows the
    // compiler's error at its path, the same the Rust compiler reports; the builder restores it.
    const edited = { op: 'and', conditions: [{ op: '=', attr: 'status', val: 'paid' }, { op: 'like', attr: 'status', val: 'pa%' }] };
    await page.locator('#spec-json').fill(JSON.stringify(edited, null, 2));
    assert.equal(await tid(page, 'spec-edited').isVisible(), true);
    assert.equal(await page.locator('#errors').getAttribute('data-count'), '1');
    assert.match(await page.locator('#errors').textContent(), /operator_not_allowed.*<root>\.conditions\[1\]\.op/);
    assert.ok((await page.locator('#filter-json').textContent()).startsWith('//'));
    const rustError = (await rustCompile(JSON.stringify(edited))).error;
    assert.deepEqual([rustError.code, rustError.path], ['operator_not_allowed', ['conditions', 1, 'op']]);
    // Valid JSON typed by hand compiles with the schema too (the stored path again).
    await page.locator('#spec-json').fill('{"op": "=", "attr": "customer", "val": "Ann"}');
    assert.equal(await page.locator('#errors').getAttribute('data-count'), '0');
    assert.deepEqual(await readJson(page, '#filter-json'), { 'customer.name': { $eq: 'Ann' } });
    await tid(page, 'reset-spec').click();
    assert.equal(await tid(page, 'spec-edited').isVisible(), false);
    assert.deepEqual(await readJson(page, '#filter-json'), stored);

    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
    await new Promise((ok) => server.close(ok));
  }
});
