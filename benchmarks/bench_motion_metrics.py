"""Motion-metric throughput: macedance vs the Bailando reference scripts, side by side.

Input: N predicted + N ground-truth sequences of T frames × 24 joints (smooth random dance-like
trajectories, y-up, metres) with music beats every 0.5 s. macedance computes every feature and every
metric of the ``bailando-aistpp`` preset (kinetic + geometric features, FID_k, FID_g, Div_k, Div_g on
both sets, BAS on both sets) and of ``clean`` (adds PFC and FSR).

The reference is Bailando's own code (``utils/features/kinetic.py``, ``manual_new.py``,
``utils/beat_align_score.py`` and ``utils/metrics_new.py``), imported from a checkout you give with
``--bailando-src`` (the folder holding ``utils/``; never part of this repository). It is run on the
first K sequences of each set; its per-sequence time gives the ratio, and its features and metrics
are compared with ours on those sequences.

    .venv/bin/python benchmarks/bench_motion_metrics.py --bailando-src /path/to/Bailando [--n 1000] [--k 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from macedance.metrics.motion.motion_metrics import MotionMetrics, extract_features
from macedance.metrics.motion.presets import get_preset


def make_sequences(n: int, T: int, seed: int) -> list[np.ndarray]:
    """Smooth joint trajectories: a random rest pose plus low-frequency sinusoids per joint."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 60.0
    out = []
    for _ in range(n):
        rest = rng.normal(scale=0.3, size=(24, 3)) + [0.0, 0.9, 0.0]
        freq = rng.uniform(0.3, 3.0, size=(24, 3, 1))
        amp = rng.uniform(0.01, 0.2, size=(24, 3, 1))
        phase = rng.uniform(0, 2 * np.pi, size=(24, 3, 1))
        wave = amp * np.sin(2 * np.pi * freq * t + phase)  # (24, 3, T)
        out.append(rest[None] + np.moveaxis(wave, -1, 0))
    return out


def run_ours(pred, gt, beats, preset_name, workers):
    from concurrent.futures import ThreadPoolExecutor

    preset = get_preset(preset_name)
    m = MotionMetrics(preset)
    jobs = [(s, "pred", f"p{i:05d}") for i, s in enumerate(pred)] + [(s, "gt", f"g{i:05d}") for i, s in enumerate(gt)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for (_, role, _), f in zip(jobs, pool.map(lambda j: extract_features(j[0], 60.0, preset=preset, up_axis="y", beat_times=beats, name=j[2], role=j[1]), jobs), strict=True):
            m.update(f, role)
    t_feat = time.perf_counter() - t0
    scores = m.compute()
    return t_feat, time.perf_counter() - t0, scores, m


def run_reference(src, pred, gt, beats):
    sys.path.insert(0, os.path.join(src, "utils"))
    sys.modules.setdefault("matplotlib", type(sys)("matplotlib"))
    sys.modules.setdefault("matplotlib.pyplot", type(sys)("matplotlib.pyplot"))
    from beat_align_score import BA, calc_db  # type: ignore[import-not-found]
    from features.kinetic import extract_kinetic_features  # type: ignore[import-not-found]
    from features.manual_new import extract_manual_features  # type: ignore[import-not-found]
    from metrics_new import calc_fid, calculate_avg_distance, normalize  # type: ignore[import-not-found]

    feats = {"pred": [], "gt": []}
    bas = {"pred": [], "gt": []}
    t0 = time.perf_counter()
    for role, seqs in (("pred", pred), ("gt", gt)):
        for s in seqs:
            j = s.reshape(len(s), 72)[:1200]
            j = j - np.tile(j[:1, :3], (1, 24))
            feats[role].append((extract_kinetic_features(j.reshape(-1, 24, 3)), extract_manual_features(j.reshape(-1, 24, 3))))
            db, length = calc_db(s.reshape(len(s), 72))
            mb = np.zeros(len(s), bool)
            mb[np.rint(beats * 60).astype(int)] = True
            bas[role].append(BA(np.arange(length)[mb[:length]], db))
    k = {r: np.stack([f[0] for f in feats[r]]) for r in feats}
    g = {r: np.stack([f[1] for f in feats[r]]) for r in feats}
    gk, pk = normalize(k["gt"], k["pred"])
    gg, pg = normalize(g["gt"], g["pred"])
    metrics = {"fid_k": np.real(calc_fid(pk, gk)), "fid_g": np.real(calc_fid(pg, gg)), "div_k": calculate_avg_distance(pk),
               "div_g": calculate_avg_distance(pg), "div_k_gt": calculate_avg_distance(gk), "div_g_gt": calculate_avg_distance(gg),
               "bas": np.mean(bas["pred"]), "bas_gt": np.mean(bas["gt"])}
    return time.perf_counter() - t0, metrics, k, g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="sequences per set")
    ap.add_argument("--frames", type=int, default=1200)
    ap.add_argument("--k", type=int, default=10, help="sequences per set for the reference run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bailando-src", default=None)
    args = ap.parse_args()
    pred, gt = make_sequences(args.n, args.frames, 1), make_sequences(args.n, args.frames, 2)
    beats = np.arange(0.25, args.frames / 60.0, 0.5)
    print(f"input: {args.n} pred + {args.n} GT sequences × {args.frames} frames × 24 joints; {os.cpu_count()} CPUs; "
          f"{args.workers} worker threads")
    for name in ("bailando-aistpp", "clean"):
        t_feat, t_all, scores, _ = run_ours(pred, gt, beats, name, args.workers)
        print(f"macedance {name:16s} features {t_feat:6.2f} s, all metrics {t_all:6.2f} s "
              f"({2 * args.n / t_all:,.0f} sequences/s)")
    if not args.bailando_src:
        print("reference: skipped (pass --bailando-src)")
        return
    kk = args.k
    t_ref, ref, k_ref, g_ref = run_reference(args.bailando_src, pred[:kk], gt[:kk], beats)
    t_ours_k, t_ours, ours, m = run_ours(pred[:kk], gt[:kk], beats, "bailando-aistpp", 1)
    per_ref, per_ours = t_ref / (2 * kk), t_all / (2 * args.n)
    k_ours = {r: m._stack(r, "kinetic") for r in ("pred", "gt")}
    g_ours = {r: m._stack(r, "geometric") for r in ("pred", "gt")}
    feat_err = max(float(np.max(np.abs(k_ours[r] - k_ref[r]) / np.maximum(np.abs(k_ref[r]), 1e-12))) for r in k_ref)
    feat_err = max(feat_err, max(float(np.max(np.abs(g_ours[r] - g_ref[r]))) for r in g_ref))
    print(f"reference (Bailando) on {kk}+{kk} sequences: {t_ref:.2f} s = {per_ref * 1e3:.1f} ms/sequence")
    print(f"macedance on the same {kk}+{kk} (1 thread): {t_ours:.3f} s = {t_ours / (2 * kk) * 1e3:.2f} ms/sequence")
    print(f"speed-up per sequence: {per_ref / (t_ours / (2 * kk)):.0f}× (1 thread, same input); "
          f"{per_ref / per_ours:.0f}× vs the full {2 * args.n}-sequence run ({args.workers} threads)")
    print(f"max relative difference of features: {feat_err:.2e}")
    print(f"{'metric':10s}{'reference':>22s}{'macedance':>22s}{'rel. diff':>12s}")
    for key, rv in ref.items():
        ov = ours[key].value
        print(f"{key:10s}{float(rv):22.10g}{ov:22.10g}{abs(ov - float(rv)) / max(abs(float(rv)), 1e-300):12.2e}")


if __name__ == "__main__":
    main()
