#!/usr/bin/env bash
# The web page's npm packages (hls.js for playback, playwright-core for the browser tests),
# installed from the committed package-lock.json, again only when that file changes.
source "$(dirname "$0")/lib.sh"

WEB="$ROOT/web"
STAMP="$WEB/node_modules/.lock.sha256"
if ! command -v npm >/dev/null; then
  # Only when there is no Node.js at all: Debian's npm conflicts with other Node.js builds.
  [ "$(id -u)" -eq 0 ] || die "npm is missing; run: sudo apt-get install -y nodejs npm"
  log "installing nodejs and npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || die "apt-get install nodejs npm failed"
fi
want=$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)
[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && exit 0

log "installing the web UI's npm packages"
(cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci in web/ failed"
echo "$want" > "$STAMP"
