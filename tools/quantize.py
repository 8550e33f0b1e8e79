#!/usr/bin/env python3
"""Deterministic INT8 (static QDQ) quantisation of the yolov4-tiny ONNX model.

Usage:
    python tools/quantize.py --model yolov4-tiny.onnx --out yolov4-tiny-int8.onnx \
        --media DIR --opencv-data DIR --darknet-data DIR

--media holds bikes.mp4, --opencv-data is opencv-doc's examples/data folder and
--darknet-data is darknet's data folder (both unpacked from their Debian packages).

What is quantised
-----------------
Activations uint8 (asymmetric), weights int8 per output channel (symmetric,
7 bits: without VNNI, x86 CPUs sum uint8 x int8 products in 16 bits, which full
8-bit weights can saturate; on the gate the 7 bits cost nothing measurable).
Everything is quantised (convolutions, LeakyRelu, Concat, MaxPool, Slice,
Resize) except:
  * the first convolution and its LeakyRelu: with 3 input channels the int8
    kernel is slower than the float one (single thread, about 6 ms per frame
    with its input quantisation and activation, against 4 ms for float with
    its layout conversion); accuracy is the same either way;
  * the two head convolutions: their outputs are box offsets and scores
    side by side, and 8 bits of them moved boxes by several pixels (the
    bicycle of dog.jpg to IoU 0.89 with the float model's box; 0.99 with the
    heads in float), for about 5% more time;
  * the YOLO decoding after the heads (everything the head convolutions feed,
    in a model with an open input size also the ops that size the grids):
    it puts pixel coordinates (0..416) and probabilities (0..1) into one
    tensor, which 8 bits cannot hold; quantising it loses a third of the
    detections and gains no speed.
Tensors joined by a Concat, or passed through MaxPool/Slice/Resize/Identity,
share one range (the union of their calibrated ranges), so those ops run on
the int8 data as they are instead of requantising it: about 5% faster, and no
less accurate.

Calibration
-----------
MinMax over frames that are not in the accuracy check (vtest.avi and the
darknet sample photos are): every 5th frame of bikes.mp4, 14 opencv-doc photos
and darknet's eagle.jpg and scream.jpg, letterboxed exactly as
tools/reference_detect.py does, to the size the model was made for (its
input's, or for an open input size its imgsz metadata). MinMax beat Percentile (clipping the
activations at the 99.999th percentile or below hurts the scores; at the
99.9999th it ties MinMax) and Entropy gave the same ranges as MinMax.

Determinism
-----------
Calibration runs float inference whose last bits may differ between CPUs, so
each range is rounded outward (min down, max up) to a multiple of
2^(floor(log2|x|) - 4): 16 steps per octave, far coarser than any rounding
noise yet at most ~6% wider than measured. The frame list and order are fixed
and the calibration session uses one thread, so the output is byte-identical
from run to run.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QDQQuantizer, QuantType
from onnxruntime.quantization.calibrate import TensorsData, create_calibrator
from onnxruntime.quantization.quant_utils import load_model_with_shape_infer
from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry
from PIL import Image

from reference_detect import letterbox

OPENCV_PHOTOS = [
    "messi5.jpg", "basketball1.png", "basketball2.png", "fruits.jpg", "baboon.jpg", "HappyFish.jpg",
    "home.jpg", "building.jpg", "aero1.jpg", "aero3.jpg", "squirrel_cls.jpg", "orange.jpg",
    "apple.jpg", "stuff.jpg",
]
DARKNET_PHOTOS = ["eagle.jpg", "scream.jpg"]
VIDEO_STEP = 5
# every op type the quantiser knows (what quantize_static uses by default), LeakyRelu and Concat included
OP_TYPES = sorted(set(QDQRegistry) | set(QLinearOpsRegistry))
PASS_THROUGH = {"MaxPool", "Resize", "Slice", "Identity"}  # output quantised like the input
GRID_BITS = 4  # range rounding: 2**GRID_BITS steps per power of two
# 7-bit weights: x86 CPUs without VNNI (AVX2 only) multiply uint8 by int8 in 16-bit sums that can
# saturate with full 8-bit weights; the machines this runs on have been both kinds
REDUCE_RANGE = True


def video_frames(path: Path, step: int) -> list[Image.Image]:
    """Every step-th frame, decoded by ffmpeg to RGB with bit-exact scaling."""
    size = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
    w, h = (int(v) for v in size.strip().split(",")[:2])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-sws_flags", "+accurate_rnd+bitexact", "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    return [Image.fromarray(f) for f in frames[::step]]


def calibration_images(media: Path, opencv: Path, darknet: Path) -> list[Image.Image]:
    return (video_frames(media / "bikes.mp4", VIDEO_STEP)
            + [Image.open(opencv / name) for name in OPENCV_PHOTOS]
            + [Image.open(darknet / name) for name in DARKNET_PHOTOS])


class Blobs(CalibrationDataReader):
    def __init__(self, input_name: str, images: list[Image.Image], size: tuple[int, int]):
        self.items = iter([{input_name: letterbox(im, *size)[0].astype(np.float32)} for im in images])

    def get_next(self):
        return next(self.items, None)


def calibrate(model_path: Path, reader: Blobs) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        calibrator = create_calibrator(model_path, OP_TYPES, Path(tmp, "augmented.onnx").as_posix(),
                                       CalibrationMethod.MinMax)
        # one thread: the same float sums in the same order on every run
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        calibrator.infer_session = ort.InferenceSession(calibrator.augmented_model_path, options,
                                                        providers=["CPUExecutionProvider"])
        calibrator.collect_data(reader)
        data = calibrator.compute_data()
    return {name: (float(np.min(t.range_value[0])), float(np.max(t.range_value[1]))) for name, t in data.items()}


def round_outward(lo: float, hi: float) -> tuple[float, float]:
    def down(x: float) -> float:
        if x == 0:
            return 0.0
        step = 2.0 ** (math.floor(math.log2(abs(x))) - GRID_BITS)
        return math.floor(x / step) * step

    return down(lo), -down(-hi)


def float_nodes(graph: onnx.GraphProto) -> set[str]:
    """The first conv (+ its activation), the head convs and the YOLO decoding after them."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    producer = {out: node for node in graph.node for out in node.output}
    first_conv = next(n for n in graph.node if n.op_type == "Conv" and graph.input[0].name in n.input)
    keep = {first_conv.name} | {n.name for n in consumers[first_conv.output[0]]}
    # each head's decoding starts with a Reshape of its conv's output; everything fed by that conv
    # output is decoding (in a model with open input sizes, also the ops that read the grid's size)
    heads = [producer[n.input[0]] for n in graph.node if n.op_type == "Reshape"]
    heads = [n for n in heads if n.op_type == "Conv"]
    keep |= {n.name for n in heads}
    todo = [c for n in heads for c in consumers[n.output[0]]]
    while todo:
        node = todo.pop()
        if node.name not in keep:
            keep.add(node.name)
            todo += [c for out in node.output for c in consumers.get(out, [])]
    return keep


def share_ranges(graph: onnx.GraphProto, ranges: dict, excluded: set[str]) -> dict:
    """Give tensors joined by Concat or pass-through ops the union of their ranges."""
    parent = {name: name for name in ranges}

    def root(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    for node in graph.node:
        if node.name in excluded:
            continue
        if node.op_type == "Concat":
            linked = [*node.input, *node.output]
        elif node.op_type in PASS_THROUGH:
            linked = [node.input[0], node.output[0]]
        else:
            continue
        for name in linked[1:]:
            parent[root(name)] = root(linked[0])
    groups: dict[str, list[str]] = {}
    for name in ranges:
        groups.setdefault(root(name), []).append(name)
    shared = {}
    for members in groups.values():
        union = (min(ranges[m][0] for m in members), max(ranges[m][1] for m in members))
        shared.update({m: union for m in members})
    return shared


def input_size(model: onnx.ModelProto) -> tuple[int, int]:
    """(width, height) the model was made for: its input's, or its imgsz metadata when open."""
    height, width = (d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[2:])
    if height and width:
        return width, height
    imgsz = next((p.value for p in model.metadata_props if p.key == "imgsz"), None)
    if imgsz is None:
        raise SystemExit("quantize: the model's input size is open and no imgsz metadata says what it was made for")
    height, width = (int(v) for v in imgsz.strip("[]").split(","))
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Quantise a darknet2onnx YOLO model to INT8 (QDQ).")
    parser.add_argument("--model", type=Path, required=True, help="FP32 model from tools/darknet2onnx.py")
    parser.add_argument("--out", type=Path, required=True, help="INT8 model to write")
    parser.add_argument("--media", type=Path, required=True, help="folder with bikes.mp4")
    parser.add_argument("--opencv-data", type=Path, required=True, help="opencv-doc examples/data folder")
    parser.add_argument("--darknet-data", type=Path, required=True, help="darknet data folder")
    args = parser.parse_args(argv)

    model = load_model_with_shape_infer(args.model)
    graph = model.graph
    size = input_size(model)
    images = calibration_images(args.media, args.opencv_data, args.darknet_data)
    measured = calibrate(args.model, Blobs(graph.input[0].name, images, size))
    excluded = float_nodes(graph)
    ranges = share_ranges(graph, {k: round_outward(*v) for k, v in measured.items()}, excluded)

    tensors = TensorsData(CalibrationMethod.MinMax,
                          {k: (np.float32(lo), np.float32(hi)) for k, (lo, hi) in sorted(ranges.items())})
    quantizer = QDQQuantizer(model, True, REDUCE_RANGE, QuantType.QInt8, QuantType.QUInt8, tensors,
                             [], sorted(excluded), OP_TYPES, {})
    quantizer.quantize_model()
    quantizer.model.save_model_to_file(str(args.out), False)
    print(f"quantize: {len(images)} calibration images, {len(excluded)} nodes kept float, wrote {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
