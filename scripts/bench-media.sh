#!/usr/bin/env bash
# Inputs of the pipeline benchmarks, derived from vtest.avi (once; later runs find them):
#   vtest_1280x720.mp4     1280x720 (pillarboxed, aspect kept), 30 fps, 79.5 s, made with GStreamer
#   vtest_1280x720_x4.mp4  that file four times over (318 s), to show memory does not grow with length
#   vtest_4k.mp4           3840x2160 (pillarboxed), 30 fps, the first ~3.4 s: peak memory at the size limit
source "$(dirname "$0")/lib.sh"

MEDIA="$CACHE/media"
SRC="$MEDIA/vtest.avi"
[ -f "$SRC" ] || die "$SRC is missing: run make setup"

if [ ! -f "$MEDIA/vtest_1280x720.mp4" ]; then
  log "making vtest_1280x720.mp4 (1280x720, 30 fps)"
  gst-launch-1.0 -q filesrc location="$SRC" ! decodebin ! videoconvert ! videoscale add-borders=true \
    ! videorate ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1,pixel-aspect-ratio=1/1 \
    ! x264enc speed-preset=veryfast bitrate=5000 ! h264parse ! mp4mux \
    ! filesink location="$MEDIA/vtest_1280x720.mp4.tmp" >/dev/null || die "could not make vtest_1280x720.mp4"
  mv "$MEDIA/vtest_1280x720.mp4.tmp" "$MEDIA/vtest_1280x720.mp4"
fi

# Four times the 720p clip by stream copy (no re-encode, seconds), for the memory-over-length check.
if [ ! -f "$MEDIA/vtest_1280x720_x4.mp4" ]; then
  log "making vtest_1280x720_x4.mp4 (4 × vtest_1280x720.mp4)"
  list=$(mktemp)
  for _ in 1 2 3 4; do echo "file '$MEDIA/vtest_1280x720.mp4'" >> "$list"; done
  ffmpeg -loglevel error -y -f concat -safe 0 -i "$list" -c copy "$MEDIA/vtest_1280x720_x4.tmp.mp4" \
    || die "could not make vtest_1280x720_x4.mp4"
  rm -f "$list"
  mv "$MEDIA/vtest_1280x720_x4.tmp.mp4" "$MEDIA/vtest_1280x720_x4.mp4"
fi

if [ ! -f "$MEDIA/vtest_4k.mp4" ]; then
  log "making vtest_4k.mp4 (3840x2160, 30 fps, 103 frames)"
  gst-launch-1.0 -q filesrc location="$SRC" ! decodebin ! videoconvert ! videoscale add-borders=true \
    ! videorate ! video/x-raw,format=I420,width=3840,height=2160,framerate=30/1,pixel-aspect-ratio=1/1 \
    ! identity eos-after=103 ! x264enc speed-preset=veryfast bitrate=20000 ! h264parse ! mp4mux \
    ! filesink location="$MEDIA/vtest_4k.mp4.tmp" >/dev/null || die "could not make vtest_4k.mp4"
  mv "$MEDIA/vtest_4k.mp4.tmp" "$MEDIA/vtest_4k.mp4"
fi
