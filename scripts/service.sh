#!/usr/bin/env bash
# Sets everything up and starts the orders web service (service/) on http://127.0.0.1:${PORT:-8080}:
# the page with the filter builder, the JSON API, the projection runner and the outbox relay in
# one process. It starts an embedded SecantusDB (on-disk under target/service-db, kept between
# runs) unless MONGODB_URI is set. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --quiet --locked -p cqrs-mongo-service

source scripts/embedded-server.sh
# On disk, kept between runs; --sync-on-commit: acknowledged orders survive a restart.
mkdir -p target/service-db
start_embedded_server --storage-path target/service-db --sync-on-commit
# The service runs in the background so that this script can pass Ctrl-C or SIGTERM on to it
# (it stops within its deadlines: in-flight requests finish within SHUTDOWN_GRACE, the rest are
# closed, the runner hands its lease over, it prints "stopped"), then stop the server, which
# runs in its own session (embedded-server.sh) so that Ctrl-C does not stop it first.
target/debug/cqrs-mongo-service &
service=$!
stop() {
  kill -TERM "$service" 2>/dev/null || true
  wait "$service" 2>/dev/null || true
  if [ -n "${server:-}" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
}
trap 'stop; exit 0' INT TERM
trap stop EXIT
wait "$service"
