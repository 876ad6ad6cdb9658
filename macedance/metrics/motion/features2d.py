"""2D keypoint motion features of the MACE-Dance video evaluation (25 keypoints → 75 + 32 dims).

Definitions follow the official ``Evaluation-Motion`` code (AMAP-ML/MACE-Dance @8f92d12,
``features/kinetic_2d.py`` and ``features/geometric_2d.py``), vectorised:

Kinetic (75 = 25 × [h, v, e]):
1. P = keypoints[..., :2] minus the per-frame "root" = mid-point of two hip keypoints.
2. V = ΔP / frame_time, front edge-padded to T frames; smoothed per channel with a 5-tap box
   filter (zero padding, ``mode='same'``).
3. h = mean_t (smoothed channel 0)², v = mean_t (smoothed channel 1)².
4. A = Δ(smoothed V) / frame_time, front edge-padded, smoothed; e = mean_t ‖A_t‖.

Geometric (32 booleans averaged over frames 1..T−1) on a 24-joint SMPL-named skeleton built from
the keypoints (root = belly = spine = mid-hips, chest = neck = mid-shoulders, head = nose, hands =
wrists, toes = big toes); scale hl = sw = shoulder distance in frame 0 (+1e-6). ``move``, ``nmove``
and ``fast`` all mean "this joint moved more than the threshold (pixels per frame)"; ``angle`` uses
unit vectors ``v/(‖v‖+1e-6)``, a clipped arccos and an inclusive range; ``plane`` and ``nplane`` are
always 0 in the official code (11 of the 32 dimensions), and 3 pairs of dimensions are duplicates.

Joint layout: the official code indexes the keypoints as COCO-17 order followed by head_top and
neck, but easy_ViTPose emits its "coco_25" order (neck at 5, mid-hip at 14). ``layout="legacy"``
reproduces the official indexing on real coco_25 data (so "left shoulder" is the neck, "hips" are the
right wrist and left hip, …); ``layout="coco25"`` uses the joints the names mean.
"""

from __future__ import annotations

import numpy as np

from macedance.errors import ValidationError

# Indices the official code assumes (COCO-17 + head_top + neck_viz + feet).
_LEGACY = {"nose": 0, "left_shoulder": 5, "right_shoulder": 6, "left_elbow": 7, "right_elbow": 8, "left_wrist": 9,
           "right_wrist": 10, "left_hip": 11, "right_hip": 12, "left_knee": 13, "right_knee": 14, "left_ankle": 15,
           "right_ankle": 16, "left_big_toe": 19, "right_big_toe": 22}
# The real easy_ViTPose coco_25 indices (macedance's ``vitpose25`` skeleton).
_COCO25 = {"nose": 0, "left_shoulder": 6, "right_shoulder": 7, "left_elbow": 8, "right_elbow": 9, "left_wrist": 10,
           "right_wrist": 11, "left_hip": 12, "right_hip": 13, "left_knee": 15, "right_knee": 16, "left_ankle": 17,
           "right_ankle": 18, "left_big_toe": 19, "right_big_toe": 22}
LAYOUTS = {"legacy": _LEGACY, "coco25": _COCO25}


def _check(keypoints: np.ndarray) -> np.ndarray:
    k = np.asarray(keypoints, dtype=np.float64)
    if k.ndim == 3:
        k = k[None]
    if k.ndim != 4 or k.shape[2] != 25 or k.shape[3] < 2:
        raise ValidationError("keypoints", "shape (T, 25, 2|3) or (B, T, 25, 2|3)", f"shape {np.shape(keypoints)}")
    if k.shape[1] < 3:
        raise ValidationError("keypoints", "at least 3 frames", f"{k.shape[1]} frames")
    return k


def _box5(x: np.ndarray) -> np.ndarray:
    """Centred 5-tap mean along axis 1 with zero padding (``convolve(x, ones(5)/5, 'same')``)."""
    kernel = 1.0 / 5.0
    T = x.shape[1]
    pad = np.zeros_like(x[:, :2])
    xp = np.concatenate([pad, x, pad], axis=1)
    return sum(xp[:, k : k + T] * kernel for k in range(5))


def kinetic_features_2d(
    keypoints: np.ndarray, *, frame_time: float = 1.0 / 30, layout: str = "legacy", dtype: type = np.float32
) -> np.ndarray:
    """75-d kinetic features of (B, T, 25, ≥2) keypoints (channels as given: the official data are (y, x))."""
    k = _check(keypoints)
    idx = LAYOUTS[layout]
    P = k[..., :2]
    root = (P[:, :, idx["left_hip"] : idx["left_hip"] + 1] + P[:, :, idx["right_hip"] : idx["right_hip"] + 1]) / 2.0
    P = P - root
    V = (P[:, 1:] - P[:, :-1]) / frame_time
    V = np.concatenate([V[:, :1], V], axis=1)
    Vs = _box5(V)
    h = np.mean(Vs[..., 0] ** 2, axis=1)
    v = np.mean(Vs[..., 1] ** 2, axis=1)
    A = (Vs[:, 1:] - Vs[:, :-1]) / frame_time
    A = _box5(np.concatenate([A[:, :1], A], axis=1))
    e = np.mean(np.sqrt((A**2).sum(-1)), axis=1)
    out = np.stack([h, v, e], axis=-1).reshape(k.shape[0], -1).astype(dtype)
    return out[0] if np.ndim(keypoints) == 3 else out


def geometric_features_2d(keypoints: np.ndarray, layout: str = "legacy", stubs: bool = True) -> np.ndarray:
    """32-d geometric features (float32) of (B, T, 25, ≥2) keypoints; see the module docstring.

    ``stubs=True`` keeps the official always-zero plane features; with ``False`` the 11 stub and 3
    duplicate dimensions are dropped (18 dims).
    """
    k = _check(keypoints)
    idx = LAYOUTS[layout]
    P = k[..., :2].astype(np.float32)  # the official code stores the skeleton in float32
    j = {n: P[:, :, i] for n, i in idx.items()}
    root = (j["left_hip"] + j["right_hip"]) / np.float32(2.0)
    chest = (j["left_shoulder"] + j["right_shoulder"]) / np.float32(2.0)
    sk = {"root": root, "belly": root, "spine": root, "chest": chest, "neck": chest, "lhip": j["left_hip"],
          "rhip": j["right_hip"], "lknee": j["left_knee"], "rknee": j["right_knee"], "lankle": j["left_ankle"],
          "rankle": j["right_ankle"], "lshoulder": j["left_shoulder"], "rshoulder": j["right_shoulder"],
          "lelbow": j["left_elbow"], "relbow": j["right_elbow"], "lwrist": j["left_wrist"], "rwrist": j["right_wrist"]}
    d0 = sk["lshoulder"][:, 0] - sk["rshoulder"][:, 0]
    sw = np.sqrt((d0 * d0).sum(-1)) + np.float32(1e-6)  # (B,) float32, frame 0
    hl = sw[:, None]

    def moved(name: str, factor: float) -> np.ndarray:
        d = sk[name][:, 1:] - sk[name][:, :-1]
        return np.sqrt((d * d).sum(-1)) > (np.float32(factor) * hl)

    def unit(v: np.ndarray) -> np.ndarray:
        return v / (np.sqrt((v * v).sum(-1, keepdims=True)) + np.float32(1e-6))

    def angle(a: str, b: str, c: str, d: str, lo: float, hi: float) -> np.ndarray:
        u = unit(sk[b][:, 1:] - sk[a][:, 1:])
        w = unit(sk[d][:, 1:] - sk[c][:, 1:])
        deg = np.degrees(np.arccos(np.clip((u * w).sum(-1), -1.0, 1.0)))
        return (deg >= lo) & (deg <= hi)

    def angle_up(lo: float, hi: float) -> np.ndarray:  # angle(neck, root, zero, y_unit): unit (0, 1) in float64
        u = unit(sk["root"][:, 1:] - sk["neck"][:, 1:]).astype(np.float64)
        w = np.array([0.0, 1.0]) / (1.0 + 1e-6)
        deg = np.degrees(np.arccos(np.clip((u * w).sum(-1), -1.0, 1.0)))
        return (deg >= lo) & (deg <= hi)

    zero = np.zeros(P.shape[:2], dtype=bool)[:, 1:]
    feats = [
        moved("neck", 1.8), moved("neck", 1.8), zero, zero, moved("belly", 1.8), moved("belly", 1.8),
        angle("relbow", "rshoulder", "relbow", "rwrist", 0, 110), angle("lelbow", "lshoulder", "lelbow", "lwrist", 0, 110),
        zero, moved("lwrist", 1.4), moved("rwrist", 1.4), moved("lwrist", 1.4), moved("rwrist", 2.5), moved("lwrist", 2.5),
        zero, zero, zero, zero, zero,
        angle("rknee", "rhip", "rknee", "rankle", 0, 110), angle("lknee", "lhip", "lknee", "lankle", 0, 110),
        moved("rankle", 2.5), moved("lankle", 2.5),
        angle("neck", "root", "rshoulder", "relbow", 25, 180), angle("neck", "root", "lshoulder", "lelbow", 25, 180),
        angle("neck", "root", "rhip", "rknee", 50, 180), angle("neck", "root", "lhip", "lknee", 50, 180),
        zero, angle_up(70, 110), zero, zero, moved("root", 2.3),
    ]
    flags = np.stack(feats, -1)  # (B, T−1, 32)
    out = np.stack([f.astype(np.float32).mean(axis=0) for f in flags])
    if not stubs:
        out = out[:, [i for i in range(32) if i not in STUB_DIMS + DUPLICATE_DIMS]]
    return out[0] if np.ndim(keypoints) == 3 else out


STUB_DIMS = [2, 3, 8, 14, 15, 16, 17, 18, 27, 29, 30]
DUPLICATE_DIMS = [1, 5, 11]
