"""Motion metrics: per-sequence feature extraction under a preset, and the stateful metric set.

Functional use::

    feats = extract_features(joints, fps=60, up_axis="y", preset=get_preset("bailando-aistpp"))

Stateful use (streaming over files; ``merge`` combines shards)::

    m = MotionMetrics(preset)
    m.update(feats, role="pred")      # or role="gt"
    scores = m.compute()              # {"fid_k": Score, ...}

State is the per-sequence feature vectors (≤ 75 + 32 floats each) plus per-sequence scores:
diversity needs every pair, so the feature matrix is the sufficient statistic; memory is bounded by
features, not frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from macedance.errors import MaceDanceError, ValidationError
from macedance.metrics.motion.beat_align import beat_align_score, motion_beats, motion_envelope
from macedance.metrics.motion.diversity import average_pairwise_distance
from macedance.metrics.motion.features2d import geometric_features_2d, kinetic_features_2d
from macedance.metrics.motion.frechet import frechet_distance, gaussian_stats
from macedance.metrics.motion.fsr import foot_skating
from macedance.metrics.motion.geometric import geometric_features_3d
from macedance.metrics.motion.kinetic import kinetic_features_3d
from macedance.metrics.motion.pfc import pfc_per_sequence
from macedance.metrics.motion.presets import MotionPreset
from macedance.metrics.score import Score
from macedance.motion.kinematics import convert_up_axis, resample_linear, resample_times

log = logging.getLogger(__name__)

ROLES = ("pred", "gt")


class SkipSequence(MaceDanceError):
    """A sequence cannot be evaluated under the preset (recorded as a skip with this reason)."""


@dataclass
class SequenceFeatures:
    """Everything the metrics need from one sequence."""

    name: str
    kinetic: np.ndarray
    geometric: np.ndarray
    pfc: float | None = None  # mean over the sequence's PFC windows
    pfc_windows: list[float] = field(default_factory=list)  # per-window values (EDGE averages clips)
    bas: float | None = None
    bas_reason: str | None = None
    motion_beats: np.ndarray | None = None
    fsr: tuple[float | None, float | None] | None = None  # (left, right) sliding ratios


def beat_indices(beat_times: np.ndarray, fps: float, rounding: str) -> np.ndarray:
    """Beat times (s) → sorted unique frame indices at ``fps``."""
    x = np.asarray(beat_times, dtype=np.float64) * fps
    idx = np.floor(x).astype(int) if rounding == "floor" else np.rint(x).astype(int)
    return np.unique(idx[idx >= 0])


def _sequence_bas(positions: np.ndarray, beat_times: np.ndarray | None, fps: float, preset: MotionPreset,
                  beat_fps: float, skip: int = 0) -> tuple[float | None, str | None, np.ndarray]:
    """BAS of one sequence; ``skip`` seed frames are dropped from both beat lists after detection."""
    env = motion_envelope(positions, preset.bas_envelope)
    smoothing = preset.bas_smoothing_frames
    if preset.bas_smoothing_seconds is not None:
        smoothing = preset.bas_smoothing_seconds * fps
    mb = motion_beats(env, smoothing, preset.bas_order)
    if beat_times is None:
        return None, "no music beats given for this sequence", mb
    music = beat_indices(beat_times, beat_fps, preset.beat_rounding)
    limit = {"envelope": len(env), "frames": positions.shape[0]}.get(preset.bas_music_limit)
    if limit is not None:
        music = music[music < limit]
    if skip:
        music, mb = music[music >= skip] - skip, mb[mb >= skip] - skip
    sigma = preset.bas_sigma_seconds * fps if preset.bas_sigma_seconds is not None else preset.bas_sigma_frames
    score = beat_align_score(music, mb, sigma=sigma, direction=preset.bas_direction, empty=preset.bas_empty)
    if score is None:
        what = "music beats" if len(music) == 0 else "motion beats"
        return None, f"no {what} inside the sequence", mb
    return score, None, mb


def extract_features(
    data: np.ndarray,
    fps: float,
    *,
    preset: MotionPreset,
    up_axis: str = "y",
    beat_times: np.ndarray | None = None,
    name: str = "",
    role: str = "pred",
) -> SequenceFeatures:
    """Features of one sequence under ``preset``.

    Args:
        data: (T, J, 3) joint positions in metres (3D presets) or (T, 25, 3) ``vitpose25`` keypoints
            (x, y, confidence) in pixels (2D presets).
        fps: frame rate of ``data``.
        preset: the metric preset.
        up_axis: up axis of 3D joints.
        beat_times: music beat times in seconds (for BAS), or None.
        name: for messages.
        role: ``"pred"`` or ``"gt"`` (the preset's seed frames apply to predictions only).

    Raises:
        SkipSequence: the sequence cannot be evaluated (too short, non-finite values …).
    """
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise SkipSequence(f"expected (T, J, 3) values, found shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        frames = np.unique(np.argwhere(bad)[:, 0])
        raise SkipSequence(f"{len(frames)} frame(s) with NaN/Inf values (first: frame {int(frames[0])})")
    if preset.representation == "keypoints2d":
        return _extract_2d(arr, fps, preset, beat_times, name, role)
    if arr.shape[1] < max(preset.joints, 22):
        raise SkipSequence(f"expected at least {max(preset.joints, 22)} SMPL joints, found {arr.shape[1]}")
    if preset.fps is not None and abs(fps - preset.fps) > 1e-9:
        arr = resample_linear(arr, resample_times(arr.shape[0], fps, preset.fps))
        fps = preset.fps
    skip = preset.seed_frames if role == "pred" else 0
    full = arr
    if skip:
        arr = arr[skip:]
    if preset.crop_frames is not None and role in preset.crop_sets:
        arr = arr[: preset.crop_frames]
    if arr.shape[0] < preset.min_frames:
        raise SkipSequence(f"{arr.shape[0]} frames, the preset needs at least {preset.min_frames}")
    arr = convert_up_axis(arr, up_axis, preset.up_axis)
    j = arr[:, : preset.joints].copy()
    if preset.zero_start:
        j = j - j[:1, :1]
    if preset.root_relative:
        j[:, 1:] = j[:, 1:] - j[:, :1]
    dtype = np.dtype(preset.feature_dtype).type
    frame_time = preset.frame_time or 1.0 / fps
    kinetic = kinetic_features_3d(j, frame_time=frame_time, up_axis=preset.up_axis, window=preset.kinetic_window, accel_bug=preset.accel_bug, dtype=dtype)
    geometric = geometric_features_3d(_pad24(j), tau=preset.tau or 1.0 / fps, up_axis=preset.up_axis, dtype=dtype)
    _check_features(kinetic, geometric, arr)
    pfc, windows = None, []
    if "pfc" in preset.metrics:
        windows = _pfc_windows(arr, fps, preset)
        pfc = float(np.mean(windows)) if windows else None
    uncropped = convert_up_axis(full, up_axis, preset.up_axis)
    bas_src = arr if preset.bas_uses_crop else uncropped
    bas_skip = skip if bas_src is uncropped else 0
    bas, reason, mb = _sequence_bas(bas_src[:, : preset.bas_joints], beat_times, fps, preset, fps,
                                    bas_skip)
    fsr = None
    if "fsr" in preset.metrics:
        src = convert_up_axis(arr if preset.fsr_uses_crop else uncropped, preset.up_axis, "y")
        fsr = foot_skating(src, fps, speed=preset.fsr_speed, threshold=preset.fsr_threshold)
    return SequenceFeatures(name, kinetic, geometric, pfc, windows, bas, reason, mb, fsr)


def _check_features(kinetic: np.ndarray, geometric: np.ndarray, values: np.ndarray) -> None:
    """Finite values can still give non-finite features (squares of 1e200 m overflow): such a sequence is skipped with
    the reason, never scored (its features would make every set score NaN)."""
    for what, f in (("kinetic", kinetic), ("geometric", geometric)):
        if not np.isfinite(f).all():
            raise SkipSequence(f"its {what} features overflow (values up to {float(np.abs(values).max()):.3g}): not a motion "
                               "in metres or pixels")


def _pfc_windows(arr: np.ndarray, fps: float, preset: MotionPreset) -> list[float]:
    """PFC of each window (the whole sequence without ``pfc_clip_frames``); undefined ones dropped."""
    T, n = arr.shape[0], preset.pfc_clip_frames
    starts = [0] if n is None or T <= n else list(range(0, T - n + 1, preset.pfc_clip_stride or n))
    clips = np.stack([arr[s : s + (n or T)] for s in starts])
    vals = pfc_per_sequence(clips, preset.pfc_dt or 1.0 / fps, up_axis=preset.up_axis, foot_speed=preset.pfc_foot_speed)
    return [float(v) for v in vals if not np.isnan(v)]


def _pad24(j: np.ndarray) -> np.ndarray:
    """Geometric features index SMPL joints up to 21 only; pad a 22-joint body with copies."""
    if j.shape[1] >= 24:
        return j
    return np.concatenate([j, j[:, 20:22]], axis=1)


def _extract_2d(arr: np.ndarray, fps: float, preset: MotionPreset, beat_times: np.ndarray | None,
                name: str, role: str) -> SequenceFeatures:
    if arr.shape[1] != 25:
        raise SkipSequence(f"preset {preset.name} needs 25 vitpose25 keypoints per frame, found {arr.shape[1]}")
    if arr.shape[0] < preset.min_frames:
        raise SkipSequence(f"{arr.shape[0]} frames, the preset needs at least {preset.min_frames}")
    if preset.crop_frames is not None and role in preset.crop_sets:
        arr = arr[: preset.crop_frames]
    if preset.keypoint_channels == "yx":
        arr = arr[..., [1, 0, 2]]
    frame_time = preset.frame_time or 1.0 / fps
    kinetic = kinetic_features_2d(arr, frame_time=frame_time, layout=preset.keypoint_layout, dtype=np.dtype(preset.feature_dtype).type)
    geometric = geometric_features_2d(arr, preset.keypoint_layout, preset.geometric_stubs)
    _check_features(kinetic, geometric, arr)
    beat_fps = preset.beat_fps or fps
    bas, reason, mb = _sequence_bas(arr[..., :2], beat_times, fps, preset, beat_fps)
    return SequenceFeatures(name, kinetic, geometric, None, [], bas, reason, mb)


# ----------------------------------------------------------------------------------------------------
# Set-level metrics
# ----------------------------------------------------------------------------------------------------
def normalize_features(gt: np.ndarray, pred: np.ndarray, preset: MotionPreset) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Normalise both feature sets as the preset says; also return the zero-spread GT dimensions."""
    if preset.normalize == "none":
        return gt, pred, []
    if preset.normalize == "per_set":
        import torch  # the official MACE code normalises torch float32 tensors

        def own(x: np.ndarray) -> np.ndarray:
            t = torch.from_numpy(np.ascontiguousarray(x))
            return ((t - t.mean(axis=0)) / (t.std(axis=0) + preset.norm_eps)).numpy()

        return own(gt), own(pred), []
    mean = gt.mean(axis=0)
    std = gt.std(axis=0, ddof=preset.norm_ddof)
    zero = [int(i) for i in np.flatnonzero(std <= 1e-12 * np.maximum(1.0, np.abs(mean)))]
    if preset.zero_spread == "unscaled" and zero:
        std = std.copy()
        std[zero] = 1.0
    return (gt - mean) / (std + preset.norm_eps), (pred - mean) / (std + preset.norm_eps), zero


def fid_score(pred: np.ndarray, gt: np.ndarray, preset: MotionPreset, what: str) -> Score:
    """Fréchet distance between normalised pred and GT feature sets."""
    if len(pred) < 2 or len(gt) < 2:
        return Score(None, f"needs at least 2 sequences per set, found {len(pred)} pred and {len(gt)} GT", 0)
    gt_n, pred_n, zero = normalize_features(gt, pred, preset)
    mu1, s1 = gaussian_stats(pred_n)
    mu2, s2 = gaussian_stats(gt_n)
    if not (np.isfinite(mu1).all() and np.isfinite(s1).all() and np.isfinite(mu2).all() and np.isfinite(s2).all()):
        return Score(None, "the normalised features have non-finite statistics (overflow)", len(pred))
    try:
        res = frechet_distance(mu1, s1, mu2, s2, eps=preset.fid_eps, imag_policy=preset.imag_policy)
    except MaceDanceError as exc:
        return Score(None, str(exc), len(pred))
    details: dict[str, Any] = {"eps_retry": res.eps_retry, "max_imag": res.max_imag, "n_gt": len(gt),
                               "singular_covariance": res.singular}
    if not np.isfinite(res.value):  # √(Σ1Σ2) not finite even after the ε retry, or non-finite features
        return Score(None, f"the Fréchet distance is not finite ({res.value}): √(Σ1Σ2) failed", len(pred), details)
    if zero:
        details["zero_spread_gt_dims"] = zero
        details["warning"] = (
            f"{what}: GT pool has zero spread in dimension(s) {zero}; "
            + ("legacy normalisation divides them by ε, so the value is dominated by them"
               if preset.zero_spread == "legacy" else "they were left unscaled")
        )
    return Score(res.value, None, len(pred), details)


def diversity_score(feats: np.ndarray, other_for_norm: np.ndarray, preset: MotionPreset, role: str) -> Score:
    """Mean pairwise distance of one set, normalised as for the FID (GT statistics or its own)."""
    if len(feats) < 2:
        return Score(None, f"needs at least 2 sequences, found {len(feats)}", len(feats))
    if role == "gt":
        gt_n, _, _ = normalize_features(feats, other_for_norm if len(other_for_norm) else feats, preset)
        x = gt_n
    else:
        _, x, _ = normalize_features(other_for_norm if len(other_for_norm) else feats, feats, preset)
    if preset.diversity_accumulate == "float32-triu":
        value = _triu_mean_float32(x)
    else:
        value = average_pairwise_distance(x, preset.diversity_accumulate)
    if not np.isfinite(value):  # features that overflow the accumulation dtype (float32 under the legacy presets)
        return Score(None, f"the mean pairwise distance is not finite ({value})", len(feats))
    return Score(value, None, len(feats))


def _triu_mean_float32(x: np.ndarray) -> float:
    """MACE's diversity: full (n, n) distance matrix in the features' dtype, sum of the upper triangle."""
    diff = x[:, None, :] - x[None, :, :]
    d = np.sqrt(np.sum(diff**2, axis=2))
    n = x.shape[0]
    return float(np.sum(np.triu(d, 1)) / ((n * (n - 1)) / 2))


class MotionMetrics:
    """FID_k/g, Div_k/g, BAS, PFC over streamed sequences; ``merge`` for sharded runs."""

    def __init__(self, preset: MotionPreset):
        self.preset = preset
        self.features: dict[str, list[SequenceFeatures]] = {r: [] for r in ROLES}
        self.skipped: list[dict[str, str]] = []

    def update(self, feats: SequenceFeatures, role: str) -> None:
        if role not in ROLES:
            raise ValidationError("role", "'pred' or 'gt'", repr(role))
        self.features[role].append(feats)

    def skip(self, name: str, role: str, reason: str) -> None:
        self.skipped.append({"file": name, "set": role, "reason": reason})

    def merge(self, other: "MotionMetrics") -> "MotionMetrics":
        if other.preset.hash != self.preset.hash:
            raise ValidationError("merge", f"preset {self.preset.name} ({self.preset.hash})",
                                  f"{other.preset.name} ({other.preset.hash})")
        for r in ROLES:
            self.features[r].extend(other.features[r])
        self.skipped.extend(other.skipped)
        return self

    def pool(self) -> tuple[dict[str, list[SequenceFeatures]], list[dict[str, str]]]:
        """The sequences the set metrics use, per role and sorted by name (results do not depend on the order of
        updates), and those left out with the reason: under ``pairing="stem"`` a sequence whose partner in the
        other set is missing (absent, or skipped as unreadable) drops out, as in MACE-Dance's script."""
        rows = {r: sorted(self.features[r], key=lambda f: f.name) for r in ROLES}
        if self.preset.pairing != "stem":
            return rows, []
        names = {r: {f.name for f in rows[r]} for r in ROLES}
        left_out = [{"name": f.name, "set": r, "reason": f"its {'ground truth' if r == 'pred' else 'prediction'} "
                     f"{f.name!r} is missing or could not be read (pairs are evaluated whole)"}
                    for r, other in (("pred", "gt"), ("gt", "pred")) for f in rows[r] if f.name not in names[other]]
        both = names["pred"] & names["gt"]
        return {r: [f for f in rows[r] if f.name in both] for r in ROLES}, left_out

    def compute(self) -> dict[str, Score]:
        p, out = self.preset, {}
        rows, _ = self.pool()

        def stack(role: str, attr: str) -> np.ndarray:
            return np.stack([getattr(f, attr) for f in rows[role]]) if rows[role] else np.zeros((0, 0))

        for kind, attr in (("k", "kinetic"), ("g", "geometric")):
            pred, gt = stack("pred", attr), stack("gt", attr)
            if f"fid_{kind}" in p.metrics:
                out[f"fid_{kind}"] = fid_score(pred, gt, p, f"FID_{kind}")
            if f"div_{kind}" in p.metrics:
                out[f"div_{kind}"] = diversity_score(pred, gt, p, "pred")
                out[f"div_{kind}_gt"] = diversity_score(gt, gt, p, "gt")
        for metric in ("bas", "pfc"):
            if metric not in p.metrics:
                continue
            for role in ROLES:
                key = metric if role == "pred" else f"{metric}_gt"
                vals = [getattr(f, metric) for f in rows[role]]
                ok = [v for v in vals if v is not None]
                undefined = {f.name: (f.bas_reason if metric == "bas" else "root never accelerates")
                             for f, v in zip(rows[role], vals, strict=True) if v is None}
                details = {"undefined": undefined} if undefined else {}
                if not ok:
                    why = sorted(set(undefined.values()))
                    hint = f" ({why[0]})" if len(why) == 1 else ""
                    out[key] = Score(None, f"no sequence with a defined {metric.upper()}{hint}", 0, details)
                    continue
                if metric == "pfc":  # mean over all clips (windows), as EDGE averages its clip files
                    value = float(np.mean([w for f in rows[role] for w in f.pfc_windows])) * p.pfc_scale
                else:
                    value = float(np.mean(ok))
                out[key] = Score(value, None, len(ok), details)
        if "fsr" in p.metrics:
            for role in ROLES:
                out["fsr" if role == "pred" else "fsr_gt"] = self._fsr(rows[role])
        return out

    def _fsr(self, rows: list[SequenceFeatures]) -> Score:
        sides: dict[str, list[float]] = {"left": [], "right": []}
        undefined: dict[str, str] = {}
        for f in rows:
            assert f.fsr is not None
            for side, v in zip(("left", "right"), f.fsr, strict=True):
                if v is None:
                    undefined[f"{f.name}:{side}"] = "no foot-contact frame"
                else:
                    sides[side].append(v)
        if not sides["left"] or not sides["right"]:
            return Score(None, "no sequence with foot-contact frames on both sides", 0, {"undefined": undefined})
        left, right = float(np.mean(sides["left"])), float(np.mean(sides["right"]))
        details: dict[str, Any] = {"left": left, "right": right}
        if undefined:
            details["undefined"] = undefined
        return Score((right + left) / 2, None, len(rows), details)
