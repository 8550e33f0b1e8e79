#!/usr/bin/env bash
# The Python environment of the project's tools (model converter, reference detector), pinned by
# tools/requirements.txt and rebuilt only when that file changes.
source "$(dirname "$0")/lib.sh"

ensure_venv "$CACHE/venv" "$ROOT/tools/requirements.txt" "the tools venv"
