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

step "the API docs build without a broken link (rustdoc, warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked

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

step "the crates for crates.io package (spec, persistence, cli, nats; the compiler's package built on its own)"
.venv/bin/python scripts/check_packages.py

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

step "the web service end to end in headless Chromium (service/e2e, node --test)"
cargo build --quiet --locked -p cqrs-mongo-service
(cd service/e2e && node --test)

step "the README's service command starts the service (scripts/service.sh), which answers /ready"
rm -rf target/service-db
PORT=0 bash scripts/service.sh > target/service.log 2>&1 &
service_script=$!
url=""
for _ in $(seq 600); do
  url=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' target/service.log)
  [ -n "$url" ] && break
  kill -0 $service_script 2>/dev/null || break
  sleep 0.2
done
[ -n "$url" ] || { cat target/service.log; echo "scripts/service.sh did not start the service" >&2; exit 1; }
.venv/bin/python - "$url" <<'PY'
import json, sys, urllib.request
ready = json.load(urllib.request.urlopen(sys.argv[1] + "/ready", timeout=30))
page = urllib.request.urlopen(sys.argv[1] + "/", timeout=30).read().decode()
assert ready["status"] == "ready", ready
assert "Place an order" in page, page[:200]
print("ok:", sys.argv[1], ready["status"])
PY
kill -TERM $service_script
wait $service_script
grep -q "^stopped$" target/service.log || { cat target/service.log; echo "the service did not stop cleanly" >&2; exit 1; }
