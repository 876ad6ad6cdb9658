"""``macedance eval video``: FVD and frame FID over sets; SSIM, PSNR, L1, LPIPS over pairs matched by file stem.

Each metric is a :class:`~macedance.metrics.video.metric.VideoMetric` of :data:`VIDEO_METRICS` (its family's
module computes it: :mod:`~macedance.metrics.video.paired`, :mod:`~macedance.metrics.video.frechet_scores`,
:mod:`~macedance.metrics.video.identity`, :mod:`~macedance.metrics.video.vbench`,
:mod:`~macedance.metrics.video.motion2d`); this module checks the inputs, scores the requested metrics family by
family and assembles the result. Every per-video (per-pair) result — feature rows, paired scores, identity,
flickering, keypoints — is cached by content hash + extractor + weights + preset
(:mod:`~macedance.metrics.video.per_video`), and the set-level scores are computed from those. With
``executor="ray"`` the videos are cut into shards whose per-video results Ray tasks compute into the (shared)
cache; the driver then scores the whole set from the cache, so the numbers are those of the local run: bit for
bit for the pixel metrics, and up to the float32 round-off that a different torch thread count gives the feature
networks (about 1e-6 relative in FVD, as between two local machines with different core counts).
"""

from __future__ import annotations

import datetime as _dt
import platform
import time
from pathlib import Path
from typing import Any

import torch

from macedance import __version__
from macedance.errors import InputNotFoundError, ValidationError
from macedance.executors import check_executor
from macedance.io.video import VIDEO_SUFFIXES
from macedance.metrics.video import frechet_scores, identity, motion2d, paired, vbench
from macedance.metrics.video.metric import FAMILIES, PRESETS, Progress, VideoInputs, VideoMetric

#: Every video metric by name, in the order the CLI lists them.
VIDEO_METRICS: dict[str, VideoMetric] = {m.name: m for m in (*frechet_scores.METRICS, *vbench.METRICS, *identity.METRICS,
                                                               *motion2d.METRICS, *paired.METRICS)}
DEFAULT_METRICS = ("fvd", "ssim", "psnr", "l1", "lpips")


def _videos(d: Path, role: str) -> dict[str, Path]:
    if not d.is_dir():
        raise InputNotFoundError(f"{d}: --{role} folder not found")
    files = {p.stem: p for p in sorted(d.rglob("*")) if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()}
    if not files:
        raise InputNotFoundError(f"{d}: no videos ({', '.join(VIDEO_SUFFIXES)}) in the --{role} folder")
    return files


def evaluate_videos(pred: str | Path, gt: str | Path, *, metrics: tuple[str, ...] = DEFAULT_METRICS, preset: str = "clean",
                    fvd_preset: str = "stylegan-v", device: str = "cpu",
                    progress: Progress | None = None,
                    ref: str | Path | None = None, music: str | Path | None = None, pose_backend: str = "mediapipe",
                    pose_weights: str | Path | None = None, executor: str = "local", address: str | None = None,
                    task_gpus: float = 0.0) -> dict[str, Any]:
    """Evaluate a folder of generated videos against a folder of ground-truth videos (and, for
    ``identity``, a folder of reference images matched by stem). ``motion-2d`` estimates 2D keypoints
    with ``pose_backend`` and scores FID_k, FID_g, Div_k, Div_g and BAS (``mace-video2d`` preset) with the
    music in ``music`` (default: the ground-truth videos' own audio tracks). ``executor="ray"`` computes
    the per-video results in Ray tasks first (module docstring); the result does not depend on it."""
    t0 = time.perf_counter()
    bad = [m for m in metrics if m not in VIDEO_METRICS]
    if bad:
        raise ValidationError("metrics", "a comma list of " + ", ".join(VIDEO_METRICS), ", ".join(bad))
    if preset not in PRESETS:
        raise ValidationError("preset", "clean or disco-legacy", repr(preset))
    check_executor(executor)
    wanted = [spec for spec in VIDEO_METRICS.values() if spec.name in metrics]
    for spec in wanted:
        if "ref" in spec.inputs and ref is None:
            raise ValidationError("ref", f"a folder of reference images (matched by stem) for {spec.name}", "none given")
    if any("music" in spec.inputs for spec in wanted) and music is not None and not Path(music).is_dir():
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
              progress: Progress | None) -> int:
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
              progress: Progress | None = None, warm: bool = False) -> dict[str, Any]:
    """Score the videos ``P`` against ``G`` (see :func:`evaluate_videos`), family by family (the order of the
    scores in the result). ``warm``: only the per-video results matter (a shard of a Ray run), so a set too
    small to score is not an error."""
    t0 = time.perf_counter()
    policy = {"frames": "first min(T_pred, T_gt)", "resolution": "generated resized to ground truth (bilinear)",
              "truncated": 0, "resized": 0, "unpaired_pred": sorted(set(P) - set(G)), "unpaired_gt": sorted(set(G) - set(P))}
    inputs = VideoInputs(P, G, preset, fvd_preset, device, ref=Path(ref) if ref is not None else None, music=Path(music) if music else None,
                         pose_backend=pose_backend, pose_weights=pose_weights, progress=progress, warm=warm, policy=policy)
    scores: dict[str, Any] = {}
    for family in FAMILIES:
        if family == "paired":  # scored together, in the order asked for
            keys = [m for m in metrics if VIDEO_METRICS[m].family == "paired"]
            if keys:
                scores.update({m: s.to_dict(VIDEO_METRICS[m].keys) for m, s in paired.score_pairs(inputs, keys).items()})
            continue
        for spec in VIDEO_METRICS.values():
            if spec.family == family and spec.name in metrics and spec.score is not None:
                scores.update({m: s.to_dict(spec.keys) for m, s in spec.score(inputs).items()})
    return {
        "schema_version": 1, "kind": "video-evaluation", "macedance_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "preset": preset, "fvd_preset": fvd_preset if "fvd" in metrics else None,
        "inputs": {"pred_videos": len(P), "gt_videos": len(G), "pairs": len(inputs.pairs), "skipped": inputs.skipped},
        "policy": inputs.policy, "scores": scores,
        "warnings": ["disco-legacy PSNR is computed on uint8 with wraparound: not a true PSNR (≥ 24.07 dB by construction)"]
        if preset == "disco-legacy" and "psnr" in metrics else [],
        "environment": {"python": platform.python_version(), "torch": torch.__version__, "device": device},
        "seconds": round(time.perf_counter() - t0, 3),
    }
