#!/usr/bin/env bash
# Compares the persistence benchmarks of this checkout with those of an earlier commit, in one
# run against one server: `bash scripts/bench-against.sh <commit> [bench ...]` (default benches:
# event_store jobs_runner). The baseline is checked out into target/bench-baseline (a git
# worktree) and built with the same toolchain and build cache; then each bench runs baseline,
# current, baseline, current, so both see the same machine and the same server.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 <commit> [bench ...]" >&2; exit 2; }
baseline_commit=$1
shift
benches=("${@:-}")
[ $# -eq 0 ] && benches=(event_store jobs_runner)

# The server (built once into .tools/ by bench-persistence.sh).
server=.tools/secantus/bin/secantusd-rs
[ -x "$server" ] || { echo "run scripts/bench-persistence.sh once first (it builds $server)" >&2; exit 1; }

baseline=target/bench-baseline
if [ -d "$baseline" ]; then
  git -C "$baseline" checkout -q --detach "$baseline_commit"
else
  git worktree add -q --detach "$baseline" "$baseline_commit"
fi

# The bench executables of a checkout, by bench name.
executables() {
  (cd "$1" && CARGO_TARGET_DIR="$PWD/$2" cargo bench -p cqrs-mongo-persistence --no-run --message-format=json 2>/dev/null) |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and "bench" in m["target"]["kind"] and m.get("executable"):
        print(m["target"]["name"], m["executable"])'
}
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
declare -A before after
while read -r name exe; do before[$name]=$exe; done < <(executables "$baseline" "$(realpath --relative-to="$baseline" "$target")")
while read -r name exe; do after[$name]=$exe; done < <(executables . "$(realpath --relative-to=. "$target")")

storage=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$server" --host 127.0.0.1 --port "$port" --storage-path "$storage" --log-level WARNING &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$storage"' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
export MONGODB_URI="mongodb://127.0.0.1:$port/?directConnection=true"

for bench in "${benches[@]}"; do
  for round in 1 2; do
    for side in before after; do
      if [ "$side" = before ]; then exe=${before[$bench]:-}; label="baseline $baseline_commit"; else exe=${after[$bench]:-}; label="current $(git rev-parse --short HEAD)"; fi
      [ -n "$exe" ] || { echo "no bench $bench in the $side build" >&2; exit 1; }
      echo "== $bench, round $round, $label"
      if [ "$side" = before ]; then dir="$baseline/persistence"; else dir=persistence; fi
      (cd "$dir" && "$exe" --bench)
    done
  done
done
