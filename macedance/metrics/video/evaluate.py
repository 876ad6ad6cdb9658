"""``macedance eval video``: FVD and frame FID over sets; SSIM, PSNR, L1, LPIPS over pairs matched by file stem.

Policy for mismatched pairs (recorded in the result): frame metrics use the first
min(T_pred, T_gt) frames; a generated video of another resolution is resized to the ground truth's
(bilinear). Every per-video (per-pair) result — feature rows, paired scores, identity, flickering,
keypoints — is cached by content hash + extractor + weights + preset, and the set-level scores are
computed from those. With ``executor="ray"`` the videos are cut into shards whose per-video results
Ray tasks compute into the (shared) cache; the driver then scores the whole set from the cache, so
the numbers are those of the local run: bit for bit for the pixel metrics, and up to the float32
round-off that a different torch thread count gives the feature networks (about 1e-6 relative in FVD,
as between two local machines with different core counts).
"""

from __future__ import annotations

import datetime as _dt
import json
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
from macedance.executors import check_executor
from macedance.fileio import sha256_file
from macedance.io.video import VIDEO_SUFFIXES, iter_frames, read_video, sample_frames
from macedance.metrics.video import frame_metrics

VBENCH = ("subject-consistency", "background-consistency", "motion-smoothness", "temporal-flickering")  # no-reference
METRICS = ("fvd", "cd-fvd", "fid", "fid-vid", *VBENCH, "identity", "identity-arcface", "motion-2d", "ssim", "psnr", "l1", "lpips",
           "lpips-alex", "lpips-vgg")
SET_METRICS = ("fvd", "cd-fvd", "fid", "fid-vid", *VBENCH, "identity", "identity-arcface", "motion-2d")  # not paired by stem
DEFAULT_METRICS = ("fvd", "ssim", "psnr", "l1", "lpips")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
LPIPS_NET = {"clean": "alex", "disco-legacy": "vgg"}  # net used by plain ``lpips`` under each preset
PRESETS = ("clean", "disco-legacy")
# √(Σ1Σ2) of every Fréchet score (FID, FID-VID, FVD, cd-FVD) per preset: the references' scipy sqrtm
# under disco-legacy; the exact symmetric eigendecomposition form (same value with full-rank
# covariances, accurate when rank-deficient, 4–10× faster at 2048-d) under clean.
FRECHET_METHOD = {"clean": "eigh", "disco-legacy": "sqrtm"}


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


RESULT_VERSION = "1"  # of the cached per-video results below (pair scores, identity, flickering)


def _cached_result(namespace: str, key_parts: tuple[str, ...], compute: Callable[[], Any]) -> Any:
    """A JSON-able per-video result, cached under ``namespace`` by ``key_parts`` (content hashes, model,
    preset); errors are not cached."""
    cache = NpzCache(namespace)
    key = cache_key(RESULT_VERSION, *key_parts)
    hit = cache.get(key)
    if hit is not None:
        return json.loads(hit["json"].tobytes().decode())
    value = compute()
    cache.put(key, {"json": np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)})
    return value


def _pair_scores(pred: Path, gt: Path, keys: list[str], preset: str, nets: dict[str, str], models: dict[str, Any],
                 device: str, chunk: int = 32) -> tuple[dict[str, float | None], bool, bool]:
    """Paired frame metrics of one video pair, streamed in chunks: (values, truncated, resized).

    Per-frame means are accumulated frame-weighted; clean PSNR from the MSE of the whole video."""
    from macedance.metrics.video.lpips import lpips_video

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
                  extract: Callable[[Path], Any], skipped: list[dict[str, str]],
                  progress: Callable[[int, int, str], None] | None, forward: Callable[[torch.Tensor], np.ndarray] | None = None,
                  batch: int = 1, sink: Callable[[str, np.ndarray], None] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-video features of the generated and the ground-truth set by role and stem, cached by the
    video's content hash + ``key_parts`` (extractor, weights sha256, preset); unreadable videos are
    recorded and skipped. ``extract(path)`` gives the feature row, or, with ``forward``, one model input:
    inputs of ``batch`` uncached videos are stacked and ``forward`` gives their rows. With ``sink``, rows
    are handed to ``sink(role, row)`` instead of being kept (memory independent of the number of videos)."""
    cache = NpzCache("video-features")
    feats: dict[str, dict[str, np.ndarray]] = {}
    for role, files in (("pred", P), ("gt", G)):
        rows: dict[str, np.ndarray] = {}
        pending: list[tuple[str, str, Any]] = []

        def keep(stem: str, row: np.ndarray, role: str = role, rows: dict[str, np.ndarray] = rows) -> None:
            if sink is None:
                rows[stem] = row
            else:
                sink(role, row)

        def flush(pending: list[tuple[str, str, Any]] = pending) -> None:
            if pending and forward is not None:
                for (stem, key, _), row in zip(pending, forward(torch.stack([x for _, _, x in pending])), strict=True):
                    cache.put(key, {"features": row})
                    keep(stem, row)
                pending.clear()

        for i, (stem, path) in enumerate(files.items()):
            if progress:
                progress(i, len(files), f"{label} {role} {stem}")
            key = cache_key(*key_parts, sha256_file(path))
            hit = cache.get(key)
            if hit is not None:
                keep(stem, hit["features"])
                continue
            try:
                x = extract(path)
            except MaceDanceError as exc:
                skipped.append({"video": f"{role}/{stem}", "reason": f"{label}: {exc}"})
                continue
            if forward is None:
                cache.put(key, {"features": x})
                keep(stem, x)
            else:
                pending.append((stem, key, x))
                if len(pending) >= batch:
                    flush()
        flush()
        feats[role] = {stem: rows[stem] for stem in files if stem in rows}  # in file order
    return feats


def _stack(rows: dict[str, np.ndarray], dim: int, dtype: type = np.float64) -> np.ndarray:
    return np.stack(list(rows.values())).astype(dtype) if rows else np.zeros((0, dim), dtype)


def _frechet_score(pred: Any, gt: Any, unit: str, info: dict[str, Any], ddof: int = 1, eps: float = 1e-6,
                   method: str = "sqrtm") -> dict[str, Any]:
    """Fréchet distance of two feature sets — (n, d) rows or running
    :class:`~macedance.metrics.motion.frechet.Moments` — with the ε retry (``eps`` 0: none), undefined with
    fewer than 2 rows per set. ``ddof`` 1: ``np.cov``; 0: the biased covariance of StyleGAN-V / cd-fvd.
    ``method``: ``FRECHET_METHOD`` of the preset (recorded as ``details.frechet_sqrt``)."""
    from macedance.metrics.motion.frechet import Moments, frechet_distance, gaussian_stats

    n_pred, n_gt = (x.n if isinstance(x, Moments) else len(x) for x in (pred, gt))
    if n_pred < 2 or n_gt < 2:
        return {"value": None, "n": n_pred, "undefined_reason": f"needs ≥ 2 {unit} per set ({n_pred}, {n_gt})", "details": info}
    stats = [x.stats(ddof) if isinstance(x, Moments) else gaussian_stats(x) for x in (pred, gt)]
    res = frechet_distance(*stats[0], *stats[1], eps=eps, method=method)
    return {"value": res.value, "n": n_pred, "undefined_reason": None,
            "details": info | {"eps_retry": res.eps_retry, "singular": res.singular, "frechet_sqrt": method}}


def _weights(name: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """State dict, sha256 and manifest summary of installed weights (for the cache key and the record)."""
    from macedance.weights import load_weights, manifest, weights_file

    state = load_weights(name)
    sha = sha256_file(weights_file(name))
    return state, sha, {"weights": name, "weights_sha256": sha, "weights_verification": manifest(name).get("verification")}


@torch.no_grad()
def _frame_fid(P: dict[str, Path], G: dict[str, Path], device: str, skipped: list[dict[str, str]],
               progress: Callable[[int, int, str], None] | None, batch: int = 32, frechet: str = "sqrtm") -> dict[str, Any]:
    """FID over all frames of the generated vs the ground-truth videos (pytorch-fid's network and
    preprocessing: [0, 1] frames, bilinear resize to 299, pool3 features; float64 statistics)."""
    from macedance.metrics.video.inception import FIDInception

    state, sha, info = _weights("inception-fid")
    model = FIDInception()
    model.load_fid_state_dict(state)
    model = model.eval().to(device)

    def extract(path: Path) -> np.ndarray:
        out = [model(torch.as_tensor(c, device=device).permute(0, 3, 1, 2).float() / 255.0).cpu() for c in _chunks(path, batch)]
        if not out:
            raise MaceDanceError(f"{path}: the video has no frames")
        return torch.cat(out).numpy().astype(np.float32)

    from macedance.metrics.motion.frechet import Moments

    moments = {"pred": Moments(), "gt": Moments()}  # all frames of all videos: running moments, not rows
    _set_features(P, G, "Inception", ("inception-fid", sha, "all-frames"), extract, skipped, progress,
                  sink=lambda role, rows: moments[role].add(rows))
    return _frechet_score(moments["pred"], moments["gt"], "frames", info | {"frames_pred": moments["pred"].n,
                                                                             "frames_gt": moments["gt"].n}, method=frechet)


def _fid_vid(P: dict[str, Path], G: dict[str, Path], device: str, skipped: list[dict[str, str]],
             progress: Callable[[int, int, str], None] | None, frechet: str = "sqrtm") -> dict[str, Any]:
    """DisCo's FID-VID ("FVD-3DRN50"): Fréchet distance of per-video 3D-ResNet-50 features."""
    from macedance.metrics.video.resnet3d import ResNet3D50, video_features

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
    pred, gt = (_stack(feats[r], 2048, np.float32) for r in ("pred", "gt"))
    return _frechet_score(pred, gt, "videos", info | {"segments": "16 frames, last padded with the final frame; mean per video"},
                          method=frechet)


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise DataFormatError(f"{path}: not a readable image ({exc})") from None


def _identity(P: dict[str, Path], ref_dir: Path, skipped: list[dict[str, str]],
              progress: Callable[[int, int, str], None] | None, arcface: bool = False) -> dict[str, Any]:
    """Face identity similarity of each generated video to its reference image (same stem)."""
    from macedance.metrics.video.identity import ArcFaceEmbedder, FaceEmbedder, identity_similarity

    if not ref_dir.is_dir():
        raise InputNotFoundError(f"{ref_dir}: `ref` folder not found")
    refs = {p.stem: p for p in sorted(ref_dir.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES}
    embedder = ArcFaceEmbedder() if arcface else FaceEmbedder()
    label = _arcface_label() if arcface else "dlib ResNet face descriptor v1 (cosine; not ArcFace CSIM)"
    per: dict[str, Any] = {}
    for i, (stem, path) in enumerate(P.items()):
        if progress:
            progress(i, len(P), f"identity {stem}")
        if stem not in refs:
            per[stem] = {"value": None, "reason": "no reference image with this stem"}
            continue
        r = refs[stem]

        def compute(r: Path = r, path: Path = path) -> dict[str, Any]:
            image = _read_image(r) if r.suffix.lower() in IMAGE_SUFFIXES else read_video(r, 1)[0][0]
            return identity_similarity(embedder, image, sample_frames(path, 16))

        try:
            per[stem] = _cached_result("video-identity", (label, sha256_file(r), sha256_file(path)), compute)
        except MaceDanceError as exc:
            skipped.append({"video": f"pred/{stem}", "reason": str(exc)})
    vals = [v["value"] for v in per.values() if v["value"] is not None]
    return {"value": float(np.mean(vals)) if vals else None, "n": len(vals),
            "undefined_reason": None if vals else "no video with a face in both the reference and its frames",
            "details": {"embedding": label,
                        "detector": "dlib HOG frontal face, upsample 1, largest face", "frames": "≤ 16 evenly spaced",
                        "per_video": per}}


def _arcface_label() -> str:
    from macedance.weights import manifest

    m = manifest("arcface-onnx")
    return (f"ArcFace ONNX {Path(m['source']).name} (sha256 {m['source_sha256'][:16]}…; cosine), aligned on dlib's eyes and nose "
            "to the ArcFace 112×112 template")


def _flickering(P: dict[str, Path], skipped: list[dict[str, str]],
                progress: Callable[[int, int, str], None] | None) -> dict[str, Any]:
    """VBench temporal flickering of every generated video (no reference needed), averaged."""
    per: dict[str, float] = {}
    for i, (stem, path) in enumerate(P.items()):
        if progress:
            progress(i, len(P), f"flickering {stem}")
        try:
            v = _cached_result("video-flickering", (VBENCH_REF, sha256_file(path)), lambda path=path: frame_metrics.temporal_flickering(iter_frames(path)))
        except MaceDanceError as exc:
            skipped.append({"video": f"pred/{stem}", "reason": str(exc)})
            continue
        if v is not None:
            per[stem] = v
    return {"value": float(np.mean(list(per.values()))) if per else None, "n": len(per),
            "undefined_reason": None if per else "no generated video with ≥ 2 frames", "details": {"per_video": per}}


def _clip_batch(device: str) -> int:
    """Videos per forward pass of the clip-level networks (I3D, VideoMAE): batched on a GPU."""
    return 16 if device.startswith("cuda") else 1


def _no_grad(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return torch.no_grad()(model)


def _network(name: str, device: str) -> tuple[torch.nn.Module, str, dict[str, Any]]:
    """An imported feature network (sizes read from its state dict), its weights' sha256 and record fields;
    ``architecture`` says whether the sizes are the published network's."""
    from macedance.metrics.video.amt import AMTS
    from macedance.metrics.video.videomae import VideoMAEv2, videomae_config
    from macedance.metrics.video.vit import ClipVisual, DinoViT, clip_config, dino_config

    build, config = {"dino-vitb16": (DinoViT, dino_config), "clip-vit-b32": (ClipVisual, clip_config),
                     "videomae-v2-g-ssv2": (VideoMAEv2, videomae_config), "amt-s": (AMTS, lambda _: {})}[name]
    state, sha, info = _weights(name)
    cfg = config(state)
    with torch.device("meta"):
        published = config(build().state_dict()) == cfg
    model = build(**cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("head.") for k in missing):  # VideoMAE's classifier head is optional
        raise MaceDanceError(f"weights {name!r} do not fit the network (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval().to(device), sha, info | {"architecture": cfg, "architecture_published": published}


VBENCH_REF = "Vchitect/VBench@45e79ec"


def _vbench(metric: str, P: dict[str, Path], G: dict[str, Path], device: str, skipped: list[dict[str, str]],
            progress: Callable[[int, int, str], None] | None) -> dict[str, Any]:
    """VBench subject / background consistency or motion smoothness of every generated and ground-truth
    video (no reference needed); the value is the generated set's, the ground truth's is reported next to it."""
    from macedance.metrics.video.consistency import motion_smoothness, pooled, video_consistency

    name = {"subject-consistency": "dino-vitb16", "background-consistency": "clip-vit-b32", "motion-smoothness": "amt-s"}[metric]
    model, sha, info = _network(name, device)
    gpu = device.startswith("cuda")
    if metric == "motion-smoothness":
        def extract(path: Path) -> np.ndarray:
            v = motion_smoothness(model, iter_frames(path), device, batch=32 if gpu else 1)  # VBench: one pair per pass
            if v is None:
                raise MaceDanceError(f"{path}: motion smoothness needs ≥ 3 frames")
            return np.array([v])

        def value(rows: dict[str, np.ndarray]) -> float | None:
            return float(np.mean([r[0] for r in rows.values()])) if rows else None

        def per_video(r: np.ndarray) -> float | None:
            return float(r[0])
    else:
        transform = "dino" if name == "dino-vitb16" else "clip"

        def extract(path: Path) -> np.ndarray:
            return video_consistency(model, _chunks(path, 64 if gpu else 16), transform, device)

        def value(rows: dict[str, np.ndarray]) -> float | None:
            return pooled(rows.values())

        def per_video(r: np.ndarray) -> float | None:
            return float(r[0] / r[1]) if r[1] else None

    feats = _set_features(P, G, metric, (metric, sha, VBENCH_REF), extract, skipped, progress)
    pred, gt = feats["pred"], feats["gt"]
    v = value(pred)
    aggregate = "mean over videos" if metric == "motion-smoothness" else "frame pairs pooled over videos (VBench's sim / cnt)"
    return {"value": v, "n": len(pred), "undefined_reason": None if v is not None else "no generated video with ≥ 2 frames",
            "details": info | {"gt_value": value(gt), "n_gt": len(gt), "definition": VBENCH_REF, "aggregate": aggregate,
                               "per_video": {k: per_video(r) for k, r in pred.items()},
                               "gt_per_video": {k: per_video(r) for k, r in gt.items()}}}


def _cd_fvd(P: dict[str, Path], G: dict[str, Path], device: str, skipped: list[dict[str, str]],
            progress: Callable[[int, int, str], None] | None, frechet: str = "sqrtm") -> dict[str, Any]:
    """Content-debiased FVD: Fréchet distance of VideoMAE-v2 features (cd-fvd's preprocessing, biased covariance)."""
    from macedance.metrics.motion.frechet import Moments
    from macedance.metrics.video.fvd import first_frames
    from macedance.metrics.video.videomae import FRAMES, preprocess

    model, sha, info = _network("videomae-v2-g-ssv2", device)
    feats = _set_features(P, G, "VideoMAE", ("videomae-v2", sha, "cd-fvd-0.1.1"),
                          lambda path: preprocess(first_frames(read_video(path, FRAMES)[0], FRAMES)), skipped, progress,
                          forward=lambda x: _no_grad(model)(x.to(device)).float().cpu().numpy(), batch=_clip_batch(device))
    moments = {r: Moments() for r in ("pred", "gt")}
    for r in moments:
        for row in feats[r].values():
            moments[r].add(row[None].astype(np.float32))
    return _frechet_score(moments["pred"], moments["gt"], "videos", info | {
        "features": "VideoMAE-v2 fc_norm(mean token), 16 frames resized to 224×224 in [0, 1] (cd-fvd 0.1.1)",
        "covariance": "biased (Σxxᵀ/n − μμᵀ, cd-fvd's FeatureStats)", "n_gt": moments["gt"].n,
        "resampling": "none: each video once (cd-fvd's folder loader repeats random clips until n_fake = 2048)"},
        ddof=0, eps=0.0, method=frechet)


def evaluate_videos(pred: str | Path, gt: str | Path, metrics: tuple[str, ...] = DEFAULT_METRICS, preset: str = "clean",
                    fvd_preset: str = "stylegan-v", device: str = "cpu",
                    progress: Callable[[int, int, str], None] | None = None,
                    ref: str | Path | None = None, music: str | Path | None = None, pose_backend: str = "mediapipe",
                    pose_weights: str | Path | None = None, executor: str = "local", address: str | None = None,
                    task_gpus: float = 0.0) -> dict[str, Any]:
    """Evaluate a folder of generated videos against a folder of ground-truth videos (and, for
    ``identity``, a folder of reference images matched by stem). ``motion-2d`` estimates 2D keypoints
    with ``pose_backend`` and scores FID_k, FID_g, Div_k, Div_g and BAS (``mace-video2d`` preset) with the
    music in ``music`` (default: the ground-truth videos' own audio tracks). ``executor="ray"`` computes
    the per-video results in Ray tasks first (module docstring); the result does not depend on it."""
    t0 = time.perf_counter()
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise ValidationError("metrics", "a comma list of " + ", ".join(METRICS), ", ".join(bad))
    if preset not in PRESETS:
        raise ValidationError("preset", "clean or disco-legacy", repr(preset))
    check_executor(executor)
    for m in ("identity", "identity-arcface"):
        if m in metrics and ref is None:
            raise ValidationError("ref", f"a folder of reference images (matched by stem) for {m}", "none given")
    if "motion-2d" in metrics and music is not None and not Path(music).is_dir():
        raise ValidationError("music", "a folder of music files (matched by stem)", f"{music} (not a folder)")
    P, G = _videos(Path(pred), "pred"), _videos(Path(gt), "gt")
    opts = dict(metrics=metrics, preset=preset, fvd_preset=fvd_preset, device=device, ref=ref, music=music, pose_backend=pose_backend,
                pose_weights=pose_weights)
    shards = _ray_warm(P, G, opts, address, task_gpus, progress) if executor == "ray" else 0
    record = _evaluate(P, G, progress=progress, **opts)
    record["inputs"].update(pred=str(pred), gt=str(gt), executor=executor, **({"ray_shards": shards} if shards else {}))
    record["seconds"] = round(time.perf_counter() - t0, 3)
    return record


def warm_shard(P: dict[str, Path], G: dict[str, Path], opts: dict[str, Any], token: str | None) -> int:
    """A Ray task: compute (and cache) the per-video results of a shard of videos; returns its size.
    ``token``: a file the driver wrote into the cache folder — it must be visible here (shared cache)."""
    import platform as _platform

    from macedance.cache import cache_root

    if token is not None and not (cache_root() / token).is_file():
        raise InputNotFoundError(f"{cache_root()}: the driver's macedance cache is not visible on Ray node {_platform.node()} "
                                 "(set MACEDANCE_CACHE_DIR to a folder every node shares)")
    _evaluate(P, G, warm=True, **opts)
    return len(P) + len(G)


def _ray_warm(P: dict[str, Path], G: dict[str, Path], opts: dict[str, Any], address: str | None, task_gpus: float,
              progress: Callable[[int, int, str], None] | None) -> int:
    """Per-video results of every shard (stems cut into contiguous groups, a pair in one shard) computed
    by Ray tasks into the shared cache; returns the number of shards."""
    import uuid

    from macedance.cache import cache_root
    from macedance.executors import cluster_cpus, ray_session, run_tasks
    from macedance.fileio import write_json

    stems = sorted(set(P) | set(G))
    token = f"ray-check/{uuid.uuid4().hex}.json"
    write_json(cache_root() / token, {"purpose": "workers check that they see this cache"})
    try:
        with ray_session(address) as ray:
            n = max(1, min(len(stems), 2 * cluster_cpus(ray)))
            bounds = [round(i * len(stems) / n) for i in range(n + 1)]
            groups = [stems[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
            jobs = [({s: P[s] for s in g if s in P}, {s: G[s] for s in g if s in G}, opts, token) for g in groups]
            done = [0]

            def arrived(i: int, videos: int) -> None:
                done[0] += videos
                if progress:
                    progress(done[0], len(P) + len(G), f"shard {i + 1}/{len(groups)} (Ray)")

            run_tasks(ray, warm_shard, jobs, arrived, num_cpus=1, num_gpus=task_gpus)
    finally:
        (cache_root() / token).unlink(missing_ok=True)
    return len(groups)


def _evaluate(P: dict[str, Path], G: dict[str, Path], metrics: tuple[str, ...], preset: str, fvd_preset: str, device: str,
              ref: str | Path | None, music: str | Path | None, pose_backend: str, pose_weights: str | Path | None,
              progress: Callable[[int, int, str], None] | None = None, warm: bool = False) -> dict[str, Any]:
    """Score the videos ``P`` against ``G`` (see :func:`evaluate_videos`). ``warm``: only the per-video
    results matter (a shard of a Ray run), so a set too small to score is not an error."""
    t0 = time.perf_counter()
    pairs = sorted(set(P) & set(G))
    scores: dict[str, Any] = {}
    skipped: list[dict[str, str]] = []
    policy = {"frames": "first min(T_pred, T_gt)", "resolution": "generated resized to ground truth (bilinear)",
              "truncated": 0, "resized": 0, "unpaired_pred": sorted(set(P) - set(G)), "unpaired_gt": sorted(set(G) - set(P))}
    frame_keys = [m for m in metrics if m not in SET_METRICS]
    if frame_keys:
        per: dict[str, list[float]] = {m: [] for m in frame_keys}
        undefined: dict[str, dict[str, str]] = {m: {} for m in frame_keys}
        nets = {m: LPIPS_NET[preset] if m == "lpips" else m.split("-")[1] for m in frame_keys if m.startswith("lpips")}
        from macedance.metrics.video.lpips import load_lpips
        from macedance.weights import weights_file

        lpips_models = {net: load_lpips(net, device) for net in set(nets.values())}
        model_key = json.dumps({"keys": frame_keys, "preset": preset, "nets": nets,
                                "lpips": {n: sha256_file(weights_file(f"lpips-{n}")) for n in sorted(lpips_models)}}, sort_keys=True)
        for i, stem in enumerate(pairs):
            if progress:
                progress(i, len(pairs), stem)
            try:
                vals, truncated, resized = _cached_result(
                    "video-pairs", (model_key, sha256_file(P[stem]), sha256_file(G[stem])),
                    lambda stem=stem: _pair_scores(P[stem], G[stem], frame_keys, preset, nets, lpips_models, device))
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
                            if m in nets else {})}
    if "fvd" in metrics:
        from macedance.metrics.video.fvd import FVD_PRESETS, clip_tensor, fvd_from_features, load_i3d
        from macedance.weights import weights_file

        model = load_i3d(device)
        sha = sha256_file(weights_file("i3d-kinetics-400"))
        cfg = FVD_PRESETS[fvd_preset]
        feats = _set_features(P, G, "I3D", ("i3d", sha, fvd_preset),
                              lambda path: clip_tensor(read_video(path, cfg["frames"])[0], cfg["frames"], cfg["resize"]),
                              skipped, progress, forward=lambda x: _no_grad(model)(x.to(device)).double().cpu().numpy(),
                              batch=_clip_batch(device))
        pred, gt = (_stack(feats[r], 400) for r in ("pred", "gt"))
        scores["fvd"] = {**fvd_from_features(pred, gt, FRECHET_METHOD[preset]), "n": len(pred)}
    if "cd-fvd" in metrics:
        scores["cd-fvd"] = _cd_fvd(P, G, device, skipped, progress, frechet=FRECHET_METHOD[preset])
    if "fid" in metrics:
        scores["fid"] = _frame_fid(P, G, device, skipped, progress, frechet=FRECHET_METHOD[preset])
    if "fid-vid" in metrics:
        scores["fid-vid"] = _fid_vid(P, G, device, skipped, progress, frechet=FRECHET_METHOD[preset])
    if "identity" in metrics:
        assert ref is not None
        scores["identity"] = _identity(P, Path(ref), skipped, progress)
    if "identity-arcface" in metrics:
        assert ref is not None
        scores["identity-arcface"] = _identity(P, Path(ref), skipped, progress, arcface=True)
    for m in ("subject-consistency", "background-consistency", "motion-smoothness"):
        if m in metrics:
            scores[m] = _vbench(m, P, G, device, skipped, progress)
    if "temporal-flickering" in metrics:
        scores["temporal-flickering"] = _flickering(P, skipped, progress)
    if "motion-2d" in metrics:
        from macedance.metrics.video.motion2d import evaluate_motion2d

        try:
            scores.update(evaluate_motion2d(P, G, Path(music) if music else None, skipped, pose_backend, pose_weights, progress))
        except MaceDanceError:
            if not warm:  # a shard may hold no usable video of a set: its keypoints are cached all the same
                raise
    return {
        "schema_version": 1, "kind": "video-evaluation", "macedance_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "preset": preset, "fvd_preset": fvd_preset if "fvd" in metrics else None,
        "inputs": {"pred_videos": len(P), "gt_videos": len(G), "pairs": len(pairs), "skipped": skipped},
        "policy": policy, "scores": scores,
        "warnings": ["disco-legacy PSNR is computed on uint8 with wraparound: not a true PSNR (≥ 24.07 dB by construction)"]
        if preset == "disco-legacy" and "psnr" in metrics else [],
        "environment": {"python": platform.python_version(), "torch": torch.__version__, "device": device},
        "seconds": round(time.perf_counter() - t0, 3),
    }
