#!/usr/bin/env bash
# ONNX Runtime's shared library, taken out of the official Python wheel (the only registry that
# ships it). ort loads it at run time (load-dynamic), so nothing else needs it at build time.
source "$(dirname "$0")/lib.sh"

VERSION=1.31.1
WHEEL=onnxruntime-$VERSION-cp311-cp311-manylinux_2_28_x86_64.whl
WHEEL_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
LIB=libonnxruntime.so.$VERSION
LIB_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3

mkdir -p "$CACHE/lib"
have_sha256 "$CACHE/lib/$LIB" "$LIB_SHA256" && exit 0

pip_fetch "$WHEEL" "$WHEEL_SHA256" onnxruntime==$VERSION --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --python-version 311 --implementation cp
unzip -o -q -j "$DL/$WHEEL" "onnxruntime/capi/$LIB" -d "$CACHE/lib"
check_sha256 "$CACHE/lib/$LIB" "$LIB_SHA256"
log "ONNX Runtime $VERSION at $CACHE/lib/$LIB"
