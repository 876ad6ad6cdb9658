"""Face identity similarity between a reference image and generated frames, fully offline.

Detector: dlib's HOG frontal-face detector (built into dlib, upsampling once); the largest face is
aligned with dlib's 5-point landmarks and embedded by dlib's ResNet face descriptor (128-d), both
from the ``face_recognition_models`` package (see :mod:`macedance.weights`). Similarity = cosine of
the descriptors, averaged over the sampled frames in which a face is found. This is **not** the
ArcFace CSIM of StableAnimator; values are comparable only with this embedding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from macedance.errors import MissingDependencyError


@dataclass
class FaceEmbedder:
    upsample: int = 1

    def __post_init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise MissingDependencyError("face identity needs dlib: `pip install dlib-bin` (a binary wheel)") from None
        from macedance.weights import weights_file

        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(weights_file("dlib-shape-predictor-5")))
        self._net = dlib.face_recognition_model_v1(str(weights_file("dlib-face-recognition-v1")))

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB → unit (128,) descriptor of the largest face, or None without a face."""
        img = np.ascontiguousarray(image, dtype=np.uint8)
        faces = self._detector(img, self.upsample)
        if not faces:
            return None
        box = max(faces, key=lambda r: r.area())
        d = np.asarray(self._net.compute_face_descriptor(img, self._shape(img, box)), dtype=np.float64)
        return d / np.linalg.norm(d)


def identity_similarity(embedder: FaceEmbedder, reference: np.ndarray, frames: np.ndarray, max_frames: int = 16) -> dict[str, Any]:
    """Mean cosine similarity between the reference face and the faces of up to ``max_frames``
    evenly spaced frames; ``value`` None when either has no detectable face."""
    from macedance.video.io import sample_indices

    ref = embedder.embed(reference)
    idx = sample_indices(len(frames), max_frames)
    if ref is None:
        return {"value": None, "frames": len(idx), "faces": 0, "reason": "no face found in the reference image"}
    sims = [float(ref @ e) for e in (embedder.embed(frames[i]) for i in idx) if e is not None]
    return {"value": float(np.mean(sims)) if sims else None, "frames": len(idx), "faces": len(sims),
            "reason": None if sims else "no face found in the sampled frames"}  # fmt: skip
