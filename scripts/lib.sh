# Shared helpers for the setup scripts: one cache folder, checksummed files, quiet when cached.
# Sourced, never run on its own.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SIGHTLINE_CACHE:-$ROOT/.cache}"
DL="$CACHE/dl"
mkdir -p "$DL"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# sightline_binary PATH HOW: PATH made absolute (the scripts change folders), or a stop that says
# HOW to build it. Use as BIN=$(sightline_binary "${1:-…}" "make build").
sightline_binary() {
  local bin=$1
  case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
  [ -x "$bin" ] || die "no sightline binary at $bin ($2)"
  printf '%s\n' "$bin"
}

# check_sha256 FILE SUM: fail loudly when a cached or fetched file is not the one we expect.
check_sha256() {
  local file=$1 want=$2 got
  got=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$got" = "$want" ] || die "$file: sha256 $got, expected $want (delete it and run make setup again)"
}

# have_sha256 FILE SUM: true when FILE exists with that checksum, so a step can be skipped.
have_sha256() {
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

# pip_fetch FILENAME SUM PIP-ARGS...: download one distribution (no dependencies) into the cache.
# The platform is pinned so the same file (and checksum) comes back whatever Python runs this.
pip_fetch() {
  local name=$1 sum=$2; shift 2
  if ! have_sha256 "$DL/$name" "$sum"; then
    log "downloading $name"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$DL" "$@" \
      || die "could not download $name with pip"
  fi
  check_sha256 "$DL/$name" "$sum"
}

# deb_extract PACKAGE DEST: unpack a Debian package without installing it (we only want its data).
deb_extract() {
  local pkg=$1 dest=$2 deb
  deb=$(ls "$DL/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    log "downloading Debian package $pkg"
    (cd "$DL" && apt-get download "$pkg" >/dev/null 2>&1) \
      || (apt-get update -qq >/dev/null 2>&1 && cd "$DL" && apt-get download "$pkg" >/dev/null) \
      || die "apt-get download $pkg failed"
    deb=$(ls "$DL/${pkg}"_*.deb | head -n1)
  fi
  mkdir -p "$dest"
  dpkg-deb -x "$deb" "$dest"
}

# ensure_venv VENV REQUIREMENTS WHAT: a Python venv with exactly REQUIREMENTS, made again only
# when that file changes (its checksum is kept in the venv).
ensure_venv() {
  local venv=$1 req=$2 what=$3 stamp want
  stamp="$venv/.requirements.sha256"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  log "creating $what in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" || die "pip install -r $req failed"
  echo "$want" > "$stamp"
}
