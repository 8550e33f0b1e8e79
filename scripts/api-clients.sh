#!/usr/bin/env bash
# The API through other people's tools: starts `sightline serve` (with an api_token) on a free
# loopback port, takes its live /openapi.json, and
#   1. lints it with redocly (clients/redocly.yaml) and spectral (clients/.spectral.yaml): any
#      finding fails;
#   2. generates TypeScript types with openapi-typescript and type-checks
#      clients/typescript/list-detections.ts against them with tsc;
#   3. generates a Python client with openapi-python-client (any generator warning fails) and runs
#      clients/python/flow.py with it: upload, polling, cursor paging, stats, tracks, events,
#      a re-render and a delete, typed errors included.
#
#   bash scripts/api-clients.sh [BINARY]
#
# BINARY defaults to target/debug/sightline; nothing is built here. The tools come from
# scripts/api-tools.sh (run by make setup, and here again: quick when nothing changed). What the
# run generates is left in target/api-clients/ to read.
source "$(dirname "$0")/lib.sh"

started_at=$SECONDS
BIN=$(sightline_binary "${1:-$ROOT/target/debug/sightline}" "build it first: cargo build")
SAMPLE="$CACHE/media/bikes.mp4"
[ -f "$SAMPLE" ] || die "$SAMPLE is missing: run make setup first"
bash "$ROOT/scripts/api-tools.sh"
VENV="$CACHE/venv-clients"
CLIENTS="$ROOT/clients"
OUT="$ROOT/target/api-clients"
rm -rf "$OUT"
mkdir -p "$OUT/python"

source "$ROOT/scripts/test-server.sh"
scratch_dir
TOKEN="api-clients-test-token-$RANDOM$RANDOM"
start_test_server "$BIN" "$TMP" "api_token = \"$TOKEN\""
curl -sSf -o "$OUT/openapi.json" "$BASE/openapi.json" || die "GET /openapi.json failed"

failed=0
# step NAME COMMAND...: runs one check from clients/, its output indented; a failure is counted.
step() {
  local name=$1
  shift
  log "$name"
  if ! (cd "$CLIENTS" && "$@") 2>&1 | sed 's/^/    /'; then
    echo "  FAIL: $name" >&2
    failed=1
  fi
}
set -o pipefail
# The linters' own notices (telemetry, update checks) stay off: they would reach for the network.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
step "redocly lint" npx --no-install redocly lint "$OUT/openapi.json" --config redocly.yaml --format=stylish
step "spectral lint" npx --no-install spectral lint "$OUT/openapi.json" --ruleset .spectral.yaml --fail-severity=hint
step "openapi-typescript" npx --no-install openapi-typescript "$OUT/openapi.json" --array-length -o "$OUT/schema.d.ts"
step "tsc --noEmit on clients/typescript" npx --no-install tsc -p typescript/tsconfig.json

generate_python() {
  # The generator formats its output with ruff, which its venv has.
  PATH="$VENV/bin:$PATH" openapi-python-client generate --path "$OUT/openapi.json" --meta none \
    --output-path "$OUT/python/sightline_client" --config python/generator.yaml > "$OUT/generate.log" 2>&1 \
    || { cat "$OUT/generate.log"; return 1; }
  # It generates what it can and warns about the rest: a warning is a part of the API left out.
  if grep -qi 'warning' "$OUT/generate.log"; then
    cat "$OUT/generate.log"
    return 1
  fi
}
step "openapi-python-client generate" generate_python
step "the Python client's flow" env PYTHONPATH="$OUT/python" "$VENV/bin/python" python/flow.py "$BASE" "$TOKEN" "$SAMPLE"

elapsed=$((SECONDS - started_at))
if [ $failed != 0 ]; then
  server_log "after the client checks" 20
  die "the API does not suit the generated clients (see above; ${elapsed} s)"
fi
log "the spec lints clean and the generated clients work (${elapsed} s)"
