# A `sightline serve` for the scripted tests (API contract, browser). Sourced after lib.sh.
#   start_test_server BINARY DIR CONFIG-TEXT   sets PORT, BASE, CLUSTER_PORT and SERVER_PID; waits for /readyz
#   stop_test_server                           TERM, then KILL after 5 s
#   server_log WHY [LINES]                     the end of its log, on stderr
#   scratch_dir                                sets TMP, a temp folder removed (with the server
#                                              stopped) when the script exits
# The server gets its own config file and no SIGHTLINE_* variables (but the log filter), so a
# developer's sightline.toml or environment (an api_token, another model) cannot change what is
# tested. It runs from the repository root, where its default paths (model, web/) point.

SERVER_PID=

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_log() {
  echo "--- last lines of the server's log ($1) ---" >&2
  tail -n "${2:-40}" "$SERVER_DIR/server.log" | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
}

start_test_server() {
  local bin=$1
  SERVER_DIR=$2
  PORT=$(free_port)
  # Its own cluster port too, so test servers never meet each other's worker nodes.
  CLUSTER_PORT=$(free_port)
  printf '%s\ncluster_listen = "127.0.0.1:%s"\n' "$3" "$CLUSTER_PORT" > "$SERVER_DIR/sightline.toml"
  BASE="http://127.0.0.1:$PORT"
  local unset_vars=() v
  for v in $(compgen -e); do
    case $v in SIGHTLINE_LOG) ;; SIGHTLINE_*) unset_vars+=(-u "$v") ;; esac
  done
  log "starting $bin serve on $BASE"
  (cd "$ROOT" && exec env "${unset_vars[@]}" "$bin" serve --bind "127.0.0.1:$PORT" --data "$SERVER_DIR/data" \
    --config "$SERVER_DIR/sightline.toml") > "$SERVER_DIR/server.log" 2>&1 &
  SERVER_PID=$!
  local _
  for _ in $(seq 600); do
    kill -0 "$SERVER_PID" 2>/dev/null || { server_log "it exited"; die "the server did not start"; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  server_log "not ready after 60 s"
  die "the server was not ready within 60 s"
}

stop_test_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local _
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}

scratch_dir() {
  TMP=$(mktemp -d)
  trap 'stop_test_server; rm -rf "$TMP"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
