#!/usr/bin/env bash
# Test clips derived from the sample media (once; later runs only check them):
#   bikes_1fps.mp4, bikes_5fps.mp4, bikes_8fps.mp4  bikes.mp4's first ~100 frames (40 at 1 fps)
#   re-timed to a low frame rate without re-encoding (ffmpeg -itsscale, stream copy), so the
#   bytes are the same on every machine and checked by sha256.
#   bikes_rot90/180/270.mp4  4 s tagged with a rotation (stream copy, sha256-checked);
#   bikes_sideways.mp4  the same 4 s stored turned and tagged back upright, as phones do;
#   wide_8000x64.mp4  one second re-encoded to 8000x64, over the default input limits.
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
# bikes_rot90.mp4, bikes_rot180.mp4, bikes_rot270.mp4: bikes.mp4's first 4 s tagged to be shown
# turned 90, 180 and 270 degrees clockwise, as phones tag portrait clips: the tag only, the frames
# are copied. (ffmpeg 5.1's `rotate` tag counts the other way round: 360 - angle.)
ROTATED=(
  "90 338c2b307ba8d34fedab6f2d826c8e31ec864dbccb5c362d73fb7176c90b510c"
  "180 b7c6d0e2b9858b81fb4dfa7d70e479de5576ac95807f5dc57255ef3a8bedaa6a"
  "270 4a281c2a186cfec09541928ec9232150a1d1f2210c13ddd5b70e4fe3360e12d6"
)
for clip in "${ROTATED[@]}"; do
  read -r angle sum <<<"$clip"
  name="bikes_rot$angle.mp4"
  have_sha256 "$MEDIA/$name" "$sum" && continue
  log "making $name"
  ffmpeg -loglevel error -y -i "$SRC" -c copy -an -t 4 -metadata:s:v:0 rotate=$(((360 - angle) % 360)) \
    -map_metadata -1 -fflags +bitexact -flags:v +bitexact "$MEDIA/$name.tmp.mp4" || die "could not make $name"
  mv "$MEDIA/$name.tmp.mp4" "$MEDIA/$name"
  check_sha256 "$MEDIA/$name" "$sum"
done

for clip in "${CLIPS[@]}"; do
  read -r name scale seconds sum <<<"$clip"
  have_sha256 "$MEDIA/$name" "$sum" && continue
  log "making $name"
  ffmpeg -loglevel error -y -itsscale "$scale" -i "$SRC" -c copy -an -t "$seconds" -map_metadata -1 \
    -fflags +bitexact -flags:v +bitexact "$MEDIA/$name.tmp.mp4" || die "could not make $name"
  mv "$MEDIA/$name.tmp.mp4" "$MEDIA/$name"
  check_sha256 "$MEDIA/$name" "$sum"
done

# Re-encoded clips: the encoder's bytes may change with a distribution update, so these are
# checked by what ffprobe reads (size, frames), not by sha256.
# check_video FILE "WIDTH,HEIGHT": the first video stream has that size.
check_video() {
  local got
  # A stream with side data (a rotation) gets a trailing comma and a second line in CSV.
  got=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 "$1" 2>/dev/null \
    | head -n 1 | sed 's/,$//' || true)
  [ "$got" = "$2" ]
}

# make_clip CHECK NAME WANT FFMPEG_ARGS...: makes $MEDIA/NAME with ffmpeg (the output file comes
# last) unless `CHECK FILE WANT` says it is there already, and checks what it made.
make_clip() {
  local check=$1 name=$2 want=$3
  shift 3
  "$check" "$MEDIA/$name" "$want" && return 0
  log "making $name"
  local tmp="$MEDIA/$name.tmp.${name##*.}"
  ffmpeg -loglevel error -y "$@" -map_metadata -1 "$tmp" || die "could not make $name"
  mv "$tmp" "$MEDIA/$name"
  "$check" "$MEDIA/$name" "$want" || die "$name is not $want"
}

# wide_8000x64.mp4: one second of bikes.mp4 squeezed to 8000×64, over the default max_width.
make_clip check_video wide_8000x64.mp4 "8000,64" \
  -i "$SRC" -t 1 -an -vf scale=8000:64 -c:v libx264 -preset ultrafast -threads 1

# bikes_sideways.mp4: the same 4 s as a phone stores a clip: frames turned a quarter
# counter-clockwise (re-encoded), tagged to be shown turned 90 degrees clockwise (stream copy).
# Shown upright it is bikes.mp4 again, so its boxes must be bikes.mp4's.
SIDEWAYS="$MEDIA/bikes_sideways.mp4"
if ! check_video "$SIDEWAYS" "272,640"; then
  log "making bikes_sideways.mp4"
  ffmpeg -loglevel error -y -i "$SRC" -t 4 -an -vf transpose=cclock -c:v libx264 -preset veryfast -crf 18 \
    -threads 1 -map_metadata -1 "$SIDEWAYS.turned.mp4" || die "could not make bikes_sideways.mp4"
  ffmpeg -loglevel error -y -i "$SIDEWAYS.turned.mp4" -c copy -metadata:s:v:0 rotate=270 -map_metadata -1 \
    "$SIDEWAYS.tmp.mp4" || die "could not tag bikes_sideways.mp4"
  rm -f "$SIDEWAYS.turned.mp4"
  mv "$SIDEWAYS.tmp.mp4" "$SIDEWAYS"
  check_video "$SIDEWAYS" "272,640" || die "bikes_sideways.mp4 is not 272x640"
fi

# Clips with sound: bikes.mp4's first 4 s (copied, or VP9 for WebM) with a 440 Hz tone as
#   bikes_aac.mp4 (AAC-LC), bikes_mp3.mkv (MP3), bikes_opus.webm (VP9 + Opus), and
#   bikes_badaudio.mp4: bikes_aac.mp4 with its sound packets garbled (a bitstream noise filter),
#   so the sound does not decode while the video is intact.
# check_streams FILE "h264,aac": the file's streams have these codecs, in order.
check_streams() {
  local got
  got=$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$1" 2>/dev/null | paste -sd, || true)
  [ "$got" = "$2" ]
}
TONE=(-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=4")
SOUND=(
  "bikes_aac.mp4|h264,aac|-c:v copy -c:a aac -b:a 128k"
  "bikes_mp3.mkv|h264,mp3|-c:v copy -c:a libmp3lame -b:a 128k"
  "bikes_opus.webm|vp9,opus|-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 500k -threads 1 -c:a libopus -b:a 96k"
)
for clip in "${SOUND[@]}"; do
  IFS='|' read -r name streams codecs <<<"$clip"
  # shellcheck disable=SC2086 # the codec options are words
  make_clip check_streams "$name" "$streams" -i "$SRC" "${TONE[@]}" -t 4 -map 0:v -map 1:a $codecs
done
make_clip check_streams bikes_badaudio.mp4 "h264,aac" -i "$MEDIA/bikes_aac.mp4" -c copy -bsf:a noise=amount=4

# Pictures other than 8-bit 4:2:0 progressive H.264, 2 s of bikes.mp4 each: bikes_hevc10.mp4
# (HEVC Main 10), bikes_interlaced.mp4 (H.264, interlaced, top field first), and
# bikes_nodecoder.avi (Motion JPEG relabelled with a codec tag nothing decodes).
check_format() {
  local got
  got=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_tag_string,pix_fmt,field_order \
    -of csv=p=0 "$1" 2>/dev/null | head -n 1 || true)
  [ "$got" = "$2" ]
}
PICTURES=(
  "bikes_hevc10.mp4|hev1,yuv420p10le,progressive|-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le -x265-params log-level=error"
  "bikes_interlaced.mp4|avc1,yuv420p,tt|-vf setfield=tff -c:v libx264 -preset veryfast -flags +ildct+ilme -x264opts tff=1"
  "bikes_mjpeg.avi|MJPG,yuvj420p,unknown|-c:v mjpeg -q:v 5"
)
for clip in "${PICTURES[@]}"; do
  IFS='|' read -r name format codecs <<<"$clip"
  # shellcheck disable=SC2086 # the codec options are words
  make_clip check_format "$name" "$format" -i "$SRC" -t 2 -an $codecs -threads 1
done
NODEC="$MEDIA/bikes_nodecoder.avi"
if ! check_format "$NODEC" "QQQQ,unknown,unknown"; then
  log "making bikes_nodecoder.avi"
  LC_ALL=C sed 's/MJPG/QQQQ/g' "$MEDIA/bikes_mjpeg.avi" > "$NODEC.tmp" || die "could not make bikes_nodecoder.avi"
  mv "$NODEC.tmp" "$NODEC"
fi
