#!/usr/bin/env bash
# Times the detections and stats endpoints over HTTP with wrk, on the synthetic store that
# `sightline bench store` builds (or reuses).
#   scripts/bench-http.sh [DATA_DIR]          (default: .cache/bench-store)
# Needs a release build (cargo build --release), curl and wrk (Debian packages: curl, wrk).
# Runs from the repository root: `sightline bench store --data DATA_DIR` first (its in-process
# table), then `sightline serve` on 127.0.0.1 only, waits for /readyz, runs
# `wrk -t2 -c16 -d10s --latency` against
#   (a) GET /api/videos/ID/detections?start=S&end=S+10&limit=1000, S a random second, and
#   (b) GET /api/videos/ID/stats?bin=10,
# prints requests/s and latency percentiles, and stops the server however the script ends.
# Environment: PORT (default 18089), DURATION (wrk -d, default 10s), DETECTIONS (default 1000000).
set -euo pipefail

die() { echo "bench-http: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
data="${1:-.cache/bench-store}"
port="${PORT:-18089}"
duration="${DURATION:-10s}"
detections="${DETECTIONS:-1000000}"
bin=target/release/sightline
base="http://127.0.0.1:$port"

[ -x "$bin" ] || die "$bin is missing; run: cargo build --release"
command -v curl >/dev/null 2>&1 || die "curl is not installed (Debian package: curl)"
command -v wrk >/dev/null 2>&1 \
  || die "wrk is not installed (Debian package: wrk; apt-get install -y --no-install-recommends wrk)"
if curl -s -o /dev/null --max-time 2 "$base/healthz"; then
  die "something already answers on 127.0.0.1:$port; set PORT to a free port"
fi

tmp="$(mktemp -d)"
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== store, in process: $bin bench store --data $data --detections $detections"
"$bin" bench store --data "$data" --detections "$detections" | tee "$tmp/bench.txt"
line="$(grep '^bench-store: ' "$tmp/bench.txt" | tail -n 1)" || die "no 'bench-store:' line in the output"
id="$(sed -n 's/.* id=\([0-9a-f]\{16\}\).*/\1/p' <<<"$line")"
max_start="$(sed -n 's/.* max_start_s=\([0-9]\+\).*/\1/p' <<<"$line")"
[ -n "$id" ] && [ -n "$max_start" ] || die "cannot read the video id from: $line"

echo
echo "== HTTP: $bin serve --bind 127.0.0.1:$port --data $data"
"$bin" serve --bind "127.0.0.1:$port" --data "$data" >"$tmp/server.log" 2>&1 &
server_pid=$!
ready=0
for _ in $(seq 1 600); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    tail -n 20 "$tmp/server.log" >&2
    die "the server exited during start-up (log above)"
  fi
  if curl -sf -o /dev/null --max-time 2 "$base/readyz"; then
    ready=1
    break
  fi
  sleep 0.1
done
[ "$ready" = 1 ] || { tail -n 20 "$tmp/server.log" >&2; die "the server was not ready after 60 s (log above)"; }

detections_url="$base/api/videos/$id/detections?start=0&end=10&limit=1000"
stats_url="$base/api/videos/$id/stats?bin=10"
for url in "$detections_url" "$stats_url"; do
  status="$(curl -sS -o "$tmp/body" -w '%{http_code}' --max-time 10 "$url")" || die "cannot fetch $url"
  [ "$status" = 200 ] || die "$url answered HTTP $status: $(head -c 300 "$tmp/body")"
  echo "check: $url -> 200, $(wc -c <"$tmp/body") bytes"
done

# `bench store` wrote the wrk script (random 10 s windows of this video) next to the store.
lua="$data/wrk-detections.lua"
[ -f "$lua" ] || die "$lua is missing: bench store should have written it"

echo
echo "== (a) detections, 10 s window at a random start (0..$max_start s), limit 1000"
echo "wrk -t2 -c16 -d$duration --latency --timeout 5s -s $lua $base"
wrk -t2 -c16 -d"$duration" --latency --timeout 5s -s "$lua" "$base"

echo
echo "== (b) stats, bin 10 s"
echo "wrk -t2 -c16 -d$duration --latency --timeout 5s '$stats_url'"
wrk -t2 -c16 -d"$duration" --latency --timeout 5s "$stats_url"

echo
echo "(server and wrk share this machine's $(nproc) cores)"
