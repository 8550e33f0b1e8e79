#!/usr/bin/env python3
"""Reference YOLO detector for the ONNX models written by tools/darknet2onnx.py.

Deliberately small and independent (onnxruntime + numpy + Pillow) so it can
serve as ground truth for other implementations.

Usage:
    python tools/reference_detect.py --model M.onnx IMAGE [--conf 0.25] [--iou 0.45]

Prints one JSON object per detection, highest confidence first:
    {"class": "dog", "class_id": 16, "confidence": 0.91, "box": [x1, y1, x2, y2]}
with the box in source-image pixels, clipped to the image.

Pipeline:
  * letterbox: scale = min(W / w, H / h), resized size = round(w * scale) x
    round(h * scale), bilinear resize with half-pixel centres and no
    antialiasing (OpenCV's INTER_LINEAR, what YOLO pipelines commonly use;
    Pillow's BILINEAR antialiases when shrinking), centered on a canvas filled with
    114 (so 114/255 after normalisation); left/top padding = floor(pad / 2).
    EXIF orientation is ignored (raw pixel order, like darknet).
  * both output layouts are accepted, told apart by shape:
      [1, N, 5 + C] (v4): score = obj * cls
      [1, 4 + C, N] (v8): score = cls (objectness already folded in)
  * each box keeps only its best class; boxes with score < conf are dropped;
    then greedy NMS per class (class-aware) at the given IoU.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

PAD_VALUE = 114


def letterbox(image: Image.Image, net_w: int, net_h: int) -> tuple[np.ndarray, float, int, int]:
    """Return the [1, 3, H, W] float32 blob, the scale and the left/top padding."""
    src_w, src_h = image.size
    scale = min(net_w / src_w, net_h / src_h)
    new_w, new_h = round(src_w * scale), round(src_h * scale)
    resized = bilinear(np.asarray(image.convert("RGB"), dtype=np.float64), new_w, new_h)
    left, top = (net_w - new_w) // 2, (net_h - new_h) // 2
    canvas = np.full((net_h, net_w, 3), PAD_VALUE, dtype=np.float32)
    canvas[top : top + new_h, left : left + new_w] = np.floor(resized + 0.5)
    blob = canvas.transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(blob), scale, left, top


def bilinear(pixels: np.ndarray, new_w: int, new_h: int) -> np.ndarray:
    """Resize an H x W x 3 array by bilinear interpolation, half-pixel centres, edges clamped."""

    def taps(src: int, dst: int):
        pos = np.maximum((np.arange(dst) + 0.5) * (src / dst) - 0.5, 0.0)
        i0 = np.minimum(np.floor(pos).astype(int), src - 1)
        i1 = np.minimum(i0 + 1, src - 1)
        return i0, i1, (pos - i0)

    y0, y1, wy = taps(pixels.shape[0], new_h)
    x0, x1, wx = taps(pixels.shape[1], new_w)
    wx = wx[None, :, None]
    top = pixels[y0][:, x0] * (1 - wx) + pixels[y0][:, x1] * wx
    bottom = pixels[y1][:, x0] * (1 - wx) + pixels[y1][:, x1] * wx
    return top * (1 - wy[:, None, None]) + bottom * wy[:, None, None]


def class_names(session: ort.InferenceSession) -> list[str] | None:
    """Class names from the Ultralytics-style `names` metadata, if present."""
    text = session.get_modelmeta().custom_metadata_map.get("names")
    if not text:
        return None
    mapping = ast.literal_eval(text)
    return [mapping[i] for i in sorted(mapping)]


def split_output(raw: np.ndarray, num_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Turn either layout into boxes [N, 4] (cx, cy, w, h) and scores [N, C]."""
    if raw.ndim != 3 or raw.shape[0] != 1:
        raise SystemExit(f"reference_detect: unexpected output shape {list(raw.shape)}")
    _, a, b = raw.shape
    if num_classes is not None:
        is_v8 = a == 4 + num_classes and b != 5 + num_classes
    else:
        is_v8 = a < b  # the attribute axis is always the short one
    if is_v8:
        rows = raw[0].T  # [N, 4 + C]
        return rows[:, :4], rows[:, 4:]
    rows = raw[0]  # [N, 5 + C]
    return rows[:, :4], rows[:, 5:] * rows[:, 4:5]


def iou_one_to_many(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> list[int]:
    """Greedy NMS; ties broken by index so the result is deterministic."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[best], boxes[rest]) <= iou_thr]
    return keep


def detect(model: str, image_path: str, conf: float, iou: float) -> list[dict]:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    net_h, net_w = int(inp.shape[2]), int(inp.shape[3])
    image = Image.open(image_path)
    blob, scale, left, top = letterbox(image, net_w, net_h)
    raw = session.run(None, {inp.name: blob})[0]
    return postprocess(raw, class_names(session), image.size, scale, (left, top), conf, iou)


def postprocess(raw, names, src_size, scale, pad, conf, iou) -> list[dict]:
    """Raw model output -> detections in source pixels, highest confidence first."""
    src_w, src_h = src_size
    left, top = pad
    boxes, scores = split_output(raw.astype(np.float64), len(names) if names else None)
    class_ids = scores.argmax(axis=1)
    best = scores[np.arange(len(scores)), class_ids]
    keep = best >= conf
    boxes, best, class_ids = boxes[keep], best[keep], class_ids[keep]

    # (cx, cy, w, h) in network pixels -> (x1, y1, x2, y2) in source pixels
    xyxy = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], axis=1)
    xyxy = (xyxy - [left, top, left, top]) / scale
    xyxy = np.clip(xyxy, 0, [src_w, src_h, src_w, src_h])

    detections = []
    for cls in np.unique(class_ids):
        idx = np.flatnonzero(class_ids == cls)
        for k in nms(xyxy[idx], best[idx], iou):
            i = idx[k]
            detections.append(
                {
                    "class": names[cls] if names else str(int(cls)),
                    "class_id": int(cls),
                    "confidence": round(float(best[i]), 5),
                    "box": [round(float(v), 2) for v in xyxy[i]],
                }
            )
    detections.sort(key=lambda d: (-d["confidence"], d["class_id"], d["box"]))
    return detections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a darknet2onnx YOLO model on one image.")
    parser.add_argument("--model", required=True, help="ONNX model from tools/darknet2onnx.py")
    parser.add_argument("image", help="input image")
    parser.add_argument("--conf", type=float, default=0.25, help="confidence threshold (default 0.25)")
    parser.add_argument("--iou", type=float, default=0.45, help="NMS IoU threshold (default 0.45)")
    args = parser.parse_args(argv)
    for det in detect(args.model, args.image, args.conf, args.iou):
        print(json.dumps(det))
    return 0


if __name__ == "__main__":
    sys.exit(main())
