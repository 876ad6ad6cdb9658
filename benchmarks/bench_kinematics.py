"""Forward-kinematics throughput: macedance (numpy, torch) vs smplx's SMPL forward pass.

Same input for all: N sequences of T frames of random SMPL-24 axis-angle poses. smplx is run with
a synthetic SMPL-format model file (6890 vertices, as the real one) since the licensed file is not
shipped; its joints are compared with ours to show the numbers agree.

    .venv/bin/python benchmarks/bench_kinematics.py [--sequences 20] [--frames 1200] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from macedance.motion.kinematics import forward_kinematics
from macedance.motion.rotations import axis_angle_to_matrix
from macedance.motion.skeleton import skeleton_from_smplx

from conftest import make_smpl_model_file


def _best(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=20)
    ap.add_argument("--frames", type=int, default=1200)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    n = args.sequences * args.frames
    aa = rng.normal(scale=0.5, size=(n, 24, 3))
    trans = rng.normal(size=(n, 3))
    with tempfile.TemporaryDirectory() as d:
        import smplx

        model = make_smpl_model_file(Path(d) / "SMPL_NEUTRAL.pkl")
        skel = skeleton_from_smplx(model)
        body = smplx.SMPL(model_path=str(model), gender="neutral", dtype=torch.float64)

    def ours_np():
        return forward_kinematics(axis_angle_to_matrix(aa), trans, skel)

    ta, tt = torch.tensor(aa), torch.tensor(trans)

    def ours_torch():
        with torch.no_grad():
            return forward_kinematics(axis_angle_to_matrix(ta), tt, skel).numpy()

    def ref_smplx():
        outs = []
        with torch.no_grad():
            for s in range(0, n, 1200):  # smplx builds vertices too: chunk to bound memory
                o = body(global_orient=ta[s:s + 1200, 0], body_pose=ta[s:s + 1200, 1:].reshape(-1, 69),
                         transl=tt[s:s + 1200], betas=torch.zeros(min(1200, n - s), 10, dtype=torch.float64))
                outs.append(o.joints[:, :24].numpy())
        return np.concatenate(outs)

    t_ref, j_ref = _best(ref_smplx, repeat=1)
    t_np, j_np = _best(ours_np)
    t_t, j_t = _best(ours_torch)
    print(f"frames: {n} ({args.sequences} × {args.frames}), threads: {args.threads}")
    print(f"{'implementation':<28}{'seconds':>10}{'frames/s':>14}{'speed-up':>10}{'max |Δ| m':>12}")
    for name, t, j in (("smplx SMPL forward", t_ref, j_ref), ("macedance FK (numpy)", t_np, j_np),
                       ("macedance FK (torch CPU)", t_t, j_t)):
        print(f"{name:<28}{t:>10.3f}{n / t:>14,.0f}{t_ref / t:>9.1f}×{np.abs(j - j_ref).max():>12.1e}")


if __name__ == "__main__":
    main()
