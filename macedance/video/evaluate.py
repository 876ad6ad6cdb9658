"""``macedance eval video``: FVD and frame FID over sets; SSIM, PSNR, L1, LPIPS over pairs matched by file stem.

Policy for mismatched pairs (recorded in the result): frame metrics use the first
min(T_pred, T_gt) frames; a generated video of another resolution is resized to the ground truth's
(bilinear). FVD features are cached per video by content hash + extractor + preset.
"""

from __future__ import annotations

import datetime as _dt
import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from macedance import __version__
from macedance.cache import NpzCache, cache_key
from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError, ValidationError
from macedance.fileio import sha256_file
from macedance.video import frame_metrics
from macedance.video.io import VIDEO_SUFFIXES, iter_frames, read_video, sample_frames

METRICS = ("fvd", "fid", "fid-vid", "temporal-flickering", "identity", "identity-arcface", "motion-2d", "ssim", "psnr", "l1", "lpips", "lpips-alex",
           "lpips-vgg")  # fmt: skip
SET_METRICS = ("fvd", "fid", "fid-vid", "temporal-flickering", "identity", "identity-arcface", "motion-2d")  # not paired by stem
DEFAULT_METRICS = ("fvd", "ssim", "psnr", "l1", "lpips")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
LPIPS_NET = {"clean": "alex", "disco-legacy": "vgg"}  # net used by plain ``lpips`` under each preset
PRESETS = ("clean", "disco-legacy")


def _videos(d: Path, role: str) -> dict[str, Path]:
    if not d.is_dir():
        raise InputNotFoundError(f"{d}: --{role} folder not found")
    files = {p.stem: p for p in sorted(d.rglob("*")) if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()}
    if not files:
        raise InputNotFoundError(f"{d}: no videos ({', '.join(VIDEO_SUFFIXES)}) in the --{role} folder")
    return files


def _resize(frames: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    x = torch.as_tensor(frames).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False).clamp(0, 255).round()
    return x.permute(0, 2, 3, 1).to(torch.uint8).numpy()


def _chunks(path: Path, size: int) -> Iterator[np.ndarray]:
    """(≤ size, H, W, 3) uint8 chunks of a video, decoded as a stream."""
    buf: list[np.ndarray] = []
    for frame in iter_frames(path):
        buf.append(frame)
        if len(buf) == size:
            yield np.stack(buf)
            buf = []
    if buf:
        yield np.stack(buf)


def _pair_scores(pred: Path, gt: Path, keys: list[str], preset: str, nets: dict[str, str], models: dict[str, Any],
                 device: str, chunk: int = 32) -> tuple[dict[str, float | None], bool, bool]:  # fmt: skip
    """Paired frame metrics of one video pair, streamed in chunks: (values, truncated, resized).

    Per-frame means are accumulated frame-weighted; clean PSNR from the MSE of the whole video."""
    from macedance.video.lpips import lpips_video

    sums = dict.fromkeys(keys, 0.0)
    n, resized = 0, False
    it_p, it_g = _chunks(pred, chunk), _chunks(gt, chunk)
    rest_p: np.ndarray | None = None
    rest_g: np.ndarray | None = None
    while True:
        p = rest_p if rest_p is not None and len(rest_p) else next(it_p, None)
        g = rest_g if rest_g is not None and len(rest_g) else next(it_g, None)
        if p is None or g is None:
            truncated = (p is not None and len(p) > 0) or (g is not None and len(g) > 0)
            break
        k = min(len(p), len(g))
        p, rest_p, g, rest_g = p[:k], p[k:], g[:k], g[k:]
        if p.shape[1:3] != g.shape[1:3]:
            p, resized = _resize(p, g.shape[1:3]), True
        for m in keys:
            if m == "ssim":
                v = frame_metrics.ssim(p, g, preset)
            elif m == "psnr":
                v = frame_metrics.psnr(p, g, preset) if preset == "disco-legacy" else frame_metrics.mse(p, g)
            elif m in nets:
                v = lpips_video(models[nets[m]], p, g, preset, device=device)
            else:
                v = frame_metrics.l1(p, g)
            sums[m] += k * v
        n += k
    if n == 0:
        raise MaceDanceError(f"{pred} or {gt}: a video has no frames")
    out: dict[str, float | None] = {m: sums[m] / n for m in keys}
    if "psnr" in out and preset != "disco-legacy":
        out["psnr"] = frame_metrics.psnr_from_mse(out["psnr"])  # accumulated as the video's MSE
    return out, truncated, resized


def _set_features(P: dict[str, Path], G: dict[str, Path], label: str, key_parts: tuple[str, ...],
                  extract: Callable[[Path], np.ndarray], skipped: list[dict[str, str]],
                  progress: Callable[[int, int, str], None] | None) -> dict[str, list[np.ndarray]]:  # fmt: skip
    """Per-video features of the generated and the ground-truth set, cached by the video's content
    hash + ``key_parts`` (extractor, weights sha256, preset); unreadable videos are recorded and skipped."""
    cache = NpzCache("video-features")
    feats: dict[str, list[np.ndarray]] = {}
    for role, files in (("pred", P), ("gt", G)):
        rows = []
        for i, (stem, path) in enumerate(files.items()):
            if progress:
                progress(i, len(files), f"{label} {role} {stem}")
            key = cache_key(*key_parts, sha256_file(path))
            hit = cache.get(key)
            if hit is None:
                try:
                    hit = {"features": extract(path)}
                except MaceDanceError as exc:
                    skipped.append({"video": f"{role}/{stem}", "reason": str(exc)})
                    continue
                cache.put(key, hit)
            rows.append(hit["features"])
        feats[role] = rows
    return feats


def _frechet_score(pred: np.ndarray, gt: np.ndarray, unit: str, info: dict[str, Any]) -> dict[str, Any]:
    """Fréchet distance of two feature sets (ε 1e-6 retry), undefined with fewer than 2 rows per set."""
    from macedance.evaluators.frechet import frechet_distance, gaussian_stats

    if len(pred) < 2 or len(gt) < 2:
        return {"value": None, "n": len(pred), "undefined_reason": f"needs ≥ 2 {unit} per set ({len(pred)}, {len(gt)})",
                "details": info}  # fmt: skip
    res = frechet_distance(*gaussian_stats(pred), *gaussian_stats(gt), eps=1e-6)
    return {"value": res.value, "n": len(pred), "undefined_reason": None,
            "details": info | {"eps_retry": res.eps_retry, "singular": res.singular}}  # fmt: skip


def _weights(name: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """State dict, sha256 and manifest summary of installed weights (for the cache key and the record)."""
    from macedance.weights import load_weights, manifest, weights_file

    state = load_weights(name)
    sha = sha256_file(weights_file(name))
    return state, sha, {"weights": name, "weights_sha256": sha, "weights_verification": manifest(name).get("verification")}


@torch.no_grad()
def _frame_fid(P: dict[str, Path], G: dict[str, Path], device: str, skipped: list[dict[str, str]],
               progress: Callable[[int, int, str], None] | None, batch: int = 32) -> dict[str, Any]:  # fmt: skip
    """FID over all frames of the generated vs the ground-truth videos (pytorch-fid's network and
    preprocessing: [0, 1] frames, bilinear resize to 299, pool3 features; float64 statistics)."""
    from macedance.video.inception import FIDInception

    state, sha, info = _weights("inception-fid")
    model = FIDInception()
    model.load_fid_state_dict(state)
    model = model.eval().to(device)

    def extract(path: Path) -> np.ndarray:
        out = [model(torch.as_tensor(c, device=device).permute(0, 3, 1, 2).float() / 255.0).cpu() for c in _chunks(path, batch)]
        if not out:
            raise MaceDanceError(f"{path}: the video has no frames")
        return torch.cat(out).numpy().astype(np.float32)

    feats = _set_features(P, G, "Inception", ("inception-fid", sha, "all-frames"), extract, skipped, progress)
    pred, gt = (np.concatenate(feats[r]).astype(np.float64) if feats[r] else np.zeros((0, 2048)) for r in ("pred", "gt"))
    return _frechet_score(pred, gt, "frames", info | {"frames_pred": len(pred), "frames_gt": len(gt)})


def _fid_vid(P: dict[str, Path], G: dict[str, Path], device: str, skipped: list[dict[str, str]],
             progress: Callable[[int, int, str], None] | None) -> dict[str, Any]:  # fmt: skip
    """DisCo's FID-VID ("FVD-3DRN50"): Fréchet distance of per-video 3D-ResNet-50 features."""
    from macedance.video.resnet3d import ResNet3D50, video_features

    state, sha, info = _weights("resnet3d-50-kinetics")
    model = ResNet3D50()
    model.load_state_dict(state)
    model = model.eval().to(device)

    def extract(path: Path) -> np.ndarray:  # streamed 16-frame segments (the last padded), averaged
        segments = [video_features(model, c, device=device) for c in _chunks(path, 16)]
        if not segments:
            raise MaceDanceError(f"{path}: the video has no frames")
        return np.mean(segments, axis=0, dtype=np.float32)

    feats = _set_features(P, G, "3D-ResNet", ("resnet3d-50", sha, "disco-16"), extract, skipped, progress)
    # float32 rows: the means in float32, as DisCo
    pred, gt = (np.stack(feats[r]).astype(np.float32) if feats[r] else np.zeros((0, 2048), np.float32) for r in ("pred", "gt"))
    return _frechet_score(pred, gt, "videos", info | {"segments": "16 frames, last padded with the final frame; mean per video"})


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise DataFormatError(f"{path}: not a readable image ({exc})") from None


def _identity(P: dict[str, Path], ref_dir: Path, skipped: list[dict[str, str]],
              progress: Callable[[int, int, str], None] | None, arcface: bool = False) -> dict[str, Any]:  # fmt: skip
    """Face identity similarity of each generated video to its reference image (same stem)."""
    from macedance.video.identity import ArcFaceEmbedder, FaceEmbedder, identity_similarity

    if not ref_dir.is_dir():
        raise InputNotFoundError(f"{ref_dir}: --ref folder not found")
    refs = {p.stem: p for p in sorted(ref_dir.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES}
    embedder = ArcFaceEmbedder() if arcface else FaceEmbedder()
    per: dict[str, Any] = {}
    for i, (stem, path) in enumerate(P.items()):
        if progress:
            progress(i, len(P), f"identity {stem}")
        if stem not in refs:
            per[stem] = {"value": None, "reason": "no reference image with this stem"}
            continue
        try:
            r = refs[stem]
            image = _read_image(r) if r.suffix.lower() in IMAGE_SUFFIXES else read_video(r, 1)[0][0]
            frames = sample_frames(path, 16)
        except MaceDanceError as exc:
            skipped.append({"video": f"pred/{stem}", "reason": str(exc)})
            continue
        per[stem] = identity_similarity(embedder, image, frames)
    vals = [v["value"] for v in per.values() if v["value"] is not None]
    return {"value": float(np.mean(vals)) if vals else None, "n": len(vals),
            "undefined_reason": None if vals else "no video with a face in both the reference and its frames",
            "details": {"embedding": _arcface_label() if arcface else "dlib ResNet face descriptor v1 (cosine; not ArcFace CSIM)",
                        "detector": "dlib HOG frontal face, upsample 1, largest face", "frames": "≤ 16 evenly spaced",
                        "per_video": per}}  # fmt: skip


def _arcface_label() -> str:
    from macedance.weights import manifest

    m = manifest("arcface-onnx")
    return (f"ArcFace ONNX {Path(m['source']).name} (sha256 {m['source_sha256'][:16]}…; cosine), aligned on dlib's eyes and nose "
            "to the ArcFace 112×112 template")  # fmt: skip


def _flickering(P: dict[str, Path], skipped: list[dict[str, str]],
                progress: Callable[[int, int, str], None] | None) -> dict[str, Any]:  # fmt: skip
    """VBench temporal flickering of every generated video (no reference needed), averaged."""
    per: dict[str, float] = {}
    for i, (stem, path) in enumerate(P.items()):
        if progress:
            progress(i, len(P), f"flickering {stem}")
        try:
            v = frame_metrics.temporal_flickering(read_video(path)[0])
        except MaceDanceError as exc:
            skipped.append({"video": f"pred/{stem}", "reason": str(exc)})
            continue
        if v is not None:
            per[stem] = v
    return {"value": float(np.mean(list(per.values()))) if per else None, "n": len(per),
            "undefined_reason": None if per else "no generated video with ≥ 2 frames", "details": {"per_video": per}}  # fmt: skip


def evaluate_videos(pred: str | Path, gt: str | Path, metrics: tuple[str, ...] = DEFAULT_METRICS, preset: str = "clean",
                    fvd_preset: str = "stylegan-v", device: str = "cpu",
                    progress: Callable[[int, int, str], None] | None = None,
                    ref: str | Path | None = None, music: str | Path | None = None, pose_backend: str = "mediapipe",
                    pose_weights: str | Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Evaluate a folder of generated videos against a folder of ground-truth videos (and, for
    ``identity``, a folder of reference images matched by stem). ``motion-2d`` estimates 2D keypoints
    with ``pose_backend`` and scores FID_k, FID_g, Div_k, Div_g and BAS (``mace-video2d`` preset) with the
    music in ``music`` (default: the ground-truth videos' own audio tracks)."""
    t0 = time.perf_counter()
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise ValidationError("--metrics", "a comma list of " + ", ".join(METRICS), ", ".join(bad))
    if preset not in PRESETS:
        raise ValidationError("--preset", "clean or disco-legacy", repr(preset))
    P, G = _videos(Path(pred), "pred"), _videos(Path(gt), "gt")
    pairs = sorted(set(P) & set(G))
    scores: dict[str, Any] = {}
    skipped: list[dict[str, str]] = []
    policy = {"frames": "first min(T_pred, T_gt)", "resolution": "generated resized to ground truth (bilinear)",
              "truncated": 0, "resized": 0, "unpaired_pred": sorted(set(P) - set(G)), "unpaired_gt": sorted(set(G) - set(P))}  # fmt: skip
    frame_keys = [m for m in metrics if m not in SET_METRICS]
    if frame_keys:
        per: dict[str, list[float]] = {m: [] for m in frame_keys}
        undefined: dict[str, dict[str, str]] = {m: {} for m in frame_keys}
        nets = {m: LPIPS_NET[preset] if m == "lpips" else m.split("-")[1] for m in frame_keys if m.startswith("lpips")}
        from macedance.video.lpips import load_lpips

        lpips_models = {net: load_lpips(net, device) for net in set(nets.values())}
        for i, stem in enumerate(pairs):
            if progress:
                progress(i, len(pairs), stem)
            try:
                vals, truncated, resized = _pair_scores(P[stem], G[stem], frame_keys, preset, nets, lpips_models, device)
            except MaceDanceError as exc:
                skipped.append({"video": stem, "reason": str(exc)})
                continue
            policy["truncated"] += int(truncated)
            policy["resized"] += int(resized)
            for m, v in vals.items():
                if v is None:
                    undefined[m][stem] = "identical videos (PSNR = ∞)"
                else:
                    per[m].append(v)
        for m in frame_keys:
            vals = per[m]
            reason = None if vals else ("no matched pair (names must match by stem)" if not pairs else "no defined value")
            scores[m] = {"value": float(np.mean(vals)) if vals else None, "n": len(vals), "undefined_reason": reason,
                         "details": ({"undefined": undefined[m]} if undefined[m] else {})
                         | ({"net": nets[m], "input_range": "[0, 1] (DisCo)" if preset == "disco-legacy" else "[-1, 1]"}
                            if m in nets else {})}  # fmt: skip
    if "fvd" in metrics:
        from macedance.video.fvd import fvd_from_features, i3d_features, load_i3d
        from macedance.weights import weights_file

        model = load_i3d(device)
        sha = sha256_file(weights_file("i3d-kinetics-400"))
        feats = _set_features(P, G, "I3D", ("i3d", sha, fvd_preset),
                              lambda path: i3d_features(model, [read_video(path, 16)[0]], fvd_preset, device=device)[0],
                              skipped, progress)  # fmt: skip
        pred, gt = (np.stack(feats[r]) if feats[r] else np.zeros((0, 400)) for r in ("pred", "gt"))
        scores["fvd"] = {**fvd_from_features(pred, gt), "n": len(pred)}
    if "fid" in metrics:
        scores["fid"] = _frame_fid(P, G, device, skipped, progress)
    if "fid-vid" in metrics:
        scores["fid-vid"] = _fid_vid(P, G, device, skipped, progress)
    if "identity" in metrics:
        if ref is None:
            raise ValidationError("--ref", "a folder of reference images (matched by stem) for identity", "none given")
        scores["identity"] = _identity(P, Path(ref), skipped, progress)
    if "identity-arcface" in metrics:
        if ref is None:
            raise ValidationError("--ref", "a folder of reference images (matched by stem) for identity-arcface", "none given")
        scores["identity-arcface"] = _identity(P, Path(ref), skipped, progress, arcface=True)
    if "temporal-flickering" in metrics:
        scores["temporal-flickering"] = _flickering(P, skipped, progress)
    if "motion-2d" in metrics:
        from macedance.video.motion2d import evaluate_motion2d

        if music is not None and not Path(music).is_dir():
            raise ValidationError("--music", "a folder of music files (matched by stem)", f"{music} (not a folder)")
        scores.update(evaluate_motion2d(P, G, Path(music) if music else None, skipped, pose_backend, pose_weights, progress))
    return {
        "schema_version": 1, "kind": "video-evaluation", "macedance_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "preset": preset, "fvd_preset": fvd_preset if "fvd" in metrics else None,
        "inputs": {"pred": str(pred), "gt": str(gt), "pred_videos": len(P), "gt_videos": len(G), "pairs": len(pairs),
                   "skipped": skipped},  # fmt: skip
        "policy": policy, "scores": scores,
        "warnings": ["disco-legacy PSNR is computed on uint8 with wraparound: not a true PSNR (≥ 24.07 dB by construction)"]
        if preset == "disco-legacy" and "psnr" in metrics else [],
        "environment": {"python": platform.python_version(), "torch": torch.__version__, "device": device},
        "seconds": round(time.perf_counter() - t0, 3),
    }  # fmt: skip
