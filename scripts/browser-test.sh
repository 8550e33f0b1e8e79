#!/usr/bin/env bash
# Browser tests of the web UI: starts `sightline serve` on a free loopback port with a fresh data
# folder, then runs tests/browser/*.test.mjs (or the files named) in Debian's chromium through
# playwright-core. Screenshots (one per test, and playing.png) go to target/browser-artifacts/.
#
#   bash scripts/browser-test.sh [BINARY] [TEST FILE...]
#
# BINARY defaults to target/debug/sightline; nothing is built here. The live-source test plays a
# stand-in RTSP camera, the rtsp_camera example beside BINARY (examples/; `cargo test` builds it).
# Needs `make setup` (model, ONNX Runtime, .cache/media/vtest.avi), chromium (Debian package `chromium`; CHROMIUM=PATH for
# another binary) and Node.js ≥ 20; web/node_modules comes from scripts/web.sh (npm ci).
# BROWSER_ARTIFACTS overrides the screenshot folder.
source "$(dirname "$0")/lib.sh"

started_at=$SECONDS
BIN=$(sightline_binary "${1:-$ROOT/target/debug/sightline}" "build it first: cargo build")
[ $# -gt 0 ] && shift
[ -f "$CACHE/media/vtest.avi" ] || die "$CACHE/media/vtest.avi is missing: run make setup first"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || die "no chromium at $CHROMIUM (on Debian: apt-get install chromium)"
command -v curl >/dev/null || die "curl is needed"
CAMERA_BIN="$(dirname "$BIN")/examples/rtsp_camera"
[ -x "$CAMERA_BIN" ] || die "$CAMERA_BIN is missing: cargo test (or cargo build --example rtsp_camera) builds it"

# --- web/node_modules: hls.js for the page, playwright-core for the tests (npm ci when the lock changed)
bash "$ROOT/scripts/web.sh" || die "installing web/'s npm packages failed"
command -v node >/dev/null || die "node is needed (on Debian: apt-get install nodejs npm)"

TESTS=("$@")
if [ ${#TESTS[@]} -eq 0 ]; then
  TESTS=("$ROOT"/tests/browser/*.test.mjs)
fi

ARTIFACTS=${BROWSER_ARTIFACTS:-$ROOT/target/browser-artifacts}
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS"/*.png "$ARTIFACTS"/server.log "$ARTIFACTS"/json-bytes.txt

# --- the server ----------------------------------------------------------------------------------
source "$ROOT/scripts/test-server.sh"
TMP=$(mktemp -d)
CAMERA_PID=
cleanup() {
  [ -n "$CAMERA_PID" ] && kill "$CAMERA_PID" 2>/dev/null
  stop_test_server
  cp "$TMP/server.log" "$ARTIFACTS/server.log" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_test_server "$BIN" "$TMP" 'queue_limit = 100'
for u in / /ui/app.js /ui/style.css /ui/vendor/hls.min.js; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$u")
  [ "$code" = 200 ] || die "GET $u answered $code: the server does not serve the web UI"
done

# --- the camera: vtest.avi over RTSP at its own 10 fps ---------------------------------------------
"$CAMERA_BIN" --port "$(free_port)" --file "$CACHE/media/vtest.avi" --loops 3 > "$TMP/camera.out" 2> "$TMP/camera.err" &
CAMERA_PID=$!
CAMERA_URL=
for _ in $(seq 100); do
  CAMERA_URL=$(sed -n 's/^ready //p' "$TMP/camera.out" 2>/dev/null || true)
  [ -n "$CAMERA_URL" ] && break
  kill -0 "$CAMERA_PID" 2>/dev/null || die "the RTSP camera did not start: $(cat "$TMP/camera.err")"
  sleep 0.1
done
[ -n "$CAMERA_URL" ] || die "the RTSP camera did not say it was ready"

# --- the tests -----------------------------------------------------------------------------------
failed=0
for t in "${TESTS[@]}"; do
  log "running $(basename "$t")"
  SIGHTLINE_URL=$BASE ARTIFACTS=$ARTIFACTS MEDIA=$CACHE/media CHROMIUM=$CHROMIUM CAMERA_URL=$CAMERA_URL node "$t" || failed=1
done
[ $failed = 0 ] || server_log "after the failure" 20
[ $failed = 0 ] || log "browser tests FAILED; artifacts in $ARTIFACTS"
exit $failed
