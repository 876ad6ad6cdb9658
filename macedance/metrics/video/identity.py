"""Face identity similarity between a reference image and generated frames, fully offline.

Detector: dlib's HOG frontal-face detector (built into dlib, upsampling once); the largest face is
aligned with dlib's 5-point landmarks and embedded by dlib's ResNet face descriptor (128-d), both
from the ``face_recognition_models`` package (entries declared here, :data:`WEIGHTS`). Similarity = cosine of
the descriptors, averaged over the sampled frames in which a face is found. This is **not** the
ArcFace CSIM of StableAnimator; values are comparable only with this embedding.

:class:`ArcFaceEmbedder` (metric ``identity-arcface``): the same detector and landmarks, the face
aligned to the standard 112×112 ArcFace template (similarity transform from the two eye centres and
the nose — dlib's 5-point model has no mouth corners, so this approximates InsightFace's 5-point
alignment), RGB scaled to [−1, 1] ((x − 127.5) / 127.5), embedded by a user-imported ArcFace ONNX model
(``macedance weights import arcface-onnx FILE``, e.g. InsightFace's ``w600k_r50.onnx``; run by
onnxruntime). Similarity = cosine of the L2-normalised embeddings.

The metrics ``identity`` and ``identity-arcface`` (:data:`METRICS`) score each generated video against the
reference image (or video: first frame) of the same stem; per-video results are cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError, MissingDependencyError
from macedance.fileio import sha256_file
from macedance.io.video import VIDEO_SUFFIXES, read_video, sample_frames
from macedance.metrics.score import Score
from macedance.metrics.video.metric import VideoInputs, VideoMetric
from macedance.metrics.video.per_video import cached_result
from macedance.weights import WeightSpec, load_weights, manifest, register_weights, weights_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class FaceEmbedder:
    upsample: int = 1

    def __post_init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise MissingDependencyError("face identity needs dlib: `pip install dlib-bin` (a binary wheel)") from None
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(weights_file("dlib-shape-predictor-5")))
        self._net = dlib.face_recognition_model_v1(str(weights_file("dlib-face-recognition-v1")))

    def largest_face(self, image: np.ndarray) -> tuple[np.ndarray, Any] | None:
        """The image as contiguous uint8 and dlib's 5 landmarks of its largest face, or None without a face."""
        img = np.ascontiguousarray(image, dtype=np.uint8)
        faces = self._detector(img, self.upsample)
        if not faces:
            return None
        return img, self._shape(img, max(faces, key=lambda r: r.area()))

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB → unit (128,) descriptor of the largest face, or None without a face."""
        if (face := self.largest_face(image)) is None:
            return None
        d = np.asarray(self._net.compute_face_descriptor(*face), dtype=np.float64)
        return d / np.linalg.norm(d)


# InsightFace's arcface_dst: eye centres (image left, image right), nose tip, mouth corners, in 112×112 px.
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]])


def align_arcface(image: np.ndarray, landmarks5: np.ndarray, size: int = 112) -> np.ndarray:
    """(size, size, 3) face crop: ``landmarks5`` — dlib's 5 points (two corners of each eye, nose base),
    (5, 2) px — mapped by a least-squares similarity onto the ArcFace template's eyes and nose."""
    import cv2

    M = arcface_transform(landmarks5, size)
    return cv2.warpAffine(np.ascontiguousarray(image), M, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)


def arcface_transform(landmarks5: np.ndarray, size: int = 112) -> np.ndarray:
    """The 2×3 similarity of :func:`align_arcface` (image px → crop px)."""
    pts = np.asarray(landmarks5, dtype=np.float64)
    eyes = sorted((pts[0:2].mean(0), pts[2:4].mean(0)), key=lambda p: p[0])  # image-left eye first
    src = np.array([eyes[0], eyes[1], pts[4]])
    return _similarity(src, ARCFACE_TEMPLATE[:3] * (size / 112.0))


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2×3 least-squares similarity transform (Umeyama, no reflection) mapping src → dst points."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    U, S, Vt = np.linalg.svd(cov)
    D = np.diag([1.0, np.sign(np.linalg.det(U @ Vt))])
    R = U @ D @ Vt
    scale = np.trace(np.diag(S) @ D) / s.var(0).sum()
    return np.hstack([scale * R, (mu_d - scale * R @ mu_s)[:, None]])


class ArcFaceEmbedder(FaceEmbedder):
    """dlib detection + 5 landmarks, ArcFace alignment, a user-imported ArcFace ONNX embedding."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._session = load_arcface_session()
        self._input = self._session.get_inputs()[0].name

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB → unit ArcFace embedding of the largest face, or None without a face."""
        if (face := self.largest_face(image)) is None:
            return None
        img, shape = face
        pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], dtype=np.float64)
        crop = align_arcface(img, pts).astype(np.float32)
        x = ((crop - 127.5) / 127.5).transpose(2, 0, 1)[None]
        e = np.asarray(self._session.run(None, {self._input: x})[0], dtype=np.float64).reshape(-1)
        return e / np.linalg.norm(e)


def load_arcface_session() -> Any:
    """onnxruntime session of the imported ``arcface-onnx`` weights."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("identity-arcface needs onnxruntime: pip install 'macedance[arcface]'") from None
    model = bytes(load_weights("arcface-onnx")["onnx"].numpy().tobytes())
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"])


def identity_similarity(embedder: FaceEmbedder, reference: np.ndarray, frames: np.ndarray, *, max_frames: int = 16) -> dict[str, Any]:
    """Mean cosine similarity between the reference face and the faces of up to ``max_frames``
    evenly spaced frames; ``value`` None when either has no detectable face."""
    from macedance.io.video import sample_indices

    ref = embedder.embed(reference)
    idx = sample_indices(len(frames), max_frames)
    if ref is None:
        return {"value": None, "frames": len(idx), "faces": 0, "reason": "no face found in the reference image"}
    sims = [float(ref @ e) for e in (embedder.embed(frames[i]) for i in idx) if e is not None]
    return {"value": float(np.mean(sims)) if sims else None, "frames": len(idx), "faces": len(sims),
            "reason": None if sims else "no face found in the sampled frames"}


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise DataFormatError(f"{path}: not a readable image ({exc})") from None


def _arcface_label() -> str:
    m = manifest("arcface-onnx")
    return (f"ArcFace ONNX {Path(m['source']).name} (sha256 {m['source_sha256'][:16]}…; cosine), aligned on dlib's eyes and nose "
            "to the ArcFace 112×112 template")


def score_identity(metric: str, inputs: VideoInputs) -> dict[str, Score]:
    """Face identity similarity of each generated video to its reference image (same stem): ``identity``
    (dlib descriptor) or ``identity-arcface``."""
    arcface = metric == "identity-arcface"
    ref_dir = inputs.ref
    assert ref_dir is not None  # checked by evaluate_videos
    if not ref_dir.is_dir():
        raise InputNotFoundError(f"{ref_dir}: `ref` folder not found")
    refs = {p.stem: p for p in sorted(ref_dir.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES}
    embedder = ArcFaceEmbedder() if arcface else FaceEmbedder()
    label = _arcface_label() if arcface else "dlib ResNet face descriptor v1 (cosine; not ArcFace CSIM)"
    per: dict[str, Any] = {}
    for i, (stem, path) in enumerate(inputs.pred.items()):
        if inputs.progress:
            inputs.progress(i, len(inputs.pred), f"identity {stem}")
        if stem not in refs:
            per[stem] = {"value": None, "reason": "no reference image with this stem"}
            continue
        r = refs[stem]

        def compute(r: Path = r, path: Path = path) -> dict[str, Any]:
            image = _read_image(r) if r.suffix.lower() in IMAGE_SUFFIXES else read_video(r, 1)[0][0]
            return identity_similarity(embedder, image, sample_frames(path, 16))

        try:
            per[stem] = cached_result("video-identity", (label, sha256_file(r), sha256_file(path)), compute)
        except MaceDanceError as exc:
            inputs.skipped.append({"video": f"pred/{stem}", "reason": str(exc)})
    vals = [v["value"] for v in per.values() if v["value"] is not None]
    return {metric: Score(float(np.mean(vals)) if vals else None,
                          None if vals else "no video with a face in both the reference and its frames", len(vals),
                          {"embedding": label, "detector": "dlib HOG frontal face, upsample 1, largest face", "frames": "≤ 16 evenly spaced",
                           "per_video": per})}


def _convert_arcface_onnx(raw: bytes, source: str) -> dict[str, Any]:
    """An ArcFace ONNX model (e.g. InsightFace's ``w600k_r50.onnx``): checked to take (N, 3, 112, 112) and
    return (N, 512) on a probe face, stored byte for byte."""
    import torch

    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("importing an ONNX model needs onnxruntime: pip install 'macedance[arcface]'") from None
    try:
        sess = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        out = sess.run(None, {inp.name: np.zeros((1, 3, 112, 112), np.float32)})[0]
    except Exception as exc:
        raise DataFormatError(f"{source}: not a usable ONNX model ({type(exc).__name__}: {exc})") from None
    if list(inp.shape[1:]) != [3, 112, 112] or np.shape(out) != (1, 512):
        raise DataFormatError(f"{source}: expected an ArcFace model (N, 3, 112, 112) → (N, 512), found input "
                              f"{inp.shape} and output {np.shape(out)}")
    return {"onnx": torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy())}


WEIGHTS = register_weights(
    WeightSpec("dlib-face-recognition-v1", "dlib ResNet face descriptor (128-d; LFW 99.38 %), for face identity",
               "CC0-1.0 (face_recognition_models package; Davis King's dlib models)", "dlib-models via the "
               "face_recognition_models 0.3.0 package", "face-recognition-models==0.3.0", "face_recognition_models",
               "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
               "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", None),
    WeightSpec("dlib-shape-predictor-5", "dlib 5-point face landmarks (face alignment for the descriptor)",
               "CC0-1.0 (face_recognition_models package; Davis King's dlib models)", "dlib-models via the "
               "face_recognition_models 0.3.0 package", "face-recognition-models==0.3.0", "face_recognition_models",
               "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
               "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", None),
    WeightSpec("arcface-onnx", "ArcFace face embedding (ONNX, 112×112 aligned face → 512-d), for identity-arcface",
               "user's choice (InsightFace's model zoo: non-commercial research only)", "an InsightFace model-zoo ArcFace "
               "ONNX, e.g. buffalo_l/w600k_r50.onnx (user-supplied; no registry package ships it)", "", "",
               "w600k_r50.onnx", None, _convert_arcface_onnx),
)
_DLIB = ("dlib-shape-predictor-5", "dlib-face-recognition-v1")
METRICS = (
    VideoMetric("identity", "identity", ("videos", "ref"), _DLIB, partial(score_identity, "identity")),
    VideoMetric("identity-arcface", "identity", ("videos", "ref"), (*_DLIB, "arcface-onnx"), partial(score_identity, "identity-arcface")),
)
