#!/usr/bin/env bash
# INT8 yolov4-tiny: the FP32 model from scripts/model.sh quantised by tools/quantize.py (static QDQ,
# per-channel weights), calibrated on bikes.mp4 frames and photos from Debian's opencv-doc and
# darknet. Calibration ranges are rounded onto a coarse grid, so the result is byte-identical
# across runs and CPUs and is checked by sha256 like any download.
# Needs scripts/venv.sh, scripts/model.sh and scripts/media.sh to have run.
source "$(dirname "$0")/lib.sh"

MODELS="$CACHE/models"
INT8_SHA256=d3c0f39669c307705a95a34501ab9b0abe81b6e6da72aabe78ceca9684eb4237

have_sha256 "$MODELS/yolov4-tiny-int8.onnx" $INT8_SHA256 && exit 0

[ -f "$MODELS/yolov4-tiny.onnx" ] || die "$MODELS/yolov4-tiny.onnx missing (run scripts/model.sh first)"
[ -f "$CACHE/media/bikes.mp4" ] || die "$CACHE/media/bikes.mp4 missing (run scripts/media.sh first)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deb_extract opencv-doc "$tmp/opencv"
deb_extract darknet "$tmp/darknet"

log "quantising yolov4-tiny to INT8 (about 20 s)"
"$CACHE/venv/bin/python" "$ROOT/tools/quantize.py" --model "$MODELS/yolov4-tiny.onnx" \
  --out "$tmp/yolov4-tiny-int8.onnx" --media "$CACHE/media" \
  --opencv-data "$tmp/opencv/usr/share/doc/opencv-doc/examples/data" \
  --darknet-data "$tmp/darknet/usr/share/darknet/data" || die "tools/quantize.py failed"
# checked before it is moved into place, so a mismatch never leaves a model behind
check_sha256 "$tmp/yolov4-tiny-int8.onnx" $INT8_SHA256
mv "$tmp/yolov4-tiny-int8.onnx" "$MODELS/yolov4-tiny-int8.onnx"
log "INT8 model in $MODELS/yolov4-tiny-int8.onnx"
