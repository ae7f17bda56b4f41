# Sourced by demo.sh and service.sh: unless MONGODB_URI is set, starts an embedded SecantusDB
# on a free loopback port with the storage arguments given (default: in memory), waits until it
# accepts connections, exports MONGODB_URI and sets `server` to its pid (empty otherwise).
# The caller stops it (kill "$server").
start_embedded_server() {
  server=""
  [ -n "${MONGODB_URI:-}" ] && return 0
  local port
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/secantusd-py --host 127.0.0.1 --port "$port" "${@:---storage-path=:memory:}" --log-level WARNING &
  server=$!
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  export MONGODB_URI="mongodb://127.0.0.1:$port/?directConnection=true"
  echo "embedded SecantusDB on port $port"
}
