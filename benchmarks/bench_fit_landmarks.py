"""Refit a self-check's built clips with other SMPL-fit settings and score them against the ground truth.

Reads the folder written by ``macedance data selfcheck OUT``, runs the builder's pose backend again on
every kept built window (as ``data build`` does: frames downscaled to 640 px, a fresh tracker per
window), then fits each with ``fit_smpl`` under several ``FitConfig`` variants (the landmark weight
``w_3d``, the L-BFGS ``iterations``, and 2D only) and prints MPJPE, PA-MPJPE, world MPJPE (mm, as the
self-check defines them), the mean root pitch error (degrees, positive = towards the camera) and the
fit seconds per clip, averaged over the clips.

    .venv/bin/python benchmarks/bench_fit_landmarks.py OUT [--weights 10,3,1,0.3,0.1] [--iterations 200,120]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("selfcheck", type=Path)
    ap.add_argument("--weights", default="10,3,1,0.3,0.1")
    ap.add_argument("--iterations", default="", help="also fit with the default w_3d and these iteration counts (iterations_landmarks)")
    a = ap.parse_args()
    from macedance.datasets.curation.manifest import read_manifest
    from macedance.io.video import iter_frames
    from macedance.motion.camera import world_offset
    from macedance.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle
    from macedance.motion.skeleton import builtin_skeleton
    from macedance.pose.backends import get_backend
    from macedance.pose.fit import FitConfig, fit_smpl
    from macedance.pose.metrics import mpjpe, pa_mpjpe
    from macedance.schema import load_motion

    root = a.selfcheck
    params = json.loads((root / "selfcheck.json").read_text())["params"]
    if params["build"]["smpl_model"] or params["render"]["smpl_model"]:
        raise SystemExit("this script uses the built-in skeleton; run it on a self-check without --smpl-model")
    rendered = {r["candidate_id"]: r for r in read_manifest(root / "rendered" / "manifest.parquet") if r["status"] == "kept"}
    rest = builtin_skeleton()
    backend = get_backend("mediapipe")
    clips = []
    for row in read_manifest(root / "built" / "manifest.parquet"):
        if row["status"] != "kept":
            continue
        cid, (s, e) = Path(row["source_video"]).stem, (row["start_frame"], row["end_frame"])
        backend.start_shot()
        kps, worlds = [], []
        for frame in iter_frames(root / "rendered" / "videos" / f"{cid}.mp4", start=s, max_frames=e - s, max_side=640):
            kp, world = backend(frame)
            kp = kp.copy()
            kp[:, :2] *= row["width"] / frame.shape[1]
            kps.append(kp)
            worlds.append(world)
        gt = load_motion(root / "rendered" / rendered[cid]["motion_path"]).slice(s, e)
        J = gt.joints(rest)
        clips.append((np.stack(kps), np.stack(worlds), J + world_offset(J), gt, (row["width"], row["height"]), row["src_fps"]))
    variants = [(f"w_3d = {float(w):g}", FitConfig(w_3d=float(w)), True) for w in a.weights.split(",") if w]
    variants += [(f"{int(n)} iter.", FitConfig(iterations_landmarks=int(n)), True) for n in a.iterations.split(",") if n]
    variants += [("2D only", FitConfig(), False)]
    print(f"{len(clips)} clips; means over clips")
    print(f"{'FitConfig':<12} {'MPJPE':>7} {'PA-MPJPE':>9} {'world':>7} {'pitch':>7} {'fit s':>6}")
    for name, cfg, landmarks in variants:
        rows = []
        for kp, world, J_gt, gt, size, fps in clips:
            t0 = time.perf_counter()
            res = fit_smpl(kp, "mediapipe33", size, fps, landmarks3d=world if landmarks else None, rest=rest, config=cfg)
            seconds = time.perf_counter() - t0
            J = res.motion.joints(rest)
            rel = axis_angle_to_matrix(res.motion.poses[:, 0]) @ np.swapaxes(axis_angle_to_matrix(gt.poses[:, 0]), -1, -2)
            pitch = np.degrees(matrix_to_axis_angle(rel)[:, 0]).mean()
            rows.append((mpjpe(J, J_gt), pa_mpjpe(J, J_gt), float(np.linalg.norm(J - J_gt, axis=-1).mean() * 1000), pitch, seconds))
        m = np.mean(rows, axis=0)
        print(f"{name:<12} {m[0]:7.1f} {m[1]:9.1f} {m[2]:7.1f} {m[3]:+7.1f} {m[4]:6.1f}")


if __name__ == "__main__":
    main()
