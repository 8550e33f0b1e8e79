#!/usr/bin/env bash
# The codec matrix in README.md: makes a 2 s clip of bikes.mp4 in each format below (once, in
# $CACHE/media/matrix/) and runs `sightline process` on it, printing one table row per clip:
# what the file is, and what happened (frames and renditions, or the refusal).
#
#   bash scripts/codec-matrix.sh [BINARY]     # BINARY defaults to target/release/sightline
source "$(dirname "$0")/lib.sh"

BIN=$(sightline_binary "${1:-$ROOT/target/release/sightline}" "build it first")
SRC="$CACHE/media/bikes.mp4"
[ -f "$SRC" ] || die "$SRC is missing: run make setup"
DIR="$CACHE/media/matrix"
mkdir -p "$DIR"
TONE=(-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=2")

# file|what it is|ffmpeg output options (the picture from bikes.mp4, the sound a 440 Hz tone)
MATRIX=(
  "h264.mp4|H.264 High 4:2:0 8-bit, AAC|-c:v libx264 -preset veryfast -c:a aac"
  "h264_444.mp4|H.264 High 4:4:4, no sound|-c:v libx264 -preset veryfast -pix_fmt yuv444p -an"
  "h264_422p10.mkv|H.264 High 4:2:2 10-bit, FLAC|-c:v libx264 -preset veryfast -pix_fmt yuv422p10le -c:a flac"
  "h264_interlaced.ts|H.264 interlaced (TFF) in MPEG-TS, AC-3|-vf setfield=tff -c:v libx264 -flags +ildct+ilme -x264opts tff=1 -c:a ac3"
  "hevc10.mp4|HEVC Main 10, AAC|-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le -x265-params log-level=error -c:a aac"
  "vp8.webm|VP8, Vorbis|-c:v libvpx -deadline realtime -cpu-used 8 -b:v 500k -c:a libvorbis"
  "vp9.webm|VP9, Opus|-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 500k -c:a libopus"
  "av1.mkv|AV1, Opus|-c:v libaom-av1 -cpu-used 8 -b:v 300k -c:a libopus"
  "mpeg4.avi|MPEG-4 part 2, MP3|-c:v mpeg4 -q:v 4 -c:a libmp3lame"
  "mpeg2.mpg|MPEG-2 video in MPEG-PS, MP2|-c:v mpeg2video -b:v 2M -c:a mp2"
  "mjpeg.avi|Motion JPEG, PCM|-c:v mjpeg -q:v 5 -c:a pcm_s16le"
  "prores.mov|ProRes 422, PCM|-c:v prores_ks -profile:v 2 -c:a pcm_s16le"
)

printf '| input | result |\n| --- | --- |\n'
for row in "${MATRIX[@]}"; do
  IFS='|' read -r name what options <<<"$row"
  file="$DIR/$name"
  if [ ! -s "$file" ]; then
    # shellcheck disable=SC2086 # the options are words
    ffmpeg -loglevel error -y -i "$SRC" "${TONE[@]}" -t 2 -map 0:v -map 1:a? $options -threads 2 -map_metadata -1 \
      "$file" || { printf '| %s | (ffmpeg could not make it) |\n' "$what"; continue; }
  fi
  out=$(mktemp -d)
  if summary=$("$BIN" process "$file" --out "$out/out" --data "$out/data" --json 2>"$out/err"); then
    result=$(python3 -c '
import json, sys, pathlib
s = json.load(sys.stdin)
out = pathlib.Path(sys.argv[1])
sound = "with sound" if (out / "audio" / "index.m3u8").exists() else "no sound"
warn = "; ".join(s["warnings"])
frames, detections = s["frames"], s["detections"]
note = f" (warning: {warn})" if warn else ""
print(f"processed: {frames} frames, {detections} detections, {sound}{note}")
' "$out/out" <<<"$summary")
  else
    result="refused: $(tail -n 1 "$out/err")"
  fi
  printf '| %s | %s |\n' "$what" "$result"
  rm -rf "$out"
done
