#!/usr/bin/env bash
# Benchmarks the persistence layer against the raw driver on the Rust build of the test server
# (secantusd-rs, about 4x faster than secantusd-py, so server time does not hide our overhead).
# Installs what it needs into .tools/ once: Rust 1.98 (the server's MSRV), cmake, secantusd-rs.
set -euo pipefail
cd "$(dirname "$0")/.."

# BENCH_SERVER=python runs the same benchmarks on the Python test server the tests and the
# service's embedded database use (in memory; the project venv's, from scripts/setup.sh).
server_version=0.5.3-beta.196
server=.tools/secantus/bin/secantusd-rs
if [ "${BENCH_SERVER:-rust}" = python ]; then
  [ -x .venv/bin/secantusd-py ] || bash scripts/setup.sh
  server=.venv/bin/secantusd-py
elif ! "$server" --help 2>/dev/null | grep -q "$server_version"; then
  command -v cmake >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake; }
  rustup toolchain install 1.98.0 --profile minimal
  echo "bench: building secantusd-rs $server_version (about 12 minutes, once)"
  cargo +1.98.0 install --root .tools/secantus secantus-mdb --version "$server_version"
fi

storage=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "${BENCH_SERVER:-rust}" = python ]; then
  "$server" --host 127.0.0.1 --port "$port" --storage-path :memory: > "$storage/server.log" 2>&1 &
else
  "$server" --host 127.0.0.1 --port "$port" --storage-path "$storage" --log-level WARNING &
fi
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$storage"' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

# `bench-persistence.sh` runs every persistence benchmark; `bench-persistence.sh event_store` one.
benches=("${@:-overhead}")
[ $# -eq 0 ] && benches=(overhead event_store jobs_runner aggregates runtime)
for bench in "${benches[@]}"; do
  MONGODB_URI="mongodb://127.0.0.1:$port/?directConnection=true" \
    cargo bench -p cqrs-mongo-persistence --bench "$bench"
done
