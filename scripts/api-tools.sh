#!/usr/bin/env bash
# Other people's tools the API is checked with (scripts/api-clients.sh): the linters and the
# TypeScript generator from npm, pinned by clients/package-lock.json; openapi-python-client in its
# own venv, .cache/venv-clients, pinned by clients/python/requirements.txt. Each is installed
# again only when its pin file changes.
source "$(dirname "$0")/lib.sh"

CLIENTS="$ROOT/clients"
STAMP="$CLIENTS/node_modules/.lock.sha256"
want=$(sha256sum "$CLIENTS/package-lock.json" | cut -d' ' -f1)
if ! { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; }; then
  log "installing the API checkers' npm packages (redocly, spectral, openapi-typescript, tsc)"
  (cd "$CLIENTS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci in clients/ failed"
  echo "$want" > "$STAMP"
fi

ensure_venv "$CACHE/venv-clients" "$CLIENTS/python/requirements.txt" "the client generator's venv"
