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

import numpy as np

from macedance.io.motion_layouts import finedance_pkl_motion
from macedance.methods.official.checkpoint import ReleasedCheckpoint, load_into
from macedance.methods.official.edge import WindowedRunner, windows_for
from macedance.models.official.finenet import FineNet, FineNetConfig
from macedance.models.official.finenet_sampling import render_long_finenet
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


class ReleasedFineNet(WindowedRunner):
    """``finenet-official``: generate with the released checkpoint (see :mod:`macedance.methods.official.released`)."""

    name = "finenet-official"
    load = staticmethod(load_finenet)

    def sample(self, windows: np.ndarray, *, seed: int, progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
        """(S, 120, 35) window features → the official file's arrays: ``smpl_poses`` (T', 156), ``smpl_trans`` (T', 3)."""
        return render_long_finenet(self.denoise(windows, seed=seed, progress=progress))

    def generate(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                 progress: Callable[[int, int], None] | None = None) -> Motion:
        """Windows from the start of the music covering it (or ``seconds``), denoised together and stitched; ``genre``
        is not used (the released FineNet has no genre input). The SMPL-H output keeps its 22 body joints (SMPL's
        hand joints 22–23 identity), y-up, as FineDance's files are read."""
        return self.generate_file(music, seconds=seconds, seed=seed, genre=genre, progress=progress)[0]

    def generate_file(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                      progress: Callable[[int, int], None] | None = None) -> tuple[Motion, dict[str, np.ndarray]]:
        """:meth:`generate` and the official file's arrays (``render_sample(mode="long")``'s pickle: ``smpl_poses``
        (T, 156) SMPL-H axis-angle with the hands, ``smpl_trans`` (T, 3), float32, y-up), cut to the same frames."""
        cfg = self.model.cfg
        windows, frames = windows_for(music, dim=cfg.cond_feature_dim, window=cfg.seq_len, seconds=seconds, preset=MUSIC_PRESET)
        out = {k: v[:frames] for k, v in self.sample(windows, seed=seed, progress=progress).items()}
        motion = finedance_pkl_motion(out, source=str(music))
        return motion.replace(meta={**motion.meta, **self.meta(seed=seed, windows=len(windows), music=music)}), out
