#!/usr/bin/env bash
# Checks a running server's Prometheus exposition with promtool.
#   scripts/check-metrics.sh [--strict] URL     e.g. scripts/check-metrics.sh http://127.0.0.1:8080
# Fetches URL/metrics and runs `promtool check metrics` on it (promtool: Debian package
# `prometheus`). Exits 0 when the exposition is valid, non-zero with a message otherwise
# (2: usage). --strict also fails on metrics without HELP text.
set -euo pipefail

die() { echo "check-metrics: $*" >&2; exit 1; }

strict=0
if [ "${1:-}" = --strict ]; then strict=1; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--strict] URL   (the server's base URL, e.g. http://127.0.0.1:8080)" >&2; exit 2; }
base="${1%/}"
url="$base/metrics"

command -v curl >/dev/null 2>&1 || die "curl is not installed (Debian package: curl)"
command -v promtool >/dev/null 2>&1 \
  || die "promtool is not installed (Debian package: prometheus; apt-get install -y --no-install-recommends prometheus)"

body="$(mktemp)"
trap 'rm -f "$body"' EXIT

status="$(curl -sS -o "$body" -w '%{http_code}' --max-time 10 "$url")" \
  || die "cannot fetch $url (is the server running?)"
[ "$status" = 200 ] || die "$url answered HTTP $status, not 200"
[ -s "$body" ] || die "$url answered an empty body"

# promtool exits 1 when the text does not parse and 3 when it parses but its linter has findings
# (a counter without _total, a non-base unit, a metric without HELP, ...). Every finding fails the
# check except "no help text": the exporter writes HELP only for metrics described in code, and a
# missing description is not worth failing a deployment for. With --strict, that fails too.
set +e
out="$(promtool check metrics <"$body" 2>&1)"
rc=$?
set -e
case "$rc" in
  0) ;;
  3)
    findings="$out"
    [ "$strict" = 1 ] || findings="$(grep -v ' no help text$' <<<"$out" || true)"
    if [ -n "$findings" ]; then
      echo "$findings" >&2
      die "$url: promtool check metrics found problems (above)"
    fi
    echo "check-metrics: note: $(grep -c ' no help text$' <<<"$out") metrics have no HELP text" ;;
  *)
    echo "$out" >&2
    die "$url is not valid Prometheus exposition (promtool check metrics exited $rc)" ;;
esac
echo "check-metrics: $url OK ($(grep -c '^sightline_' "$body" || true) sightline_ samples)"
