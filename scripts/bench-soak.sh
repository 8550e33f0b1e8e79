#!/usr/bin/env bash
# Memory across jobs: a release server processes N short jobs one after another and its resident
# memory is sampled after each, to show whether memory returns to its level after the first jobs.
#   scripts/bench-soak.sh [N] [CLIP]     (default: 50 jobs of .cache/media/bikes_5fps.mp4)
# Needs a release build (cargo build --release) and `make setup`. Prints RSS after each job and
# the growth from job 10 to job N (the target: within 10%). The server listens on loopback only
# and is stopped however the script ends. Environment: PORT (default 18091).
set -euo pipefail

die() { echo "bench-soak: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
jobs="${1:-50}"
clip="${2:-.cache/media/bikes_5fps.mp4}"
port="${PORT:-18091}"
bin=target/release/sightline
base="http://127.0.0.1:$port"
[ -x "$bin" ] || die "$bin is missing; run: cargo build --release"
[ -f "$clip" ] || die "$clip is missing; run: make setup"
(( jobs >= 10 )) || die "N must be at least 10"
if curl -s -o /dev/null --max-time 2 "$base/healthz"; then
  die "something already answers on 127.0.0.1:$port; set PORT to a free port"
fi

data=$(mktemp -d)
"$bin" serve --bind "127.0.0.1:$port" --data "$data/data" >"$data/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 300); do
  curl -s -o /dev/null --max-time 1 "$base/readyz" && break
  sleep 0.2
done
curl -sf -o /dev/null "$base/readyz" || die "the server did not become ready (log: $data/server.log)"

rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
echo "$(basename "$clip"), $jobs jobs in a row, detection on every frame; RSS of the server (MiB)"
echo "after start: $(rss_mib)"
declare -a rss
for i in $(seq "$jobs"); do
  id=$(curl -sf -F "file=@$clip" "$base/api/videos" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
  [ -n "$id" ] || die "upload $i was refused"
  for _ in $(seq 600); do
    status=$(curl -sf "$base/api/videos/$id" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
    [[ $status == ready || $status == failed ]] && break
    sleep 0.2
  done
  [[ $status == ready ]] || die "job $i ended $status"
  rss[i]=$(rss_mib)
  printf 'job %3d  %s\n' "$i" "${rss[i]}"
done
awk -v a="${rss[10]}" -v b="${rss[jobs]}" -v n="$jobs" \
  'BEGIN { printf "growth from job 10 to job %d: %+.1f%% (%.1f -> %.1f MiB)\n", n, (b - a) * 100 / a, a, b }'
