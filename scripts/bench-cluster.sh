#!/usr/bin/env bash
# Scale-out benchmark: the same video, detection on every frame, processed by a coordinator pinned
# to core 0 alone, then with a worker node pinned to core 1 joined. Prints frames/s of both runs,
# their ratio, and how the frames were shared. Run it on an otherwise idle machine; it needs 2 cores.
#
#   bash scripts/bench-cluster.sh [BINARY] [VIDEO]
#
# BINARY defaults to target/release/sightline (make build); VIDEO to .cache/media/vtest.avi.
source "$(dirname "$0")/lib.sh"
# Times are read with a decimal point, whatever the caller's locale.
export LC_ALL=C
source "$ROOT/scripts/test-server.sh"

BIN=$(sightline_binary "${1:-$ROOT/target/release/sightline}" "make build")
VIDEO=${2:-$CACHE/media/vtest.avi}
[ -f "$VIDEO" ] || die "no video at $VIDEO (make setup)"
command -v taskset >/dev/null || die "taskset is needed (Debian package util-linux)"
[ "$(nproc)" -ge 2 ] || die "this benchmark needs 2 cores"

TMP=$(mktemp -d)
WORKER_PID=
cleanup() {
  [ -n "$WORKER_PID" ] && kill "$WORKER_PID" 2>/dev/null || true
  stop_test_server
  rm -rf "$TMP"
}
trap cleanup EXIT
# The coordinator (HTTP, decode, letterbox, render, encode, and its one local detector) on core 0.
printf '#!/bin/sh\nexec taskset -c 0 %s "$@"\n' "$BIN" > "$TMP/on-core-0"
chmod +x "$TMP/on-core-0"
start_test_server "$TMP/on-core-0" "$TMP" 'workers = 1
threads = 1
every = 1'

json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
calc() { python3 -c "print($1)"; }
# cpu_seconds PID: user + system CPU time the process has used.
cpu_seconds() {
  python3 -c "import os; f = open('/proc/$1/stat').read().rsplit(')', 1)[1].split(); print((int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK'))"
}

# process: uploads the video, waits until it is ready; prints "frames job-seconds wall-seconds".
# The job's seconds are its own, from its creation (upload done and checked) to its last update
# (ready); wall seconds also hold the upload and up to one polling interval. Polling is a bare curl
# twice a second: a heavier poll (starting python every 0.1 s cost a quarter of a core) takes CPU
# from the cores being measured, and in run 2 no core is idle to absorb it.
process() {
  local id video t0=$EPOCHREALTIME
  id=$(curl -sf -F "file=@$VIDEO" "$BASE/api/videos" | json 'd["id"]')
  while :; do
    video=$(curl -sf "$BASE/api/videos/$id")
    case $video in
      *'"status":"ready"'*) break ;;
      *'"status":"failed"'* | *'"status":"interrupted"'*) die "the job ended: $video" ;;
    esac
    sleep 0.5
  done
  echo "$(json '"%d %.3f" % (d["frames_done"], (d["updated_at"] - d["created_at"]) / 1000)' <<< "$video")" \
    "$(calc "$EPOCHREALTIME - $t0")"
}

frames_by_node() {
  curl -sf "$BASE/api/cluster" | json '", ".join("%s %d" % (n["name"], n["frames"]) for n in d["nodes"])'
}

latency_by_node() {
  curl -sf "$BASE/api/cluster" | json '", ".join("%s %.1f ms" % (n["name"], w.get("mean_latency_ms", 0)) for n in d["nodes"] for w in n["workers"])'
}

log "run 1: coordinator alone on core 0"
read -r frames1 secs1 wall1 < <(process)
log "run 2: + a worker node on core 1"
taskset -c 1 "$BIN" worker --join "127.0.0.1:$CLUSTER_PORT" --cookie-file "$TMP/data/cluster.cookie" \
  --workers 1 --threads 1 --name bench-worker > "$TMP/worker.log" 2>&1 &
WORKER_PID=$!
for _ in $(seq 600); do
  [ "$(curl -sf "$BASE/api/cluster" | json 'sum(n["state"] == "up" for n in d["nodes"])')" = 2 ] && break
  kill -0 "$WORKER_PID" 2>/dev/null || { cat "$TMP/worker.log" >&2; die "the worker exited"; }
  sleep 0.1
done
before=$(frames_by_node)
cpu0=$(cpu_seconds "$SERVER_PID") wcpu0=$(cpu_seconds "$WORKER_PID")
read -r frames2 secs2 wall2 < <(process)
cpu1=$(cpu_seconds "$SERVER_PID") wcpu1=$(cpu_seconds "$WORKER_PID")
after=$(frames_by_node)

printf '\nvideo %s, %s frames, detection on every frame, 1 detector worker per node\n' "$(basename "$VIDEO")" "$frames1"
printf '%-44s %12s %10s %14s\n' "" "job seconds" "frames/s" "wall seconds"
printf '%-44s %12.1f %10.1f %14.1f\n' "coordinator alone (core 0)" "$secs1" "$(calc "$frames1 / $secs1")" "$wall1"
printf '%-44s %12.1f %10.1f %14.1f\n' "coordinator (core 0) + worker node (core 1)" "$secs2" "$(calc "$frames2 / $secs2")" "$wall2"
printf 'scale-out ratio: %.2f (by wall time, upload and polling included: %.2f)\n' \
  "$(calc "($frames2 / $secs2) / ($frames1 / $secs1)")" "$(calc "($frames2 / $wall2) / ($frames1 / $wall1)")"
printf 'frames credited per node: before run 2: %s; after: %s\n' "$before" "$after"
printf 'run 2 CPU busy: coordinator %.0f%% of core 0, worker node %.0f%% of core 1\n' \
  "$(calc "100 * ($cpu1 - $cpu0) / $wall2")" "$(calc "100 * ($wcpu1 - $wcpu0) / $wall2")"
printf 'mean request time per worker (dispatch to answer, both runs): %s\n' "$(latency_by_node)"
