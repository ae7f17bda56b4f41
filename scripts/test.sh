#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (what .ci/run runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }

# CI builds once from scratch: incremental caches would only take disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
step "disk space before the build (a full run needs about 4 GiB under target/)"
df -h . | tail -1

step "cargo fmt --check"
cargo fmt --all -- --check

# pyo3 builds against the project venv's Python.
export PYO3_PYTHON="$PWD/.venv/bin/python"

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, golden, property tests and doctests)"
cargo test --workspace --locked

step "the compiler builds for wasm32-unknown-unknown"
cargo build -p cqrs-mongo-spec --target wasm32-unknown-unknown --locked

step "the compiler depends on neither tokio nor mongodb"
if cargo tree -p cqrs-mongo-spec -e normal --prefix none | grep -E '^(tokio|mongodb) '; then
  echo "the compiler must stay pure" >&2
  exit 1
fi
echo "ok: no tokio, no mongodb in cqrs-mongo-spec"

step "the generic cqrs-mongo binary links no application (cqrs-mongo-cli does not depend on the demo)"
if cargo tree -p cqrs-mongo-cli --prefix none | grep -E '^cqrs-mongo-demo '; then
  echo "cqrs-mongo must register nothing: applications build their own binary on cqrs_mongo_cli::run" >&2
  exit 1
fi
echo "ok: no cqrs-mongo-demo in cqrs-mongo-cli (normal, build or dev dependencies)"

step "the end-to-end demo runs (scripts/demo.sh, the README's first command)"
bash scripts/demo.sh > target/demo.log
tail -1 target/demo.log
grep -q "^report: 12 orders, 15 events, 12 summaries, 12 outbox messages published" target/demo.log
# The leading runner and one relay are killed mid-run: nothing lost, nothing twice.
grep -q "^failover: 0 lost, 0 duplicated read-model updates; 0 lost, 0 duplicated outbox publications$" target/demo.log

step "npm package: golden cases, API, types, packed tarball, browser demo (node --test)"
(cd bindings-wasm && node --test test/)

step "pip package: golden cases, compat, bad input, wheel install, mypy --strict, stubtest (pytest)"
.venv/bin/python -m pytest bindings-python/tests -q
