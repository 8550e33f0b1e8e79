#!/usr/bin/env python3
"""Deterministic darknet (.cfg + .weights) -> ONNX converter for YOLO detectors.

Only numpy and onnx are used: the graph is assembled node by node with
onnx.helper, so no deep-learning framework is needed and the result depends
only on the input files (converting twice gives byte-identical output).

Usage:
    python tools/darknet2onnx.py --cfg yolov4-tiny.cfg --weights yolov4-tiny.weights \
        --names coco.names --out yolov4-tiny.onnx [--layout v4|v8] [--dynamic]

Supported cfg sections: [net], [convolutional], [maxpool], [route] (with
groups/group_id), [upsample], [shortcut] and [yolo].  That covers
yolov3-tiny and yolov4-tiny (and the plain layers of the larger models).

Model interface
---------------
Input  `images`: float32 [1, 3, H, W], RGB, values in 0..1, already
letterboxed to the cfg's width/height by the caller.  With --dynamic, H and W
are left open (any multiples of the largest stride) and each head's grid is
sized from its tensor at run time; imgsz and stride in the metadata say what
the model was made for.  At the cfg's size the output is the same bit for bit.

The YOLO heads are decoded inside the graph with darknet's semantics, boxes
are (cx, cy, w, h) in input pixels:

    cx = (sigmoid(tx) * s - 0.5 * (s - 1) + grid_x) / grid_w * W
    cy = (sigmoid(ty) * s - 0.5 * (s - 1) + grid_y) / grid_h * H
    w  = exp(tw) * anchor_w        h = exp(th) * anchor_h
    obj = sigmoid(to)              cls_k = sigmoid(tc_k)

with s = scale_x_y (default 1) and anchors in input pixels.

Row order (both layouts): heads in cfg order; inside a head anchor-major
(anchors in `mask` order), then grid row (y), then grid column (x).  Row
index inside a head is therefore  a * grid_h * grid_w + y * grid_w + x.

--layout v4 (default): output `output`  [1, N, 5 + C] = cx, cy, w, h, obj, cls...
--layout v8:           output `output0` [1, 4 + C, N] = cx, cy, w, h, obj * cls...
                       (YOLOv8 / YOLO11 layout, objectness folded into scores)

For 416x416 yolov4-tiny N = 3*13*13 + 3*26*26 = 2535.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRODUCER_NAME = "sightline-darknet2onnx"
PRODUCER_VERSION = "1.0"  # fixed string: the output must not depend on library versions
OPSET = 17
IR_VERSION = 8  # onnxruntime 1.31 loads IR 8 / opset 17 without complaint

LEAKY_SLOPE = 0.1  # darknet's leaky ReLU slope
BN_EPS = 0.000001  # darknet: (x - mean) / (sqrt(var) + .000001f)

INPUT_NAME = "images"
LAYOUT_OUTPUT = {"v4": "output", "v8": "output0"}


class ConversionError(Exception):
    """Any problem with the inputs; reported to the user without a traceback."""


# --------------------------------------------------------------------------
# cfg parsing
# --------------------------------------------------------------------------

SECTION_ALIASES = {
    "net": "net",
    "network": "net",
    "convolutional": "convolutional",
    "conv": "convolutional",
    "maxpool": "maxpool",
    "max": "maxpool",
    "route": "route",
    "upsample": "upsample",
    "shortcut": "shortcut",
    "yolo": "yolo",
}


@dataclass
class Section:
    """One [section] of a cfg file with its key=value options."""

    kind: str
    line: int
    path: str
    options: dict[str, tuple[str, int]] = field(default_factory=dict)

    def where(self, key: str | None = None) -> str:
        line = self.options[key][1] if key in self.options else self.line
        return f"{self.path}: line {line} [{self.kind}]"

    def has(self, key: str) -> bool:
        return key in self.options

    def get_str(self, key: str, default: str | None = None) -> str:
        if key in self.options:
            return self.options[key][0]
        if default is None:
            raise ConversionError(f"{self.where()}: missing required option '{key}'")
        return default

    def get_int(self, key: str, default: int | None = None) -> int:
        if key not in self.options:
            if default is None:
                raise ConversionError(f"{self.where()}: missing required option '{key}'")
            return default
        text = self.options[key][0]
        try:
            return int(text)
        except ValueError:
            raise ConversionError(f"{self.where(key)}: '{key}' must be an integer, got '{text}'") from None

    def get_float(self, key: str, default: float) -> float:
        if key not in self.options:
            return default
        text = self.options[key][0]
        try:
            return float(text)
        except ValueError:
            raise ConversionError(f"{self.where(key)}: '{key}' must be a number, got '{text}'") from None

    def get_int_list(self, key: str, default: list[int] | None = None) -> list[int]:
        if key not in self.options:
            if default is None:
                raise ConversionError(f"{self.where()}: missing required option '{key}'")
            return default
        text = self.options[key][0]
        try:
            return [int(v) for v in _split_list(text)]
        except ValueError:
            raise ConversionError(f"{self.where(key)}: '{key}' must be a list of integers, got '{text}'") from None

    def get_float_list(self, key: str) -> list[float]:
        text = self.get_str(key)
        try:
            return [float(v) for v in _split_list(text)]
        except ValueError:
            raise ConversionError(f"{self.where(key)}: '{key}' must be a list of numbers, got '{text}'") from None


def _split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_cfg(path: str) -> list[Section]:
    """Parse a darknet cfg into sections; the first one must be [net]."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise ConversionError(f"cannot read cfg '{path}': {exc.strerror}") from None

    sections: list[Section] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ConversionError(f"{path}: line {number}: malformed section header '{raw.strip()}'")
            name = line[1:-1].strip().lower()
            if name not in SECTION_ALIASES:
                raise ConversionError(f"{path}: line {number}: unsupported layer type [{name}]")
            sections.append(Section(SECTION_ALIASES[name], number, path))
            continue
        if "=" not in line:
            raise ConversionError(f"{path}: line {number}: expected key=value, got '{raw.strip()}'")
        if not sections:
            raise ConversionError(f"{path}: line {number}: option outside of any [section]")
        key, value = (part.strip() for part in line.split("=", 1))
        sections[-1].options[key.lower()] = (value, number)

    if not sections or sections[0].kind != "net":
        raise ConversionError(f"{path}: the cfg must start with a [net] section")
    if len(sections) == 1:
        raise ConversionError(f"{path}: the cfg has no layers")
    if any(s.kind == "net" for s in sections[1:]):
        raise ConversionError(f"{path}: [net] may only appear once, as the first section")
    return sections


def read_names(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            names = [line.strip() for line in handle]
    except OSError as exc:
        raise ConversionError(f"cannot read names '{path}': {exc.strerror}") from None
    names = [n for n in names if n]
    if not names:
        raise ConversionError(f"names file '{path}' contains no class names")
    return names


# --------------------------------------------------------------------------
# weights file
# --------------------------------------------------------------------------


class WeightReader:
    """Sequential reader over the float32 body of a darknet .weights file."""

    def __init__(self, path: str):
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ConversionError(f"cannot read weights '{path}': {exc.strerror}") from None
        self.path = path
        if len(data) < 12:
            raise ConversionError(f"weights '{path}' is too short for a darknet header")
        major, minor, _revision = (int(v) for v in np.frombuffer(data, "<i4", 3))
        # darknet stores `seen` as size_t (8 bytes) from format 0.2 on, int before.
        seen_bytes = 8 if major * 10 + minor >= 2 else 4
        header_bytes = 12 + seen_bytes
        if major > 1000 or minor > 1000:
            raise ConversionError(f"weights '{path}': unsupported (transposed) format {major}.{minor}")
        if len(data) < header_bytes or (len(data) - header_bytes) % 4:
            raise ConversionError(
                f"weights '{path}': body of {len(data) - header_bytes} bytes is not a whole number of float32"
            )
        self.body = np.frombuffer(data, "<f4", offset=header_bytes).astype(np.float32)
        self.pos = 0

    def take(self, count: int, what: str) -> np.ndarray:
        if self.pos + count > self.body.size:
            raise ConversionError(
                f"weights '{self.path}' ends early: {what} needs {count} floats at offset {self.pos}, "
                f"only {self.body.size - self.pos} left (file holds {self.body.size} floats) - "
                "does the cfg match the weights?"
            )
        chunk = self.body[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def finish(self) -> None:
        left = self.body.size - self.pos
        if left:
            raise ConversionError(
                f"weights '{self.path}' has {left} unused floats after all layers "
                f"(used {self.pos} of {self.body.size}) - does the cfg match the weights?"
            )


# --------------------------------------------------------------------------
# graph construction helpers
# --------------------------------------------------------------------------


class GraphBuilder:
    """Collects nodes and initializers; every name derives from the layer index."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    def _claim(self, name: str) -> str:
        if name in self._names:
            raise AssertionError(f"duplicate graph name {name}")  # a bug, not a user error
        self._names.add(name)
        return name

    def const(self, name: str, array: np.ndarray) -> str:
        tensor = numpy_helper.from_array(np.ascontiguousarray(array), self._claim(name))
        self.initializers.append(tensor)
        return name

    def int64s(self, name: str, values: list[int]) -> str:
        return self.const(name, np.asarray(values, dtype=np.int64))

    def floats(self, name: str, array) -> str:
        return self.const(name, np.asarray(array, dtype=np.float32))

    def op(self, op_type: str, inputs: list[str], output: str, **attrs) -> str:
        """Add a single-output node named after its output."""
        self.ops(op_type, inputs, [output], **attrs)
        return output

    def ops(self, op_type: str, inputs: list[str], outputs: list[str], **attrs) -> list[str]:
        for out in outputs:
            self._claim(out)
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=f"{outputs[0]}_{op_type}", **attrs))
        return outputs


@dataclass
class Tensor:
    """A layer output: graph name plus darknet shape (channels, height, width)."""

    name: str
    c: int
    h: int
    w: int
    routable: bool = True  # yolo outputs cannot be routed (they are decoded, not raw)


@dataclass
class Head:
    """A decoded yolo head: graph name of [1, rows, 5 + C] and its geometry."""

    name: str
    rows: int
    classes: int
    stride: int


# --------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------


def apply_activation(g: GraphBuilder, x: str, activation: str, prefix: str, sec: Section) -> str:
    if activation == "linear":
        return x
    if activation == "leaky":
        return g.op("LeakyRelu", [x], f"{prefix}_leaky", alpha=LEAKY_SLOPE)
    if activation == "relu":
        return g.op("Relu", [x], f"{prefix}_relu")
    if activation == "logistic":
        return g.op("Sigmoid", [x], f"{prefix}_logistic")
    if activation == "mish":  # x * tanh(softplus(x)); Mish op itself needs opset 18
        sp = g.op("Softplus", [x], f"{prefix}_softplus")
        th = g.op("Tanh", [sp], f"{prefix}_tanh")
        return g.op("Mul", [x, th], f"{prefix}_mish")
    if activation == "swish":
        sg = g.op("Sigmoid", [x], f"{prefix}_sigmoid")
        return g.op("Mul", [x, sg], f"{prefix}_swish")
    raise ConversionError(f"{sec.where('activation')}: unsupported activation '{activation}'")


def reject_options(sec: Section, unsupported: dict[str, str | None]) -> None:
    """Fail on options that change inference but that this converter does not implement.

    `unsupported` maps option -> the value that means "off" (None: any value is rejected).
    """
    for key, neutral in unsupported.items():
        if sec.has(key) and (neutral is None or sec.get_str(key) != neutral):
            raise ConversionError(f"{sec.where(key)}: option '{key}={sec.get_str(key)}' is not supported")


def fold_batchnorm(weights, biases, scales, mean, var, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Fold darknet batch norm into the conv. Computed in float64, stored as float32."""
    if np.any(var < 0) or not np.all(np.isfinite(var)):
        raise ConversionError(
            f"{what}: batch norm variance is negative or not finite - does the cfg match the weights?"
        )
    factor = scales.astype(np.float64) / (np.sqrt(var.astype(np.float64)) + BN_EPS)
    w = weights.astype(np.float64) * factor[:, None, None, None]
    b = biases.astype(np.float64) - mean.astype(np.float64) * factor
    return w.astype(np.float32), b.astype(np.float32)


def convert_convolutional(g: GraphBuilder, sec: Section, idx: int, x: Tensor, wr: WeightReader) -> Tensor:
    reject_options(
        sec,
        {"binary": "0", "xnor": "0", "dilation": "1", "antialiasing": "0", "share_index": None,
         "deform": "0", "sway": "0", "rotate": "0", "stretch": "0", "stretch_sway": "0",
         "assisted_excitation": "0"},
    )
    filters = sec.get_int("filters", 1)
    size = sec.get_int("size", 1)
    stride = sec.get_int("stride", 1)
    if sec.has("stride_x") or sec.has("stride_y"):
        if sec.get_int("stride_x", stride) != stride or sec.get_int("stride_y", stride) != stride:
            raise ConversionError(f"{sec.where()}: different stride_x/stride_y are not supported")
    groups = sec.get_int("groups", 1)
    # darknet: `padding` is explicit, `pad=1` overrides it with size/2
    padding = size // 2 if sec.get_int("pad", 0) else sec.get_int("padding", 0)
    batch_norm = sec.get_int("batch_normalize", 0)
    activation = sec.get_str("activation", "logistic").lower()

    if filters <= 0 or size <= 0 or stride <= 0 or groups <= 0 or padding < 0:
        raise ConversionError(f"{sec.where()}: filters/size/stride/groups must be positive")
    if x.c % groups or filters % groups:
        raise ConversionError(f"{sec.where()}: groups={groups} does not divide channels {x.c} / filters {filters}")
    out_h = (x.h + 2 * padding - size) // stride + 1
    out_w = (x.w + 2 * padding - size) // stride + 1
    if out_h <= 0 or out_w <= 0:
        raise ConversionError(f"{sec.where()}: input {x.h}x{x.w} too small for size={size}")

    what = f"layer {idx} [convolutional]"
    biases = wr.take(filters, f"{what} biases")
    if batch_norm:
        scales = wr.take(filters, f"{what} bn scales")
        mean = wr.take(filters, f"{what} bn rolling_mean")
        var = wr.take(filters, f"{what} bn rolling_variance")
    # darknet weight order is [filters, channels/groups, size, size] == ONNX OIHW
    kernel = wr.take(filters * (x.c // groups) * size * size, f"{what} weights")
    kernel = kernel.reshape(filters, x.c // groups, size, size)
    if batch_norm:
        kernel, biases = fold_batchnorm(kernel, biases, scales, mean, var, what)

    prefix = f"l{idx:03d}_conv"
    y = g.op(
        "Conv",
        [x.name, g.const(f"{prefix}.weight", kernel), g.const(f"{prefix}.bias", np.asarray(biases, np.float32))],
        prefix,
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[padding] * 4,
        group=groups,
    )
    y = apply_activation(g, y, activation, prefix, sec)
    return Tensor(y, filters, out_h, out_w)


def convert_maxpool(g: GraphBuilder, sec: Section, idx: int, x: Tensor) -> Tensor:
    reject_options(sec, {"maxpool_depth": "0", "antialiasing": "0"})
    stride = sec.get_int("stride", 1)
    size = sec.get_int("size", stride)
    if sec.has("stride_x") or sec.has("stride_y"):
        if sec.get_int("stride_x", stride) != stride or sec.get_int("stride_y", stride) != stride:
            raise ConversionError(f"{sec.where()}: different stride_x/stride_y are not supported")
    # darknet pads size-1 in total: padding//2 before, the rest after (right/bottom),
    # out-of-image cells never win (same as ONNX MaxPool padding).
    padding = sec.get_int("padding", size - 1)
    if size <= 0 or stride <= 0 or padding < 0:
        raise ConversionError(f"{sec.where()}: size/stride must be positive")
    before, after = padding // 2, padding - padding // 2
    out_h = (x.h + padding - size) // stride + 1
    out_w = (x.w + padding - size) // stride + 1
    if out_h <= 0 or out_w <= 0:
        raise ConversionError(f"{sec.where()}: input {x.h}x{x.w} too small for size={size}")
    y = g.op(
        "MaxPool",
        [x.name],
        f"l{idx:03d}_maxpool",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[before, before, after, after],
    )
    return Tensor(y, x.c, out_h, out_w)


def resolve_index(sec: Section, key: str, ref: int, idx: int, outputs: list[Tensor]) -> Tensor:
    """darknet layer reference: negative = relative to this layer, else absolute."""
    target = idx + ref if ref < 0 else ref
    if not 0 <= target < idx:
        raise ConversionError(f"{sec.where(key)}: layer reference {ref} points outside layers 0..{idx - 1}")
    if not outputs[target].routable:
        raise ConversionError(f"{sec.where(key)}: referencing [yolo] layer {target} is not supported")
    return outputs[target]


def convert_route(g: GraphBuilder, sec: Section, idx: int, outputs: list[Tensor]) -> Tensor:
    sources = [resolve_index(sec, "layers", r, idx, outputs) for r in sec.get_int_list("layers")]
    if not sources:
        raise ConversionError(f"{sec.where('layers')}: route needs at least one layer")
    groups = sec.get_int("groups", 1)
    group_id = sec.get_int("group_id", 0)
    if groups <= 0 or not 0 <= group_id < groups:
        raise ConversionError(f"{sec.where()}: need groups > 0 and 0 <= group_id < groups")
    h, w = sources[0].h, sources[0].w
    if any((s.h, s.w) != (h, w) for s in sources):
        shapes = ", ".join(f"{s.h}x{s.w}" for s in sources)
        raise ConversionError(f"{sec.where('layers')}: routed layers differ in spatial size ({shapes})")

    prefix = f"l{idx:03d}_route"
    parts: list[str] = []
    for n, src in enumerate(sources):
        if groups == 1:
            parts.append(src.name)
            continue
        # darknet splits every input into `groups` channel slices and keeps slice group_id
        if src.c % groups:
            raise ConversionError(f"{sec.where()}: {src.c} channels cannot be split into {groups} groups")
        part = src.c // groups
        parts.append(
            g.op(
                "Slice",
                [
                    src.name,
                    g.int64s(f"{prefix}_{n}.starts", [part * group_id]),
                    g.int64s(f"{prefix}_{n}.ends", [part * (group_id + 1)]),
                    g.int64s(f"{prefix}_{n}.axes", [1]),
                ],
                f"{prefix}_{n}_slice",
            )
        )
    channels = sum(s.c for s in sources) // groups
    if len(parts) == 1:
        # keep a distinct, stable tensor per layer so later references stay simple
        return Tensor(g.op("Identity", parts, prefix), channels, h, w)
    return Tensor(g.op("Concat", parts, prefix, axis=1), channels, h, w)


def convert_upsample(g: GraphBuilder, sec: Section, idx: int, x: Tensor) -> Tensor:
    stride = sec.get_int("stride", 2)
    if stride <= 0:
        raise ConversionError(f"{sec.where('stride')}: only positive upsample strides are supported")
    if sec.get_float("scale", 1.0) != 1.0:
        raise ConversionError(f"{sec.where('scale')}: upsample scale != 1 is not supported")
    prefix = f"l{idx:03d}_upsample"
    # asymmetric + floor == darknet's pixel repetition for integer factors
    y = g.op(
        "Resize",
        [x.name, "", g.floats(f"{prefix}.scales", [1, 1, stride, stride])],
        prefix,
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )
    return Tensor(y, x.c, x.h * stride, x.w * stride)


def convert_shortcut(g: GraphBuilder, sec: Section, idx: int, outputs: list[Tensor]) -> Tensor:
    reject_options(sec, {"weights_type": "none", "weights_normalization": "none"})
    refs = sec.get_int_list("from")
    if len(refs) != 1:
        raise ConversionError(f"{sec.where('from')}: shortcut from several layers is not supported")
    prev = resolve_index(sec, "from", -1, idx, outputs)
    other = resolve_index(sec, "from", refs[0], idx, outputs)
    if (prev.c, prev.h, prev.w) != (other.c, other.h, other.w):
        raise ConversionError(
            f"{sec.where('from')}: shortcut shapes differ ({prev.c}x{prev.h}x{prev.w} vs "
            f"{other.c}x{other.h}x{other.w})"
        )
    prefix = f"l{idx:03d}_shortcut"
    y = g.op("Add", [prev.name, other.name], prefix)
    y = apply_activation(g, y, sec.get_str("activation", "linear").lower(), prefix, sec)
    return Tensor(y, prev.c, prev.h, prev.w)


def dynamic_grid_offset(g: GraphBuilder, prefix: str, grid_hw: str, shift: float, step: tuple[float, float]) -> str:
    """[gh, gw, 2] of (gx - shift) * step_x, (gy - shift) * step_y for a grid sized at run time."""
    one = g.int64s(f"{prefix}.one", [1])

    def cell_index(axis: int, name: str) -> str:
        """0 .. size - 1 along one axis of the grid, as floats."""
        bounds = [g.int64s(f"{prefix}.{name}_at", [axis]), g.int64s(f"{prefix}.{name}_end", [axis + 1])]
        size = g.op("Squeeze", [g.op("Slice", [grid_hw, *bounds], f"{prefix}_{name}_n")], f"{prefix}_{name}_size")
        start, delta = g.int64s(f"{prefix}.{name}_start", np.int64(0)), g.int64s(f"{prefix}.{name}_delta", np.int64(1))
        steps = g.op("Range", [start, size, delta], f"{prefix}_{name}_range")
        return g.op("Cast", [steps], f"{prefix}_{name}_float", to=TensorProto.FLOAT)

    column = g.op("Unsqueeze", [cell_index(0, "gy"), one], f"{prefix}_gy_col")  # [gh, 1]
    row = g.op("Unsqueeze", [cell_index(1, "gx"), g.int64s(f"{prefix}.zero", [0])], f"{prefix}_gx_row")  # [1, gw]
    # each broadcast to [gh, gw, 1], then side by side as (x, y)
    planes = [
        g.op("Unsqueeze", [g.op("Expand", [index, grid_hw], f"{prefix}_g{a}_plane"), g.int64s(f"{prefix}.last_{a}", [-1])],
             f"{prefix}_g{a}_cell")
        for a, index in (("x", row), ("y", column))
    ]
    grid = g.op("Concat", planes, f"{prefix}_grid_idx", axis=-1)
    grid = g.op("Sub", [grid, g.floats(f"{prefix}.shift", [shift])], f"{prefix}_grid_shifted")
    return g.op("Mul", [grid, g.floats(f"{prefix}.step", list(step))], f"{prefix}_grid")


def convert_yolo(
    g: GraphBuilder, sec: Section, idx: int, x: Tensor, net_h: int, net_w: int, dynamic: bool
) -> Head:
    reject_options(sec, {"new_coords": "0"})
    classes = sec.get_int("classes", 20)
    num = sec.get_int("num", 1)
    anchors = sec.get_float_list("anchors") if sec.has("anchors") else []
    if len(anchors) != 2 * num:
        raise ConversionError(
            f"{sec.where('anchors')}: expected {num} anchor pairs (num={num}), got {len(anchors) / 2:g}"
        )
    mask = sec.get_int_list("mask", list(range(num)))
    if any(not 0 <= m < num for m in mask):
        raise ConversionError(f"{sec.where('mask')}: mask entries must be in 0..{num - 1}")
    scale_xy = sec.get_float("scale_x_y", 1.0)
    per_anchor = 5 + classes
    if x.c != len(mask) * per_anchor:
        raise ConversionError(
            f"{sec.where()}: input has {x.c} channels, expected {len(mask)} anchors * (5 + {classes}) = "
            f"{len(mask) * per_anchor} - check filters= of the preceding convolution"
        )
    if net_w % x.w or net_h % x.h:
        raise ConversionError(f"{sec.where()}: grid {x.h}x{x.w} does not divide the input {net_h}x{net_w}")

    prefix = f"l{idx:03d}_yolo"
    n_a, gh, gw = len(mask), x.h, x.w
    step_x, step_y = net_w / gw, net_h / gh  # input pixels per grid cell: the head's stride

    # [1, A*(5+C), gh, gw] -> [1, A, gh, gw, 5+C]
    if dynamic:  # the grid's size is read off the tensor at run time
        grid_hw = g.op("Slice", [g.op("Shape", [x.name], f"{prefix}_shape"), g.int64s(f"{prefix}.hw_from", [2]),
                                 g.int64s(f"{prefix}.hw_to", [4])], f"{prefix}_hw")
        shape5 = g.op("Concat", [g.int64s(f"{prefix}.shape5_head", [1, n_a, per_anchor]), grid_hw],
                      f"{prefix}_shape5", axis=0)
    else:
        shape5 = g.int64s(f"{prefix}.shape5", [1, n_a, per_anchor, gh, gw])
    t = g.op("Reshape", [x.name, shape5], f"{prefix}_5d")
    t = g.op("Transpose", [t], f"{prefix}_t", perm=[0, 1, 3, 4, 2])
    xy, wh, conf = g.ops(
        "Split",
        [t, g.int64s(f"{prefix}.split", [2, 2, 1 + classes])],
        [f"{prefix}_xy", f"{prefix}_wh", f"{prefix}_conf"],
        axis=-1,
    )

    # cx = (sig*s - 0.5*(s-1) + gx) * step  ==  sig * (s*step) + (gx - 0.5*(s-1)) * step
    shift = 0.5 * (scale_xy - 1.0)
    xy = g.op("Sigmoid", [xy], f"{prefix}_xy_sig")
    xy = g.op("Mul", [xy, g.floats(f"{prefix}.xy_gain", [scale_xy * step_x, scale_xy * step_y])], f"{prefix}_xy_gain")
    if dynamic:
        offset = dynamic_grid_offset(g, prefix, grid_hw, shift, (step_x, step_y))
    else:
        gy_idx, gx_idx = np.meshgrid(np.arange(gh, dtype=np.float64), np.arange(gw, dtype=np.float64), indexing="ij")
        grid = np.stack([(gx_idx - shift) * step_x, (gy_idx - shift) * step_y], axis=-1)[None, None]
        offset = g.floats(f"{prefix}.grid", grid)
    xy = g.op("Add", [xy, offset], f"{prefix}_xy_px")

    # w = exp(tw) * anchor_w (anchors are already in input pixels)
    anchor_wh = np.array([[anchors[2 * m], anchors[2 * m + 1]] for m in mask], dtype=np.float32)
    wh = g.op("Exp", [wh], f"{prefix}_wh_exp")
    wh = g.op("Mul", [wh, g.floats(f"{prefix}.anchors", anchor_wh.reshape(1, n_a, 1, 1, 2))], f"{prefix}_wh_px")

    conf = g.op("Sigmoid", [conf], f"{prefix}_conf_sig")
    t = g.op("Concat", [xy, wh, conf], f"{prefix}_decoded", axis=-1)
    rows = n_a * gh * gw  # at the cfg's input size
    t = g.op("Reshape", [t, g.int64s(f"{prefix}.shape3", [1, -1 if dynamic else rows, per_anchor])], f"{prefix}_rows")
    return Head(t, rows, classes, int(round(max(step_x, step_y))))


# --------------------------------------------------------------------------
# whole model
# --------------------------------------------------------------------------


def convert_layers(
    g: GraphBuilder, sections: list[Section], wr: WeightReader, dynamic: bool
) -> tuple[list[Head], int, int, int]:
    net = sections[0]
    net_h, net_w, channels = net.get_int("height", 0), net.get_int("width", 0), net.get_int("channels", 3)
    if net_h <= 0 or net_w <= 0:
        raise ConversionError(f"{net.where()}: [net] needs positive width= and height=")
    if channels != 3:
        raise ConversionError(f"{net.where('channels')}: only 3-channel (RGB) input is supported")

    current = Tensor(INPUT_NAME, channels, net_h, net_w)
    outputs: list[Tensor] = []
    heads: list[Head] = []
    for idx, sec in enumerate(sections[1:]):
        if not current.routable and sec.kind in ("convolutional", "maxpool", "upsample", "yolo"):
            raise ConversionError(f"{sec.where()}: a layer directly after [yolo] must be a [route]")
        if sec.kind == "convolutional":
            current = convert_convolutional(g, sec, idx, current, wr)
        elif sec.kind == "maxpool":
            current = convert_maxpool(g, sec, idx, current)
        elif sec.kind == "route":
            current = convert_route(g, sec, idx, outputs)
        elif sec.kind == "upsample":
            current = convert_upsample(g, sec, idx, current)
        elif sec.kind == "shortcut":
            current = convert_shortcut(g, sec, idx, outputs)
        elif sec.kind == "yolo":
            heads.append(convert_yolo(g, sec, idx, current, net_h, net_w, dynamic))
            # darknet's yolo output is its input (partly activated); keep the shape, forbid routing
            current = Tensor(current.name, current.c, current.h, current.w, routable=False)
        else:  # parse_cfg only lets known kinds through
            raise ConversionError(f"{sec.where()}: unsupported layer type [{sec.kind}]")
        outputs.append(current)

    wr.finish()
    if not heads:
        raise ConversionError("the cfg has no [yolo] layer, nothing to detect with")
    if len({h.classes for h in heads}) != 1:
        raise ConversionError("all [yolo] layers must have the same classes=")
    return heads, net_h, net_w, channels


def add_output(g: GraphBuilder, heads: list[Head], layout: str) -> tuple[str, list[int]]:
    classes, rows = heads[0].classes, sum(h.rows for h in heads)
    merged = g.op("Concat", [h.name for h in heads], "heads_concat", axis=1) if len(heads) > 1 else heads[0].name
    if layout == "v4":
        return g.op("Identity", [merged], LAYOUT_OUTPUT["v4"]), [1, rows, 5 + classes]
    box, obj, cls = g.ops(
        "Split", [merged, g.int64s("v8.split", [4, 1, classes])], ["v8_box", "v8_obj", "v8_cls"], axis=-1
    )
    scores = g.op("Mul", [cls, obj], "v8_scores")
    flat = g.op("Concat", [box, scores], "v8_rows", axis=-1)
    return g.op("Transpose", [flat], LAYOUT_OUTPUT["v8"], perm=[0, 2, 1]), [1, 4 + classes, rows]


def build_model(cfg_path: str, weights_path: str, names_path: str, layout: str, dynamic: bool = False) -> onnx.ModelProto:
    sections = parse_cfg(cfg_path)
    names = read_names(names_path)
    wr = WeightReader(weights_path)
    g = GraphBuilder()
    heads, net_h, net_w, channels = convert_layers(g, sections, wr, dynamic)
    if len(names) != heads[0].classes:
        raise ConversionError(
            f"names file '{names_path}' lists {len(names)} classes but the cfg's [yolo] layers have "
            f"classes={heads[0].classes}"
        )
    out_name, out_shape = add_output(g, heads, layout)
    in_shape = [1, channels, net_h, net_w]
    if dynamic:
        in_shape[2:] = ["height", "width"]
        out_shape = ["boxes" if dim == sum(h.rows for h in heads) else dim for dim in out_shape]

    model_name = os.path.splitext(os.path.basename(cfg_path))[0]
    graph = helper.make_graph(
        g.nodes,
        f"{model_name}_{layout}",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER_NAME,
        producer_version=PRODUCER_VERSION,
    )
    model.ir_version = IR_VERSION
    add_metadata(model, names, net_h, net_w, heads, layout, model_name, dynamic)
    onnx.checker.check_model(model, full_check=True)
    return model


def add_metadata(model, names, net_h, net_w, heads, layout, model_name, dynamic) -> None:
    order = "heads in cfg order, anchor-major, then grid y, then grid x"
    if layout == "v4":
        fmt = f"output [1,N,5+C] rows=cx,cy,w,h,obj,cls... ({order})"
    else:
        fmt = f"output0 [1,4+C,N] rows=cx,cy,w,h,obj*cls... ({order})"
    stride = max(h.stride for h in heads)
    size = f"[1,3,H,W] (multiples of {stride}, made for {net_h}x{net_w})" if dynamic else f"[1,3,{net_h},{net_w}]"
    props = {
        "description": (
            f"darknet {model_name} converted by {PRODUCER_NAME}; input images {size} "
            f"RGB 0..1 letterboxed; boxes in input pixels; {fmt}"
        ),
        "stride": str(stride),
        "task": "detect",
        "imgsz": str([net_h, net_w]),
        "names": str(dict(enumerate(names))),  # Ultralytics style "{0: 'person', ...}"
        "layout": layout,
    }
    helper.set_model_props(model, dict(sorted(props.items())))  # stable key order


def save_model(model: onnx.ModelProto, path: str) -> None:
    """Serialize deterministically (no map fields are involved, but be explicit)."""
    data = model.SerializeToString(deterministic=True)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert a darknet YOLO model (.cfg + .weights) to ONNX.")
    parser.add_argument("--cfg", required=True, help="darknet .cfg file")
    parser.add_argument("--weights", required=True, help="darknet .weights file")
    parser.add_argument("--names", required=True, help="class names, one per line")
    parser.add_argument("--out", required=True, help="output .onnx path")
    parser.add_argument("--layout", choices=sorted(LAYOUT_OUTPUT), default="v4", help="output layout (default v4)")
    parser.add_argument(
        "--dynamic",
        action="store_true",
        help="input height and width left open (any multiples of the largest stride); the grids are sized at run time",
    )
    args = parser.parse_args(argv)
    try:
        model = build_model(args.cfg, args.weights, args.names, args.layout, args.dynamic)
        save_model(model, args.out)
    except ConversionError as exc:
        print(f"darknet2onnx: error: {exc}", file=sys.stderr)
        return 1
    except onnx.checker.ValidationError as exc:
        print(f"darknet2onnx: error: generated model failed the ONNX checker: {exc}", file=sys.stderr)
        return 1
    out = model.graph.output[0]
    dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    print(f"wrote {args.out}: input {INPUT_NAME} -> {out.name} {dims}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
