#!/usr/bin/env bash
# API contract test: starts `sightline serve` on a free loopback port with a fresh data folder,
# gives it real data (the bikes clip, processed to `ready`), then runs schemathesis against its
# /openapi.json: no 5xx, and every response's status code, content type and body as the spec says.
#
#   bash scripts/api-contract.sh [BINARY] [EXTRA SCHEMATHESIS RUN OPTIONS...]
#
# BINARY defaults to target/debug/sightline; nothing is built here. Extra options go to every
# `schemathesis run` (e.g. `--max-examples 500`). API_CONTRACT_SEED overrides the fixed seed
# (`random` for a new one each run). Needs `make setup` (model, ONNX Runtime, media) and PyPI
# the first time: schemathesis lives in its own venv, .cache/venv-test, pinned by
# tools/requirements-test.txt and rebuilt when that file changes.
source "$(dirname "$0")/lib.sh"

started_at=$SECONDS
BIN=$(sightline_binary "${1:-$ROOT/target/debug/sightline}" "build it first: cargo build")
[ $# -gt 0 ] && shift
SAMPLE="$CACHE/media/bikes.mp4"
[ -f "$SAMPLE" ] || die "$SAMPLE is missing: run make setup first"
command -v curl >/dev/null || die "curl is needed"

# --- schemathesis' venv --------------------------------------------------------------------------
VENV="$CACHE/venv-test"
ensure_venv "$VENV" "$ROOT/tools/requirements-test.txt" "the test venv"
PY="$VENV/bin/python"
ST="$VENV/bin/schemathesis"

# --- the server ----------------------------------------------------------------------------------
source "$ROOT/scripts/test-server.sh"
scratch_dir
# Defaults, but for the job queue, at its largest: jobs run one at a time and the run queues many
# (the uploads and renders schemathesis makes); a full queue's 503 is documented backpressure,
# not the failure looked for here.
start_test_server "$BIN" "$TMP" 'queue_limit = 10000'

# --- real data: the sample clip, processed --------------------------------------------------------
json_field() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
code=$(curl -sS -o "$TMP/upload.json" -w '%{http_code}' -F "file=@$SAMPLE" "$BASE/api/videos") \
  || die "uploading $SAMPLE failed"
[ "$code" = 202 ] || { cat "$TMP/upload.json" >&2; die "uploading $SAMPLE answered $code, not 202"; }
VIDEO=$(json_field id < "$TMP/upload.json")
log "uploaded $(basename "$SAMPLE") as video $VIDEO; waiting until it is ready"
deadline=$((SECONDS + 300))
while :; do
  kill -0 "$SERVER_PID" 2>/dev/null || { server_log "it exited"; die "the server exited while processing the sample"; }
  status=$(curl -sS "$BASE/api/videos/$VIDEO" | json_field status) || status=unknown
  case $status in
    ready) break ;;
    failed | interrupted) server_log "video $VIDEO is $status"; die "the sample video ended $status" ;;
  esac
  [ $SECONDS -lt $deadline ] || { server_log "still $status"; die "video $VIDEO not ready within 300 s"; }
  sleep 1
done
log "video $VIDEO is ready ($((SECONDS - started_at)) s so far)"

failed=0

# --- the event stream's payloads ------------------------------------------------------------------
# The stream is documented as a string (Open API 3.0 cannot describe the events of a stream), so
# schemathesis' schema check cannot apply to it (it is turned off for that operation below; its
# status code and content type are still checked). This checks the payloads instead: the ready
# video's latest event (JSON, what a client gets without `Accept: text/event-stream`) and the
# first event of its stream, both against the spec's Event schema.
log "checking GET /api/videos/$VIDEO/events against the spec's Event schema"
if ! "$PY" - "$BASE" "$VIDEO" <<'EOF'; then
import json, sys, urllib.request
import jsonschema_rs

base, video = sys.argv[1], sys.argv[2]
spec = json.load(urllib.request.urlopen(f"{base}/openapi.json", timeout=10))

def as_json_schema(node):
    # Open API 3.0's `nullable: true` is JSON Schema's `null` type.
    if isinstance(node, dict):
        out = {k: as_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [as_json_schema(v) for v in node]
    return node

content = spec["paths"]["/api/videos/{id}/events"]["get"]["responses"]["200"]["content"]
event_schema = content["application/json"]["schema"]
schema = as_json_schema({**event_schema, "components": spec["components"]})
validator = jsonschema_rs.Draft4Validator(schema)
url = f"{base}/api/videos/{video}/events"

with urllib.request.urlopen(url, timeout=30) as resp:
    latest = resp.read().decode()
# The first event only, as schemathesis reads it (max-stream-events below): it comes at once.
data = []
stream = urllib.request.Request(url, headers={"Accept": "text/event-stream"})
with urllib.request.urlopen(stream, timeout=30) as resp:
    status, ctype = resp.status, resp.headers.get("Content-Type", "")
    for raw in resp:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            break
payloads = [latest] + (["\n".join(data)] if data else [])
problems = []
if status != 200 or not ctype.startswith("text/event-stream"):
    problems.append(f"answered {status} {ctype!r}, not 200 text/event-stream")
if not data:
    problems.append("no data: line in the stream")
for i, payload in enumerate(payloads):
    try:
        event = json.loads(payload)
    except ValueError as e:
        problems.append(f"event #{i}: data is not JSON ({e}): {payload}")
        continue
    for err in validator.iter_errors(event):
        problems.append(f"event #{i}: {err.message} at /{'/'.join(map(str, err.instance_path))}: {payload}")
for p in problems:
    print(f"  FAIL {p}")
print(f"  {len(payloads)} event(s) read, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
EOF
  failed=1
fi

# --- schemathesis ---------------------------------------------------------------------------------
# The checks are named here, not with --checks: checks named on the command line would win over
# the per-operation setting below.
cat > "$TMP/schemathesis.toml" <<'EOF'
# Written by scripts/api-contract.sh. See there why the event stream's schema is checked apart.
[checks]
enabled = false
not_a_server_error.enabled = true
status_code_conformance.enabled = true
content_type_conformance.enabled = true
response_schema_conformance.enabled = true

[[operations]]
include-name = "GET /api/videos/{id}/events"
checks.response_schema_conformance.enabled = false
# The first event comes at once; later ones only when the job moves, which a stuck or queued job
# may not do before the request times out.
max-stream-events = 1
EOF

seed=${API_CONTRACT_SEED:-20240611}
seed_args=(--seed "$seed")
[ "$seed" = random ] && seed_args=()
color_args=()
[ -t 1 ] || color_args=(--no-color)
run_st() {
  # From the temp dir, so nothing (reports, example databases) lands in the repository.
  (cd "$TMP" && "$ST" "${color_args[@]}" --config-file "$TMP/schemathesis.toml" run "$BASE/openapi.json" \
    --max-examples 50 --request-timeout 10 --generation-database none "${seed_args[@]}" "$@")
}
# Two passes: the first leaves DELETE out so the sample video (and its detections, stats and
# streams) is there for every other operation; the second has every operation, DELETE and its
# workflows (DELETE of the sample included, a legitimate 204) among them.
log "schemathesis, pass 1 of 2: every operation but DELETE"
run_st --exclude-method DELETE "$@" || failed=1
log "schemathesis, pass 2 of 2: every operation"
run_st "$@" || failed=1

# Not a verdict of its own (the responses are), but what the server said about any failure.
if grep -qE 'ERROR|panicked' "$TMP/server.log"; then
  echo "--- errors in the server's log ---" >&2
  grep -E 'ERROR|panicked' "$TMP/server.log" | sed 's/\x1b\[[0-9;]*m//g' | tail -n 40 >&2
fi
elapsed=$((SECONDS - started_at))
[ $failed = 0 ] || die "the API does not keep its contract (see above; ${elapsed} s)"
log "the API keeps its contract (${elapsed} s)"
