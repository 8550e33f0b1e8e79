#!/usr/bin/env bash
# INT8 yolov4-tiny: the darknet weights of scripts/model.sh converted with an open input size
# (height and width any multiples of 32, so a 16:9 frame runs at 416x288 rather than padded to
# 416x416) and quantised by tools/quantize.py (static QDQ, per-channel weights), calibrated on
# bikes.mp4 frames and photos from Debian's opencv-doc and darknet. Calibration ranges are rounded
# onto a coarse grid, so the result is byte-identical across runs and CPUs and is checked by sha256
# like any download.
# Needs scripts/venv.sh, scripts/model.sh and scripts/media.sh to have run.
source "$(dirname "$0")/lib.sh"

MODELS="$CACHE/models"
INT8_SHA256=7e801e777373edced2eabfc4bd0b01fc4eaa7e3685e9562d954931377ed0a17e

have_sha256 "$MODELS/yolov4-tiny-int8.onnx" $INT8_SHA256 && exit 0

[ -f "$MODELS/darknet/yolov4-tiny.weights" ] || die "$MODELS/darknet missing (run scripts/model.sh first)"
[ -f "$CACHE/media/bikes.mp4" ] || die "$CACHE/media/bikes.mp4 missing (run scripts/media.sh first)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deb_extract opencv-doc "$tmp/opencv"
deb_extract darknet "$tmp/darknet"

log "converting yolov4-tiny with an open input size, then quantising it to INT8 (about 20 s)"
"$CACHE/venv/bin/python" "$ROOT/tools/darknet2onnx.py" --cfg "$MODELS/darknet/yolov4-tiny.cfg" \
  --weights "$MODELS/darknet/yolov4-tiny.weights" --names "$MODELS/coco.names" \
  --out "$tmp/yolov4-tiny-open.onnx" --dynamic || die "tools/darknet2onnx.py failed"
"$CACHE/venv/bin/python" "$ROOT/tools/quantize.py" --model "$tmp/yolov4-tiny-open.onnx" \
  --out "$tmp/yolov4-tiny-int8.onnx" --media "$CACHE/media" \
  --opencv-data "$tmp/opencv/usr/share/doc/opencv-doc/examples/data" \
  --darknet-data "$tmp/darknet/usr/share/darknet/data" || die "tools/quantize.py failed"
# checked before it is moved into place, so a mismatch never leaves a model behind
check_sha256 "$tmp/yolov4-tiny-int8.onnx" $INT8_SHA256
mv "$tmp/yolov4-tiny-int8.onnx" "$MODELS/yolov4-tiny-int8.onnx"
log "INT8 model in $MODELS/yolov4-tiny-int8.onnx"
