"""FineDance's FineNet from its released checkpoint (``train-2000.pt``) as a benchmark method, following ``test.py``:
the music is cut into 4-s slices every 2 s (``slice_audio``: native sample rate, each slice written as 16-bit WAV),
``extract`` computes the 35-d features of each slice (120 rows), ``long_ddim_sample`` denoises all windows together
and ``render_sample(mode="long")`` stitches them (SMPL-H, 52 joints; no normaliser: ``--do_normalize`` is off).

Features: ``extract`` is EDGE's ``baseline_features.py`` cut to 120 rows with ``start_bpm`` always estimated
(``librosa.beat.tempo`` on the slice loaded at 22050 Hz). Our ``edge`` preset is that computation cut to 150 rows, and
it (like ``lodge``) takes the start tempo from an AIST++ music id in the file name when there is one; so the runner
uses ``edge`` with ``start_bpm="estimate"`` and ``crop_frames=120`` (:data:`MUSIC_PRESET`).

Where we differ from ``test.py``, by choice (as for ``edge-official``): it takes a *random* run of
``int(out_length / 2) − 1`` whole slices; here the windows start at the beginning of the music and cover all of it
(or ``seconds``); the last slice is completed with silence, the output cut to the music's length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from macedance.errors import MaceDanceError
from macedance.io.motion_layouts import finedance_pkl_motion
from macedance.methods.official.checkpoint import ReleasedCheckpoint, WeightsChoice, load_into, read_released_checkpoint
from macedance.methods.official.edge import edge_windows, windows_covering
from macedance.models.official.ddim import Noise, RngMode
from macedance.models.official.edge_sampling import GUIDANCE_WEIGHT, edge_long_ddim_sample
from macedance.models.official.finenet import FineNet, FineNetConfig
from macedance.models.official.finenet_sampling import render_long_finenet
from macedance.models.official.mace_sampling import CompileMode
from macedance.music.presets import EDGE as _EDGE_PRESET
from macedance.schema import Motion

FPS = 30.0
#: FineDance test.py ``extract``: EDGE's baseline features of each 4-s slice, 120 rows, start tempo always estimated
MUSIC_PRESET = dataclasses.replace(
    _EDGE_PRESET, name="finenet", crop_frames=120, start_bpm="estimate",
    description="FineDance test.py extract: EDGE's 35-d baseline features of a 4-s slice (120 rows at 30 fps, sr 15360); "
    "start_bpm always librosa.beat.tempo at 22050 Hz.", reference="li-ronghui/FineDance@bb13fe8 test.py (extract)")


def load_finenet(ckpt: ReleasedCheckpoint, *, device: str = "cpu", num_heads: int | None = None) -> FineNet:
    """The official ``SeqModel`` with the checkpoint's weights (``strict=True``), in eval mode (8 heads as released)."""
    cfg = FineNetConfig.from_state_dict(ckpt.state_dict, num_heads=ckpt.heads(num_heads), source=ckpt.source)
    return load_into(FineNet(cfg), ckpt, what="a FineDance SeqModel", nfeats=cfg.nfeats, device=device, normalized=False)  # type: ignore[return-value]


class ReleasedFineNet:
    """``finenet-official``: generate with the released checkpoint (see :mod:`macedance.methods.official.released`)."""

    name = "finenet-official"

    def __init__(self, ckpt: Path, *, weights: WeightsChoice = "ema", device: str = "cpu", rng: RngMode = "macedance",
                 guidance: float = GUIDANCE_WEIGHT, steps: int = 50, num_heads: int | None = None,
                 compile_mode: CompileMode | None = None, cuda_graph: bool = False):
        self.checkpoint = read_released_checkpoint(ckpt, weights=weights)
        self.model = load_finenet(self.checkpoint, device=device, num_heads=num_heads)
        self.device, self.rng, self.guidance, self.steps = device, rng, guidance, steps
        self.fast: dict[str, Any] = {"compile_mode": compile_mode, "cuda_graph": cuda_graph}  # speed options of the sampler (default: eager)

    def sample(self, windows: np.ndarray, *, seed: int, progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
        """(S, 120, 35) window features → the official file's arrays: ``smpl_poses`` (T', 156), ``smpl_trans`` (T', 3)."""
        cond = torch.as_tensor(windows, dtype=torch.float32).to(self.device)
        x = edge_long_ddim_sample(self.model, cond, noise=Noise(seed=seed, mode=self.rng), weight=self.guidance,  # type: ignore[arg-type]
                                  steps=self.steps, progress=progress, **self.fast)
        return render_long_finenet(x.cpu())

    def generate(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                 progress: Callable[[int, int], None] | None = None) -> Motion:
        """Windows from the start of the music covering it (or ``seconds``), denoised together and stitched; ``genre``
        is not used (the released FineNet has no genre input). The SMPL-H output keeps its 22 body joints (SMPL's
        hand joints 22–23 identity), y-up, as FineDance's files are read."""
        cfg = self.model.cfg
        frames = None if seconds is None else int(round(seconds * FPS))
        windows, available = edge_windows(music, dim=cfg.cond_feature_dim, window=cfg.seq_len, frames=frames, preset=MUSIC_PRESET)
        covered = cfg.seq_len + cfg.seq_len // 2 * (len(windows) - 1)
        if frames is None:
            frames = min(covered, available) if available is not None else covered
        if frames > covered:
            raise MaceDanceError(f"{music}: the given windows cover {covered / FPS:.2f} s, asked for {frames / FPS:.2f} s")
        count = windows_covering(frames, cfg.seq_len)
        out = self.sample(windows[:count], seed=seed, progress=progress)
        motion = finedance_pkl_motion({k: v[:frames] for k, v in out.items()}, source=str(music))
        meta = {**motion.meta, "generator": self.name, "checkpoint_sha256": self.checkpoint.sha256, "weights": self.checkpoint.weights,
                "seed": str(seed), "rng": self.rng, "guidance": f"{self.guidance:g}", "steps": str(self.steps), "windows": str(count),
                "music": str(music)}
        return motion.replace(meta=meta)
