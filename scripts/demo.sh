#!/usr/bin/env bash
# Sets everything up and runs the main job: the end-to-end orders demo (units of work with
# events and outbox, the projection runner, a specification query, the outbox relay, a job and
# a saga). It starts the embedded test server (SecantusDB) unless MONGODB_URI is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --quiet --locked -p cqrs-mongo-demo

source scripts/embedded-server.sh
start_embedded_server
if [ -n "$server" ]; then trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT; fi
target/debug/cqrs-mongo-demo
