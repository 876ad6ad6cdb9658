"""Non-learned reference methods: retrieval (nearest training clip by music features, beat-aligned),
random training clips, and the mean pose. They "train" by indexing the training set into a
checkpoint (tensors only) and generate through the same interface as the diffusion models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from macedance import __version__
from macedance.errors import MaceDanceError
from macedance.models.representation import CONTACT, ROT, TRANS, rep_to_motion
from macedance.motion.rotations import matrix_to_rot6d, rot6d_to_matrix
from macedance.schema import Motion
from macedance.training.data import load_training_set
from macedance.training.motion import CHECKPOINT, save_checkpoint

WINDOW = 240  # retrieval granularity (8 s at 30 fps)
BEAT = 34  # beat column of the 35-d music features


def build_reference(method: str, data: str | Path, run: str | Path, *, music_dir: str | Path | None = None) -> dict[str, Any]:
    """Index the training set for ``method`` into ``run/checkpoint.pt``."""
    seqs, skipped = load_training_set(data, music_dir)
    if not seqs:
        raise MaceDanceError(f"{data}: no usable training sequence")
    reps = [torch.as_tensor(s.rep) for s in seqs]
    musics = [torch.as_tensor(s.music) for s in seqs]
    feats = torch.cat(musics)
    state = {"method": method, "reps": reps, "musics": musics, "music_mean": feats.mean(0), "music_std": feats.std(0) + 1e-6,
             "mean_rep": torch.cat(reps).mean(0), "names": [s.name for s in seqs], "macedance_version": __version__, "step": 0}
    Path(run).mkdir(parents=True, exist_ok=True)
    save_checkpoint(Path(run) / CHECKPOINT, state)
    return {"run": str(run), "sequences": len(seqs), "skipped": skipped}


def _continue_root(rep: np.ndarray, start_xy: np.ndarray | None) -> np.ndarray:
    """Translate a segment horizontally (x, y; z is up) so that it starts at ``start_xy``."""
    out = rep.copy()
    if start_xy is not None:
        out[:, TRANS.start : TRANS.start + 2] += start_xy - out[0, TRANS.start : TRANS.start + 2]
    return out


def generate_reference(state: dict[str, Any], music: np.ndarray, seed: int = 0) -> Motion:
    """Motion for (T, 35) music features with a reference method checkpoint."""
    method, T = state["method"], len(music)
    rng = np.random.default_rng(seed)
    if method == "mean-pose":
        mean = state["mean_rep"].numpy().astype(np.float64)
        R = rot6d_to_matrix(mean[ROT].reshape(24, 6))  # project the averaged 6D back onto rotations
        mean[ROT] = matrix_to_rot6d(R).reshape(-1)
        rep = np.repeat(mean[None], T, axis=0)
        rep[:, CONTACT] = 1.0
        return rep_to_motion(rep, {"generator": "mean-pose"})
    reps = [r.numpy().astype(np.float64) for r in state["reps"]]
    pieces, start_xy, t = [], None, 0
    mu, sd = state["music_mean"].numpy(), state["music_std"].numpy()
    while t < T:
        n = min(WINDOW, T - t)
        if method == "random-clip":
            cands = [(i, s) for i, r in enumerate(reps) for s in range(0, len(r) - n + 1, 10)]
            if not cands:
                raise MaceDanceError(f"no training sequence has {n} frames")
            i, s = cands[int(rng.integers(len(cands)))]
        else:
            q = (music[t : t + n] - mu) / sd
            best = (np.inf, 0, 0)
            for i, m in enumerate(state["musics"]):
                m = (m.numpy() - mu) / sd
                if len(m) < n:
                    continue
                win = np.lib.stride_tricks.sliding_window_view(m, n, axis=0)[::5]  # (K, 35, n)
                d = ((win - q.T[None]) ** 2).mean(axis=(1, 2))
                k = int(np.argmin(d))
                if d[k] < best[0]:
                    best = (float(d[k]), i, 5 * k)
            if not np.isfinite(best[0]):
                raise MaceDanceError(f"no training sequence has {n} frames")
            _, i, s = best
            s = _beat_align(state["musics"][i].numpy()[:, BEAT], music[t : t + n, BEAT], s, n)
        seg = _continue_root(reps[i][s : s + n], start_xy)
        pieces.append(seg)
        start_xy = seg[-1, TRANS.start : TRANS.start + 2]
        t += n
    return rep_to_motion(np.concatenate(pieces), {"generator": method})


def _beat_align(train_beats: np.ndarray, query_beats: np.ndarray, s: int, n: int, reach: int = 15) -> int:
    """Shift the retrieved start by up to ±reach frames to maximise beat coincidences."""
    best, best_s = -1.0, s
    for off in range(-reach, reach + 1):
        st = s + off
        if st < 0 or st + n > len(train_beats):
            continue
        score = float(np.dot(train_beats[st : st + n], query_beats)) - 1e-3 * abs(off)
        if score > best:
            best, best_s = score, st
    return best_s
