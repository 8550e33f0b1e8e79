#!/usr/bin/env bash
# Test clips derived from the sample media (once; later runs only check them):
#   bikes_1fps.mp4, bikes_5fps.mp4, bikes_8fps.mp4  bikes.mp4's first ~100 frames (40 at 1 fps)
#   re-timed to a low frame rate without re-encoding (ffmpeg -itsscale, stream copy), so the
#   bytes are the same on every machine and checked by sha256.
source "$(dirname "$0")/lib.sh"

MEDIA="$CACHE/media"
SRC="$MEDIA/bikes.mp4"
[ -f "$SRC" ] || die "$SRC is missing: run make setup"

# name: scale of the timestamps (25 fps × 1/scale), seconds kept, sha256
CLIPS=(
  "bikes_1fps.mp4 25 40 40dd283e5f8affae60dd08f3d986da8bfea5472bda91cbec4ffcf1d0173d04fd"
  "bikes_5fps.mp4 5 20 2dd1c3bf4f5e741f9f743856904dead4ac92e008ea7861126f22151b3d4ef7de"
  "bikes_8fps.mp4 3.125 12.5 73f9e9ed8c114135cee985459627d1b4d570131122687bcee89e2def35fc0452"
)
for clip in "${CLIPS[@]}"; do
  read -r name scale seconds sum <<<"$clip"
  have_sha256 "$MEDIA/$name" "$sum" && continue
  log "making $name"
  ffmpeg -loglevel error -y -itsscale "$scale" -i "$SRC" -c copy -an -t "$seconds" -map_metadata -1 \
    -fflags +bitexact -flags:v +bitexact "$MEDIA/$name.tmp.mp4" || die "could not make $name"
  mv "$MEDIA/$name.tmp.mp4" "$MEDIA/$name"
  check_sha256 "$MEDIA/$name" "$sum"
done
