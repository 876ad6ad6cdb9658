"""EDGE from its released checkpoint as a benchmark method, following ``test.py``: the music is cut into 5-s
windows every 2.5 s (``data/slice.py``: native sample rate, each slice written as 16-bit WAV), features are computed
per window, ``long_ddim_sample`` denoises all windows together (guidance ramp, overlap copying) and
``render_sample(mode="long")`` stitches them (linear fades for the root, slerp for rotations).

Where we differ from ``test.py``, by choice: it takes a *random* run of ``int(out_length / 2.5) − 1`` windows; here
the windows start at the beginning of the music and cover it (or ``seconds``; the output is cut to that length, so a
multiple of 2.5 s gives exactly the official windows). The released checkpoint takes 4800-d Jukebox features
(jukemirlib, layer 66): give them precomputed, as ``test.py --cache_features`` writes them (a folder of
``<song>_slice<i>.npy``) or as one (S, 150, 4800) ``.npy``; 35-d ("baseline") checkpoints also take audio.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError
from macedance.methods.official.checkpoint import ReleasedCheckpoint, WeightsChoice, read_released_checkpoint
from macedance.models.official.ddim import Noise, RngMode
from macedance.models.official.edge import EdgeConfig, EdgeDanceDecoder
from macedance.models.official.edge_sampling import GUIDANCE_WEIGHT, edge_long_ddim_sample, stitch_long
from macedance.schema import Motion

FPS = 30.0
MUSIC_PRESET = "edge"  # baseline_features.py on each 5-s slice (150 rows)


def load_edge(ckpt: ReleasedCheckpoint, *, device: str = "cpu", num_heads: int = 8) -> EdgeDanceDecoder:
    """The official network with the checkpoint's weights (``strict=True``), in eval mode (8 heads as released)."""
    cfg = EdgeConfig.from_state_dict(ckpt.state_dict, num_heads=num_heads, source=ckpt.source)
    model = EdgeDanceDecoder(cfg)
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as exc:
        raise DataFormatError(f"{ckpt.source}: not an EDGE DanceDecoder state dict ({str(exc).splitlines()[0]})") from None
    if ckpt.normalizer is None or ckpt.normalizer.channels != cfg.nfeats:
        raise DataFormatError(f"{ckpt.source}: `normalizer`: expected a {cfg.nfeats}-channel Normalizer, found "
                              f"{'none' if ckpt.normalizer is None else ckpt.normalizer.channels}")
    return model.to(device).eval()


def _slice_index(path: Path) -> int:
    m = re.search(r"slice(\d+)$", path.stem)
    if m is None:
        raise DataFormatError(f"{path}: expected a feature file named <song>_slice<i>.npy (EDGE's feature cache)")
    return int(m.group(1))


def _audio_windows(music: Path, *, dim: int, window: int) -> np.ndarray:
    """(S, window, 35) features of the window-long slices (5 s for the released 150 frames) at half-window stride of
    an audio/video file, sliced and analysed as ``test.py`` does."""
    import soundfile as sf

    from macedance.io.audio import load_audio
    from macedance.music.analysis import analyze_file
    from macedance.music.presets import get_music_preset

    if dim != 35:
        raise MaceDanceError(f"{music}: this EDGE checkpoint takes {dim}-d (Jukebox) features, which macedance does not compute; "
                             "give the features EDGE's test.py --cache_features writes (a folder of <song>_slice<i>.npy) "
                             f"or one (S, {window}, {dim}) .npy")
    audio = load_audio(music)
    sr, n = audio.sample_rate, audio.samples.shape[0]
    seconds = window / FPS  # 5 s for the released model
    length, stride = int(seconds * sr), int(seconds / 2 * sr)
    starts = list(range(0, n - length + 1, stride))
    if not starts:
        raise MaceDanceError(f"{music}: {audio.duration:.2f} s of music is shorter than one {seconds:g}-s window")
    preset = get_music_preset(MUSIC_PRESET)
    out = []
    with tempfile.TemporaryDirectory(prefix="macedance-edge-") as tmp:
        for i, s in enumerate(starts):
            piece = Path(tmp) / f"{music.stem}_slice{i}.wav"
            sf.write(piece, audio.samples[s : s + length], sr, subtype="PCM_16")  # as slice_audio's sf.write
            out.append(analyze_file(piece, preset)[0].features[:window])
    return np.stack(out).astype(np.float32)


def edge_windows(music: Path, *, dim: int, window: int = 150) -> np.ndarray:
    """(S, window, dim) music features of consecutive windows (stride window/2) for ``music``: a folder of EDGE's cached
    ``<song>_slice<i>.npy``, an (S, window, dim) or a continuous (T, dim) ``.npy``, or an audio/video file."""
    if music.is_dir():
        files = sorted(music.glob("*.npy"), key=_slice_index)
        if not files:
            raise InputNotFoundError(f"{music}: no <song>_slice<i>.npy feature files in the folder")
        arrays = [np.load(f, allow_pickle=False) for f in files]
        bad = next((f for f, a in zip(files, arrays, strict=True) if a.shape != (window, dim)), None)
        if bad is not None:
            raise DataFormatError(f"{bad}: expected features of shape ({window}, {dim}), found {np.load(bad).shape}")
        return np.stack(arrays).astype(np.float32)
    if music.suffix.lower() == ".npy":
        feats = np.load(music, allow_pickle=False)
        if feats.ndim == 3 and feats.shape[1:] == (window, dim):
            return feats.astype(np.float32)
        if feats.ndim == 2 and feats.shape[1] == dim and feats.shape[0] >= window:
            starts = range(0, feats.shape[0] - window + 1, window // 2)
            return np.stack([feats[s : s + window] for s in starts]).astype(np.float32)
        raise DataFormatError(f"{music}: expected (S, {window}, {dim}) window features or (T ≥ {window}, {dim}) features, found {feats.shape}")
    return _audio_windows(music, dim=dim, window=window)


class ReleasedEdge:
    """``edge-official``: generate with the released checkpoint (see :mod:`macedance.methods.official.released`)."""

    name = "edge-official"

    def __init__(self, ckpt: Path, *, weights: WeightsChoice = "ema", device: str = "cpu", rng: RngMode = "macedance",
                 guidance: float = GUIDANCE_WEIGHT, steps: int = 50, num_heads: int = 8):
        self.checkpoint = read_released_checkpoint(ckpt, weights=weights)
        self.model = load_edge(self.checkpoint, device=device, num_heads=num_heads)
        self.device, self.rng, self.guidance, self.steps = device, rng, guidance, steps

    def sample(self, windows: np.ndarray, *, seed: int, progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(S, 150, C) window features → stitched (T', 24, 3) axis-angle poses and (T', 3) root positions."""
        cond = torch.as_tensor(windows, dtype=torch.float32).to(self.device)
        x = edge_long_ddim_sample(self.model, cond, noise=Noise(seed=seed, mode=self.rng), weight=self.guidance, steps=self.steps,
                                  progress=progress)
        assert self.checkpoint.normalizer is not None
        return stitch_long(self.checkpoint.normalizer.unnormalize(x.cpu()))

    def generate(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                 progress: Callable[[int, int], None] | None = None) -> Motion:
        """Windows from the start of the music covering it (or ``seconds``), denoised together and stitched; ``genre``
        is not used (EDGE has no genre input)."""
        cfg = self.model.cfg
        windows = edge_windows(music, dim=cfg.cond_feature_dim, window=cfg.seq_len)
        half = cfg.seq_len // 2
        available = cfg.seq_len + half * (len(windows) - 1)
        if seconds is None:
            frames, count = available, len(windows)
        else:
            frames = int(round(seconds * FPS))
            if frames > available:
                raise MaceDanceError(f"{music}: the music's windows cover {available / FPS:.2f} s, asked for {frames / FPS:.2f} s")
            count = max(1, math.ceil((frames - cfg.seq_len) / half) + 1)
        poses, trans = self.sample(windows[:count], seed=seed, progress=progress)
        meta = {"generator": self.name, "checkpoint_sha256": self.checkpoint.sha256, "weights": self.checkpoint.weights,
                "seed": str(seed), "rng": self.rng, "guidance": f"{self.guidance:g}", "steps": str(self.steps), "windows": str(count),
                "music": str(music)}
        return Motion(poses[:frames].numpy().astype(np.float64), trans[:frames].numpy().astype(np.float64), FPS, "z", meta=meta)
