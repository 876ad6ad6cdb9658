"""Frame metrics of video pairs matched by file stem: SSIM, PSNR, L1 and LPIPS.

Policy for mismatched pairs (recorded in the result): the first min(T_pred, T_gt) frames are compared; a
generated video of another resolution is resized to the ground truth's (bilinear). The requested metrics of a
pair are computed together in one streamed decoding, cached by both videos' content hashes + metrics + preset
+ LPIPS weights; the score is the mean over pairs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from macedance.errors import MaceDanceError
from macedance.fileio import sha256_file
from macedance.metrics.score import Score
from macedance.metrics.video import frame_metrics
from macedance.metrics.video.lpips import load_lpips, lpips_video
from macedance.metrics.video.metric import VideoInputs, VideoMetric
from macedance.metrics.video.per_video import cached_result, chunks
from macedance.weights import weights_file

LPIPS_NET = {"clean": "alex", "disco-legacy": "vgg"}  # net used by plain ``lpips`` under each preset


def _resize(frames: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    x = torch.as_tensor(frames).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False).clamp(0, 255).round()
    return x.permute(0, 2, 3, 1).to(torch.uint8).numpy()


def pair_scores(pred: Path, gt: Path, keys: list[str], preset: str, nets: dict[str, str], models: dict[str, Any],
                device: str, chunk: int = 32) -> tuple[dict[str, float | None], bool, bool]:
    """Paired frame metrics of one video pair, streamed in chunks: (values, truncated, resized).

    Per-frame means are accumulated frame-weighted; clean PSNR from the MSE of the whole video."""
    sums = dict.fromkeys(keys, 0.0)
    n, resized = 0, False
    it_p, it_g = chunks(pred, chunk), chunks(gt, chunk)
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
                v = lpips_video(models[nets[m]], p, g, preset=preset, device=device)
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


def score_pairs(inputs: VideoInputs, keys: list[str]) -> dict[str, Score]:
    """The paired metrics ``keys`` (in the order asked for): means over the pairs; pairs that cannot be read are
    skipped, truncated and resized pairs counted in ``inputs.policy``."""
    P, G, preset, pairs = inputs.pred, inputs.gt, inputs.preset, inputs.pairs
    per: dict[str, list[float]] = {m: [] for m in keys}
    undefined: dict[str, dict[str, str]] = {m: {} for m in keys}
    nets = {m: LPIPS_NET[preset] if m == "lpips" else m.split("-")[1] for m in keys if m.startswith("lpips")}
    lpips_models = {net: load_lpips(net, inputs.device) for net in set(nets.values())}
    model_key = json.dumps({"keys": keys, "preset": preset, "nets": nets,
                            "lpips": {n: sha256_file(weights_file(f"lpips-{n}")) for n in sorted(lpips_models)}}, sort_keys=True)
    for i, stem in enumerate(pairs):
        if inputs.progress:
            inputs.progress(i, len(pairs), stem)
        try:
            vals, truncated, resized = cached_result(
                "video-pairs", (model_key, sha256_file(P[stem]), sha256_file(G[stem])),
                lambda stem=stem: pair_scores(P[stem], G[stem], keys, preset, nets, lpips_models, inputs.device))
        except MaceDanceError as exc:
            inputs.skipped.append({"video": stem, "reason": str(exc)})
            continue
        inputs.policy["truncated"] += int(truncated)
        inputs.policy["resized"] += int(resized)
        for m, v in vals.items():
            if v is None:
                undefined[m][stem] = "identical videos (PSNR = ∞)"
            else:
                per[m].append(v)
    scores = {}
    for m in keys:
        vals = per[m]
        reason = None if vals else ("no matched pair (names must match by stem)" if not pairs
                                    else f"every pair is undefined: {next(iter(undefined[m].values()))}" if undefined[m]
                                    else "no pair could be scored (see skipped)")
        scores[m] = Score(float(np.mean(vals)) if vals else None, reason, len(vals),
                          ({"undefined": undefined[m]} if undefined[m] else {})
                          | ({"net": nets[m], "input_range": "[0, 1] (DisCo)" if preset == "disco-legacy" else "[-1, 1]"}
                             if m in nets else {}))
    return scores


METRICS = (
    VideoMetric("ssim", "paired", ("pairs",)),
    VideoMetric("psnr", "paired", ("pairs",)),
    VideoMetric("l1", "paired", ("pairs",)),
    VideoMetric("lpips", "paired", ("pairs",), ("lpips-alex", "lpips-vgg")),  # by preset (LPIPS_NET)
    VideoMetric("lpips-alex", "paired", ("pairs",), ("lpips-alex",)),
    VideoMetric("lpips-vgg", "paired", ("pairs",), ("lpips-vgg",)),
)
