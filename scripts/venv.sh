#!/usr/bin/env bash
# The Python environment of the project's tools (model converter, reference detector), pinned by
# tools/requirements.txt and rebuilt only when that file changes.
source "$(dirname "$0")/lib.sh"

VENV="$CACHE/venv"
REQ="$ROOT/tools/requirements.txt"
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && exit 0

log "creating the tools venv in $VENV"
rm -rf "$VENV"
python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" || die "pip install -r $REQ failed"
echo "$want" > "$STAMP"
