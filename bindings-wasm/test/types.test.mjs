// Type-checks test/types/usage.ts against index.d.ts with the installed TypeScript compiler.
// usage.ts holds `@ts-expect-error` lines, so a declaration that stops rejecting a wrong spec
// fails this test as surely as one that rejects a right one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

function runTsc(...extra) {
  const run = spawnSync(process.execPath, [tsc, '-p', 'test/types/tsconfig.json', ...extra], {
    cwd: root,
    encoding: 'utf8',
  });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

test('index.d.ts type-checks test/types/usage.ts (strict, ES library only)', () => {
  const { status, output } = runTsc();
  assert.equal(status, 0, `tsc failed:\n${output}`);
});

test('index.d.ts also type-checks with the DOM library (browser projects)', () => {
  const { status, output } = runTsc('--lib', 'es2022,dom');
  assert.equal(status, 0, `tsc --lib es2022,dom failed:\n${output}`);
});
