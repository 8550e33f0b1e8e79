#!/usr/bin/env bash
# Picture per bit: the top rendition of a video processed with no boxes drawn, against ffmpeg's
# libx264 at the same preset and keyframe interval and the same size, both by SSIM against the
# source. Prints each one's bitrate and SSIM.
#
#   bash scripts/bench-quality.sh [BINARY] [VIDEO] [FRAMES]
#
# BINARY defaults to target/release/sightline (make build), VIDEO to .cache/media/vtest_1280x720.mp4,
# FRAMES (from the start) to 600.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C

BIN=$(sightline_binary "${1:-$ROOT/target/release/sightline}" "make build")
VIDEO=${2:-$CACHE/media/vtest_1280x720.mp4}
FRAMES=${3:-600}
[ -f "$VIDEO" ] || die "no video at $VIDEO (make setup)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The first FRAMES frames, losslessly, so both encoders start from the same pictures.
ffmpeg -v error -i "$VIDEO" -frames:v "$FRAMES" -an -c:v ffv1 "$TMP/source.mkv" || die "could not cut $VIDEO"
fps=$(ffprobe -v error -select_streams v:0 -show_entries stream=avg_frame_rate -of csv=p=0 "$TMP/source.mkv")
seconds=$(awk -v n="$FRAMES" -v r="$fps" 'BEGIN { split(r, f, "/"); print n * f[2] / f[1] }')

# No box drawn: the classes kept are one the video does not show.
"$BIN" process "$TMP/source.mkv" --out "$TMP/out" --data "$TMP/data" --classes toothbrush --json \
  > "$TMP/summary.json" || die "sightline process failed"
# Rendition folders are named by their short side (720p, 480p, …): the top one is the largest.
top=$(for d in "$TMP"/out/*p; do echo "${d##*/}"; done | sort -n | tail -1)
cat "$TMP/out/$top"/seg*.ts > "$TMP/ours.ts"

# Compared frame by frame as raw pictures: MPEG-TS timestamps start late and B-frames reorder
# them, which threw the ssim filter's pairing by time off.
raw() { ffmpeg -v error -y -i "$1" -fps_mode passthrough -f yuv4mpegpipe "$2" || die "could not decode $1"; }
raw "$TMP/source.mkv" "$TMP/source.y4m"
ssim() {
  raw "$1" "$TMP/encoded.y4m"
  ffmpeg -v info -i "$TMP/encoded.y4m" -i "$TMP/source.y4m" -lavfi ssim -f null - 2>&1 \
    | grep -o 'All:[0-9.]*' | cut -d: -f2
}
kbps() { awk -v b="$(stat -c %s "$1")" -v s="$seconds" 'BEGIN { printf "%.0f", b * 8 / s / 1000 }'; }

ours_kbps=$(kbps "$TMP/ours.ts")
gop=$(awk -v r="$fps" 'BEGIN { split(r, f, "/"); printf "%.0f", 2 * f[1] / f[2] }')
# libx264 in average-bitrate mode undershoots its target: aim again once, scaled, to match sizes.
target=$ours_kbps
for _ in 1 2; do
  ffmpeg -v error -y -i "$TMP/source.mkv" -c:v libx264 -preset veryfast -b:v "${target}k" \
    -g "$gop" -keyint_min "$gop" -sc_threshold 0 -f mpegts "$TMP/ffmpeg.ts" || die "ffmpeg failed"
  theirs=$(kbps "$TMP/ffmpeg.ts")
  target=$(awk -v t="$target" -v o="$ours_kbps" -v f="$theirs" 'BEGIN { printf "%.0f", t * o / f }')
done

printf '%s, first %s frames, top rendition %s\n' "$(basename "$VIDEO")" "$FRAMES" "$top"
printf '%-34s %8s %8s\n' "encoder" "kb/s" "SSIM"
printf '%-34s %8s %8s\n' "sightline (x264enc, veryfast)" "$ours_kbps" "$(ssim "$TMP/ours.ts")"
printf '%-34s %8s %8s\n' "ffmpeg libx264 -preset veryfast" "$theirs" "$(ssim "$TMP/ffmpeg.ts")"
