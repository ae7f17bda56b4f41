// Runs every case of tests/golden/ through the npm package, one named test per file, and checks
// canonical Extended JSON output and error {code, path} against the file.
//
// Specs are passed as JSON *text* cut out of the case file (`rawMembers`): JSON.parse would turn
// 1.0 into 1 and 2^63 into a double, and the compiler must see what the file says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

import { Compiler, compile, compileJson, validate, SpecError } from '../js/node.mjs';
import { caseFiles, goldenRoot, rawMembers, typed } from '../test-support/golden.mjs';

const root = goldenRoot;

// The case's config as it is (the settings object accepts the Rust spelling too).
function settingsOf(config = {}) {
  return { output: 'canonical', ...config };
}

for (const file of caseFiles(root)) {
  const name = relative(root, file).replace(/\.json$/, '');
  test(name, () => {
    const text = readFileSync(file, 'utf8');
    const golden = JSON.parse(text);
    const raw = rawMembers(text);
    const specText = typeof golden.spec === 'string' ? golden.spec : raw.spec;
    const optionsText = raw.options;
    const settings = settingsOf(golden.config);
    if (golden.error) {
      assert.throws(() => compileJson(specText, optionsText, settings), (err) => {
        assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
        assert.deepEqual({ code: err.code, path: err.path }, golden.error);
        return true;
      });
      const [first] = validate(specText, optionsText, settings);
      assert.deepEqual({ code: first.code, path: first.path }, golden.error);
      return;
    }
    const actual = JSON.parse(compileJson(specText, optionsText, settings));
    const expected = { ...golden.expected };
    // The JS API always returns a pipeline; without options it is the $match stage alone.
    expected.pipeline ??= [{ $match: golden.expected.filter }];
    assert.equal(JSON.stringify(typed(actual)), JSON.stringify(typed(expected)));
    assert.deepEqual(validate(specText, optionsText, settings), []);
  });
}

// Every case again through one Compiler per distinct settings, built once and reused by all the
// cases that share them: what the shortcuts give, case by case (text in, and objects in).
const compilers = new Map();
function compilerFor(settings) {
  const key = JSON.stringify(settings);
  if (!compilers.has(key)) {
    try {
      compilers.set(key, new Compiler(settings));
    } catch (err) {
      compilers.set(key, err);
    }
  }
  return compilers.get(key);
}

const outcome = (call) => {
  try {
    return { ok: JSON.stringify(call()) };
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
    return { code: err.code, path: err.path };
  }
};

for (const file of caseFiles(root)) {
  const name = relative(root, file).replace(/\.json$/, '');
  test(`Compiler: ${name}`, () => {
    const text = readFileSync(file, 'utf8');
    const golden = JSON.parse(text);
    const raw = rawMembers(text);
    const specText = typeof golden.spec === 'string' ? golden.spec : raw.spec;
    const settings = settingsOf(golden.config);
    const compiler = compilerFor(settings);
    const expected = outcome(() => compileJson(specText, raw.options, settings));
    if (compiler instanceof SpecError) {
      assert.deepEqual(expected, { code: compiler.code, path: compiler.path });
      return;
    }
    assert.deepEqual(outcome(() => compiler.compileJson(specText, raw.options)), expected);
    assert.deepEqual(compiler.validate(specText, raw.options), validate(specText, raw.options, settings));
    const options = golden.options;
    assert.deepEqual(outcome(() => compiler.compile(golden.spec, options)), outcome(() => compile(golden.spec, options, settings)));
  });
}

test('the Compiler objects of the corpus are few and shared', () => {
  assert.ok(compilers.size > 10 && compilers.size < 200, `${compilers.size} compilers`);
});
