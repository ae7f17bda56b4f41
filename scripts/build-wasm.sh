#!/usr/bin/env bash
# Builds the npm package's WebAssembly module and JS glue into bindings-wasm/pkg/{node,web}.
# Installs wasm-bindgen-cli (exactly the wasm-bindgen crate version) into .tools/ once.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
tools="$PWD/.tools"
bindgen="$tools/bin/wasm-bindgen"
if ! "$bindgen" --version 2>/dev/null | grep -qx "wasm-bindgen $version"; then
  echo "build-wasm: installing wasm-bindgen-cli $version into .tools (takes several minutes once)"
  cargo install --root "$tools" wasm-bindgen-cli --version "$version"
fi
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

cargo build --locked -p cqrs-mongo-spec-wasm --target wasm32-unknown-unknown --profile wasm
module=target/wasm32-unknown-unknown/wasm/cqrs_mongo_spec_wasm.wasm
out=bindings-wasm/pkg
rm -rf "$out"
"$bindgen" "$module" --target nodejs --out-dir "$out/node" --out-name cqrs_mongo_spec
"$bindgen" "$module" --target web --out-dir "$out/web" --out-name cqrs_mongo_spec
echo '{"type": "commonjs"}' > "$out/node/package.json"
# The JS layer is written once as an ES module; Node's CommonJS entry gets a generated copy.
# Its one import (the BSON writer, js/bson.mjs) becomes a require of that file's copy.
to_cjs() {
  sed -e 's/^export class /class /' -e 's/^export function /function /' \
    -e "s|^import { \(.*\) } from './bson.mjs';|const { \1 } = require('./bson.cjs');|" "$1" > "$2"
  if grep -qE '^(export|import) ' "$2"; then
    echo "build-wasm: $1 may only use 'export class', 'export function' and import from './bson.mjs'" >&2
    exit 1
  fi
}
to_cjs bindings-wasm/js/api.mjs "$out/node/api.cjs"
echo 'module.exports = { SpecError, Compiler, makeApi, toJsonText };' >> "$out/node/api.cjs"
to_cjs bindings-wasm/js/bson.mjs "$out/node/bson.cjs"
echo 'module.exports = { bsonDocument, bsonDocuments };' >> "$out/node/bson.cjs"
echo '{"type": "module"}' > "$out/web/package.json"

# Shrinking with binaryen's wasm-opt from the npm registry (devDependency `binaryen`; Debian's
# binaryen 108 is too old for the externref table wasm-bindgen emits). Optional: the result is
# kept only if the package still loads and compiles with it.
wasm_opt=bindings-wasm/node_modules/.bin/wasm-opt
if [ -x "$wasm_opt" ]; then
  node_wasm="$out/node/cqrs_mongo_spec_bg.wasm"
  cp "$node_wasm" "$node_wasm.orig"
  if "$wasm_opt" -O3 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
       --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
       "$node_wasm.orig" -o "$node_wasm" &&
     node -e "require('./bindings-wasm/js/node.cjs').compile({op: 'in', attr: 'a', val: [1]})"; then
    cp "$node_wasm" "$out/web/cqrs_mongo_spec_bg.wasm"
  else
    cp "$node_wasm.orig" "$node_wasm"
    echo "build-wasm: wasm-opt output does not load; keeping the module as rustc built it"
  fi
  rm -f "$node_wasm.orig"
else
  echo "build-wasm: no wasm-opt (run npm ci in bindings-wasm); the module is not shrunk"
fi
node -e "require('./bindings-wasm/js/node.cjs').operators()" ||
  { echo "build-wasm: the built package does not load" >&2; exit 1; }
ls -l "$out"/*/cqrs_mongo_spec_bg.wasm
