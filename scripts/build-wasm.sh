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
echo '{"type": "module"}' > "$out/web/package.json"

# Optional shrinking: binaryen's wasm-opt, when installed and able to read the module.
if command -v wasm-opt >/dev/null 2>&1; then
  for target in node web; do
    wasm="$out/$target/cqrs_mongo_spec_bg.wasm"
    if wasm-opt -Oz --all-features "$wasm" -o "$wasm.opt" 2>/dev/null; then
      mv "$wasm.opt" "$wasm"
    else
      rm -f "$wasm.opt"
      echo "build-wasm: wasm-opt could not process the module; keeping it unoptimised"
    fi
  done
fi
ls -l "$out"/*/cqrs_mongo_spec_bg.wasm
