#!/usr/bin/env bash
# Sets everything up and runs the main job: the end-to-end orders demo (units of work with
# events and outbox, the projection runner, a specification query, the outbox relay, a job and
# a saga). It starts the embedded test server (SecantusDB) unless MONGODB_URI is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --quiet --locked -p cqrs-mongo-demo

if [ -z "${MONGODB_URI:-}" ]; then
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/secantusd-py --host 127.0.0.1 --port "$port" --storage-path :memory: --log-level WARNING &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  export MONGODB_URI="mongodb://127.0.0.1:$port/?directConnection=true"
  echo "demo: embedded SecantusDB on port $port"
fi
target/debug/cqrs-mongo-demo
