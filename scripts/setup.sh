#!/usr/bin/env bash
# Installs what the project needs on a fresh machine of this kind. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; this machine kind ships Rust via rustup" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# Debian's Chromium for the browser test of the npm package (no browser downloads).
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

# Debian's NATS server for the JetStream publisher's end-to-end test (nats/tests/).
if ! command -v nats-server >/dev/null; then
  echo "setup: installing nats-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nats-server >/dev/null
fi

# The npm package's development dependencies, exactly as locked.
if [ ! -d bindings-wasm/node_modules ] || [ bindings-wasm/package-lock.json -nt bindings-wasm/node_modules/.package-lock.json ]; then
  echo "setup: npm ci in bindings-wasm"
  (cd bindings-wasm && npm ci --no-audit --no-fund)
fi
# The service's browser test (playwright-core, driving Debian's Chromium), exactly as locked.
if [ ! -d service/e2e/node_modules ] || [ service/e2e/package-lock.json -nt service/e2e/node_modules/.package-lock.json ]; then
  echo "setup: npm ci in service/e2e"
  (cd service/e2e && npm ci --no-audit --no-fund)
fi

# The project venv: Python tools for the pip package (and later the test database), pinned.
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
requirements=scripts/requirements.txt
stamp=.venv/.requirements.sha256
if [ "$(sha256sum "$requirements" | cut -d' ' -f1)" != "$(cat "$stamp" 2>/dev/null)" ]; then
  echo "setup: pip install into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
  sha256sum "$requirements" | cut -d' ' -f1 > "$stamp"
fi

# The pip package, built with maturin and installed into .venv (editable).
.venv/bin/maturin develop -q --release -m bindings-python/Cargo.toml

# The WebAssembly build (installs wasm-bindgen-cli into .tools once).
bash scripts/build-wasm.sh
