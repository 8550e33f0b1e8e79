#!/usr/bin/env bash
# How many 1280×720 30 fps live sources one machine sustains. A stand-in RTSP camera (the
# rtsp_camera example, in --copy mode: it sends the sample's H.264 as it is, so it costs next to
# nothing) serves vtest_1280x720.mp4 to each; for N = 1, 2, … sources on one server at defaults
# (every frame due for detection), each run for RUN_S seconds, prints per N: input and processed
# fps, detections tracked only (what the adaptive cadence gave up), frames dropped, the worst
# latency, and two verdicts: sustained with every frame detected (nothing tracked only or dropped),
# and sustained with the adaptive cadence (every frame encoded, latency within a segment + 2 s).
#
#   bash scripts/bench-live.sh [BINARY] [MAX_SOURCES] [RUN_S]
#
# BINARY defaults to target/release/sightline (make build); its examples/rtsp_camera must exist
# (cargo build --release --example rtsp_camera). MAX_SOURCES defaults to 4, RUN_S to 60.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
source "$ROOT/scripts/test-server.sh"

BIN=$(sightline_binary "${1:-$ROOT/target/release/sightline}" "make build")
MAX=${2:-4}
RUN_S=${3:-60}
CAMERA_BIN="$(dirname "$BIN")/examples/rtsp_camera"
[ -x "$CAMERA_BIN" ] || die "$CAMERA_BIN is missing: cargo build --release --example rtsp_camera"
VIDEO=$CACHE/media/vtest_1280x720.mp4
[ -f "$VIDEO" ] || die "no video at $VIDEO (make setup)"

scratch_dir
"$CAMERA_BIN" --copy --port "$(free_port)" --file "$VIDEO" --loops 20 > "$TMP/camera.out" 2>&1 &
CAMERA_PID=$!
trap 'kill $CAMERA_PID 2>/dev/null; stop_test_server; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do
  URL=$(sed -n 's/^ready //p' "$TMP/camera.out" 2>/dev/null || true)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || die "the camera did not start: $(cat "$TMP/camera.out")"

# Sums and worst values over the sources, from GET /api/live.
summary() {
  python3 -c '
import json, sys
items = [s for s in json.load(sys.stdin)["items"] if s["state"] in ("live", "reconnecting", "connecting")]
inp = sum(s["input_fps"] for s in items)
out = sum(s["processed_fps"] for s in items)
tracked = sum(s["dropped_detections"] for s in items)
frames = sum(s["dropped_frames"] for s in items)
latency = max((s.get("latency_ms") or 0) for s in items) if items else 0
kept_up = items and out >= 0.95 * inp and frames <= 0.01 * sum(s["frames_in"] for s in items)
every = "yes" if kept_up and tracked == 0 else "no"
adaptive = "yes" if kept_up and latency <= 4000 else "no"
print(f"{len(items):>7} {inp:>9.1f} {out:>13.1f} {tracked:>13} {frames:>14} {latency:>12} {every:>12} {adaptive:>9}")
'
}

printf '%7s %9s %13s %13s %14s %12s %12s %9s\n' sources "in fps" "processed fps" "tracked only" \
  "frames dropped" "latency ms" "every frame" adaptive
for n in $(seq "$MAX"); do
  rm -rf "$TMP/data"
  start_test_server "$BIN" "$TMP" "max_live_sources = $MAX"
  for i in $(seq "$n"); do
    curl -sf -H 'content-type: application/json' -d "{\"url\": \"$URL\", \"name\": \"cam$i\"}" \
      "$BASE/api/live" > /dev/null || die "adding source $i failed"
  done
  sleep "$RUN_S"
  curl -s "$BASE/api/live" | summary
  stop_test_server
done
echo "(one run per row on this machine; fps and counts summed over the sources, latency the worst source's last segment, 2 s segments: bound 4000 ms)"
