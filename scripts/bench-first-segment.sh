#!/usr/bin/env bash
# Time to first playable: a server is started, a video uploaded, and its stream endpoint polled
# every 50 ms from the moment the upload is accepted until it answers 200 (every rendition has a
# segment). Prints that time and how long the whole job took. Repeated RUNS times on one server
# (its detector sessions warm, as a running server's are).
#
#   bash scripts/bench-first-segment.sh [BINARY] [VIDEO] [RUNS]
#
# BINARY defaults to target/release/sightline (make build), VIDEO to .cache/media/vtest_1280x720.mp4,
# RUNS to 3.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
source "$ROOT/scripts/test-server.sh"

BIN=$(sightline_binary "${1:-$ROOT/target/release/sightline}" "make build")
VIDEO=${2:-$CACHE/media/vtest_1280x720.mp4}
RUNS=${3:-3}
[ -f "$VIDEO" ] || die "no video at $VIDEO (make setup)"

scratch_dir
start_test_server "$BIN" "$TMP" ""
now() { date +%s.%N; }
field() { python3 -c "import json, sys; print(json.load(sys.stdin).get('$1', ''))"; }

printf '%-5s %22s %12s\n' "run" "first playable (s)" "job (s)"
for run in $(seq "$RUNS"); do
  id=$(curl -sf -F "file=@$VIDEO" "$BASE/api/videos" | field id) || die "upload refused"
  accepted=$(now)
  while [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/videos/$id/stream")" != 200 ]; do
    sleep 0.05
    awk -v a="$accepted" -v n="$(now)" 'BEGIN { exit !(n - a > 600) }' && die "no segment after 600 s"
  done
  playable=$(now)
  while :; do
    status=$(curl -s "$BASE/api/videos/$id" | field status)
    case $status in
      ready) break ;;
      failed | interrupted) server_log "the job ended $status"; die "the job ended $status" ;;
    esac
    sleep 0.2
  done
  printf '%-5s %22.2f %12.1f\n' "$run" "$(awk -v a="$accepted" -v p="$playable" 'BEGIN { print p - a }')" \
    "$(awk -v a="$accepted" -v n="$(now)" 'BEGIN { print n - a }')"
done
