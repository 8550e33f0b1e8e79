#!/usr/bin/env bash
# Debian packages the build, the pipeline and the tests need. Installs what is missing when run as
# root; otherwise prints the one apt-get line to run and stops.
source "$(dirname "$0")/lib.sh"

PACKAGES=(
  pkg-config build-essential python3-venv unzip
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  # The live-source tests' and bench's stand-in RTSP camera (examples/rtsp_camera.rs).
  libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  fonts-dejavu-core ffmpeg curl
  prometheus wrk chromium mosquitto mosquitto-clients
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  die "missing system packages; run: sudo apt-get install -y ${missing[*]}"
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || die "apt-get install failed for: ${missing[*]}"
