# Sourced by demo.sh and service.sh: unless MONGODB_URI is set, starts an embedded SecantusDB
# on a free loopback port with the storage arguments given (default: in memory), waits until it
# accepts connections, exports MONGODB_URI and sets `server` to its pid (empty otherwise).
# The caller stops it (kill "$server"), after its own programs: the server runs in a session of
# its own (setsid), so Ctrl-C in the terminal reaches the script and the program using the
# database, not the database under them. (A script's background job is not a process group
# leader, so setsid starts the server in the same process and `$!` is its pid.)
start_embedded_server() {
  server=""
  [ -n "${MONGODB_URI:-}" ] && return 0
  local port
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local own_session=()
  command -v setsid > /dev/null && own_session=(setsid)
  ${own_session[@]+"${own_session[@]}"} .venv/bin/secantusd-py --host 127.0.0.1 --port "$port" "${@:---storage-path=:memory:}" \
    --log-level WARNING &
  server=$!
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  export MONGODB_URI="mongodb://127.0.0.1:$port/?directConnection=true"
  echo "embedded SecantusDB on port $port"
}
