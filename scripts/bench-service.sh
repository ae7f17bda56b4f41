#!/usr/bin/env bash
# Load on the orders service as users put it (issue 21): POST /orders from 1 client, then from
# 16, same run, on the embedded SecantusDB the README's command uses (secantusd-py, on disk,
# --sync-on-commit) and the debug build the e2e test runs. Runs the service once with each
# position allocation (POSITIONS=reserved, then in_transaction), each on a fresh database.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cargo build --quiet --locked -p cqrs-mongo-service

source scripts/embedded-server.sh
storage=$(mktemp -d)
start_embedded_server ${BENCH_STORAGE:---storage-path "$storage" --sync-on-commit}
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$storage"' EXIT

for positions in "${@:-reserved in_transaction}"; do
  for p in $positions; do
    log=$(mktemp)
    DATABASE="bench_service_$p" PORT=0 POSITIONS="$p" target/debug/cqrs-mongo-service > "$log" 2>&1 &
    service=$!
    url=""
    for _ in $(seq 300); do
      url=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$log")
      [ -n "$url" ] && break
      sleep 0.2
    done
    [ -n "$url" ] || { cat "$log"; echo "the service did not start" >&2; exit 1; }
    .venv/bin/python scripts/bench_service.py "$url" "$p"
    kill -TERM "$service"
    wait "$service" || true
    rm -f "$log"
  done
done
