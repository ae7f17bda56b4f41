#!/usr/bin/env bash
# Sets everything up and runs the main job: the compiler demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run --quiet --locked -p cqrs-mongo-spec --example demo
