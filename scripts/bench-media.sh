#!/usr/bin/env bash
# Inputs of the pipeline benchmarks, derived from vtest.avi (once; later runs find them):
#   vtest_720p.mp4  960x720 (720 lines, aspect kept), 30 fps, made with GStreamer
#   vtest_x4.avi    vtest.avi four times over (318 s), to show memory does not grow with length
#   vtest_4k.mp4    3840x2160 (pillarboxed), 30 fps, the first ~3.4 s: peak memory at the size limit
source "$(dirname "$0")/lib.sh"

MEDIA="$CACHE/media"
SRC="$MEDIA/vtest.avi"
[ -f "$SRC" ] || die "$SRC is missing: run make setup"

if [ ! -f "$MEDIA/vtest_720p.mp4" ]; then
  log "making vtest_720p.mp4 (960x720, 30 fps)"
  gst-launch-1.0 -q filesrc location="$SRC" ! decodebin ! videoconvert ! videoscale ! videorate \
    ! video/x-raw,format=I420,width=960,height=720,framerate=30/1 \
    ! x264enc speed-preset=veryfast bitrate=4000 ! h264parse ! mp4mux \
    ! filesink location="$MEDIA/vtest_720p.mp4.tmp" >/dev/null || die "could not make vtest_720p.mp4"
  mv "$MEDIA/vtest_720p.mp4.tmp" "$MEDIA/vtest_720p.mp4"
fi

if [ ! -f "$MEDIA/vtest_x4.avi" ]; then
  log "making vtest_x4.avi (4 × vtest.avi)"
  list=$(mktemp)
  for _ in 1 2 3 4; do echo "file '$SRC'" >> "$list"; done
  ffmpeg -loglevel error -y -f concat -safe 0 -i "$list" -c copy "$MEDIA/vtest_x4.avi.tmp.avi" \
    || die "could not make vtest_x4.avi"
  rm -f "$list"
  mv "$MEDIA/vtest_x4.avi.tmp.avi" "$MEDIA/vtest_x4.avi"
fi

if [ ! -f "$MEDIA/vtest_4k.mp4" ]; then
  log "making vtest_4k.mp4 (3840x2160, 30 fps, 103 frames)"
  gst-launch-1.0 -q filesrc location="$SRC" ! decodebin ! videoconvert ! videoscale add-borders=true \
    ! videorate ! video/x-raw,format=I420,width=3840,height=2160,framerate=30/1,pixel-aspect-ratio=1/1 \
    ! identity eos-after=103 ! x264enc speed-preset=veryfast bitrate=20000 ! h264parse ! mp4mux \
    ! filesink location="$MEDIA/vtest_4k.mp4.tmp" >/dev/null || die "could not make vtest_4k.mp4"
  mv "$MEDIA/vtest_4k.mp4.tmp" "$MEDIA/vtest_4k.mp4"
fi
