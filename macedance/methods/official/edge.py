"""EDGE from its released checkpoint as a benchmark method, following ``test.py``: the music is cut into 5-s
windows every 2.5 s (``data/slice.py``: native sample rate, each slice written as 16-bit WAV), features are computed
per window, ``long_ddim_sample`` denoises all windows together (guidance ramp, overlap copying) and
``render_sample(mode="long")`` stitches them (linear fades for the root, slerp for rotations).

Where we differ from ``test.py``, by choice: it takes a *random* run of ``int(out_length / 2.5) − 1`` whole windows; here
the windows start at the beginning of the music and cover all of it (or ``seconds``): the last window is completed
with silence (audio) or by repeating the last feature row, and the output is cut to the music's length — a multiple
of 2.5 s gives exactly the official windows. The released checkpoint takes 4800-d Jukebox features (jukemirlib,
layer 66): from audio they are computed per window by :mod:`macedance.music.jukebox` once the Jukebox weights are
imported, or they are given precomputed, as ``test.py --cache_features`` writes them (a folder of
``<song>_slice<i>.npy``) or as one (S, 150, 4800) ``.npy``; 35-d ("baseline") checkpoints take audio with the ``edge``
music preset.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError
from macedance.methods.official.checkpoint import ReleasedCheckpoint, WeightsChoice, load_into, read_released_checkpoint
from macedance.models.official.ddim import Noise, RngMode
from macedance.models.official.edge import EdgeConfig, EdgeDanceDecoder
from macedance.models.official.edge_sampling import GUIDANCE_WEIGHT, edge_long_ddim_sample, stitch_long
from macedance.models.official.mace_sampling import CompileMode
from macedance.schema import Motion

if TYPE_CHECKING:
    from macedance.music.jukebox import JukeboxExtractor
    from macedance.music.presets import MusicPreset

log = logging.getLogger(__name__)

FPS = 30.0
MUSIC_PRESET = "edge"  # baseline_features.py on each 5-s slice (150 rows)


def load_edge(ckpt: ReleasedCheckpoint, *, device: str = "cpu", num_heads: int | None = None) -> EdgeDanceDecoder:
    """The official network with the checkpoint's weights (``strict=True``), in eval mode (8 heads as released)."""
    cfg = EdgeConfig.from_state_dict(ckpt.state_dict, num_heads=ckpt.heads(num_heads), source=ckpt.source)
    return load_into(EdgeDanceDecoder(cfg), ckpt, what="an EDGE DanceDecoder", nfeats=cfg.nfeats, device=device)  # type: ignore[return-value]


def _slice_index(path: Path) -> int:
    m = re.search(r"slice(\d+)$", path.stem)
    if m is None:
        raise DataFormatError(f"{path}: expected a feature file named <song>_slice<i>.npy (EDGE's feature cache)")
    return int(m.group(1))


def windows_covering(frames: int, window: int) -> int:
    """How many windows at half-window stride cover ``frames`` frames (at least one)."""
    return max(1, math.ceil((frames - window) / (window // 2)) + 1)


def cut_windows(feats: np.ndarray, *, window: int, frames: int | None = None) -> np.ndarray:
    """(T, C) continuous features → (S, window, C) windows at half-window stride covering ``frames`` (default T); the
    last window's missing rows repeat the last frame (the output is cut to ``frames``)."""
    frames = feats.shape[0] if frames is None else frames
    count = windows_covering(frames, window)
    need = window + (window // 2) * (count - 1)
    if feats.shape[0] < need:
        feats = np.concatenate([feats, np.repeat(feats[-1:], need - feats.shape[0], axis=0)])
    return np.stack([feats[i * (window // 2) : i * (window // 2) + window] for i in range(count)]).astype(np.float32)


def _audio_windows(music: Path, *, dim: int, window: int, frames: int | None, preset: MusicPreset | None = None,
                   jukebox: JukeboxExtractor | None = None) -> np.ndarray:
    """(S, window, dim) features of the window-long slices (5 s for the released 150 frames) at half-window stride of
    an audio/video file, sliced and analysed as ``test.py`` does — 35-d with ``preset`` (default ``edge``), 4800-d
    with ``jukebox`` (jukemirlib layer 66); the last slice is completed with silence when the music does not fill it."""
    import soundfile as sf

    from macedance.io.audio import load_audio
    from macedance.models.official.jukebox import SAMPLE_RATE
    from macedance.music.analysis import analyze_file
    from macedance.music.presets import get_music_preset

    if (jukebox is None) != (dim == 35):
        raise MaceDanceError(f"{music}: {dim}-d window features need {'no ' if dim == 35 else ''}Jukebox extractor")
    audio = load_audio(music)
    sr, y = audio.sample_rate, audio.samples
    seconds = window / FPS  # 5 s for the released model
    length, stride = int(seconds * sr), int(seconds / 2 * sr)
    frames = int(round(audio.duration * FPS)) if frames is None else frames
    count = windows_covering(frames, window)
    need = length + stride * (count - 1)
    if y.shape[0] < need:
        y = np.concatenate([y, np.zeros(need - y.shape[0], dtype=y.dtype)])
    preset = preset or get_music_preset(MUSIC_PRESET)
    out = []
    with tempfile.TemporaryDirectory(prefix="macedance-edge-") as tmp:
        for i in range(count):
            piece = Path(tmp) / f"{music.stem}_slice{i}.wav"
            sf.write(piece, y[i * stride : i * stride + length], sr, subtype="PCM_16")  # as slice_audio's sf.write
            if jukebox is None:
                out.append(analyze_file(piece, preset)[0].features[:window])
                continue
            log.info("%s: Jukebox features of window %d/%d", music.name, i + 1, count)
            feats = jukebox.features(load_audio(piece, SAMPLE_RATE).samples, fps=FPS)  # jukemirlib.load_audio(slice)
            if feats.shape[0] < window:
                raise DataFormatError(f"{music}: window {i} gave {feats.shape[0]} Jukebox frames, expected {window}")
            out.append(feats[:window])
    return np.stack(out).astype(np.float32)


def _jukebox_for(music: Path, *, dim: int, window: int, device: str) -> JukeboxExtractor:
    """The Jukebox extractor for a checkpoint that takes ``dim``-d features (else a one-line error naming what to give)."""
    from macedance.music.jukebox import load_jukebox, released_configs
    from macedance.weights import MissingWeightsError

    precomputed = f"or give the features precomputed (a folder of <song>_slice<i>.npy, as EDGE's test.py --cache_features writes, or one (S, {window}, {dim}) .npy)"
    if dim != released_configs()[1].width:
        raise MaceDanceError(f"{music}: this checkpoint takes {dim}-d music features, which macedance does not compute from audio; "
                             + precomputed.removeprefix("or "))
    try:
        return load_jukebox(device=device)
    except MissingWeightsError as exc:
        raise MissingWeightsError(f"{music}: this checkpoint takes Jukebox features; {exc} {precomputed}") from None


def music_feature_source(music: Path, *, dim: int) -> str:
    """What the windows' features were made from, for output metadata and result records."""
    if music.is_dir() or music.suffix.lower() == ".npy":
        return f"precomputed ({music.name})"
    if music.suffix.lower() == ".npz":
        return f"music file ({music.name})"
    if dim == 35:
        return f"{MUSIC_PRESET} preset per window"
    from macedance.music.jukebox import EDGE_LAYER, PRIOR_WEIGHTS, VQVAE_WEIGHTS
    from macedance.weights import manifest

    return (f"jukebox layer {EDGE_LAYER} per window ({VQVAE_WEIGHTS} {manifest(VQVAE_WEIGHTS)['sha256'][:12]}, "
            f"{PRIOR_WEIGHTS} {manifest(PRIOR_WEIGHTS)['sha256'][:12]})")


def music_frames(music: Path) -> int:
    """Frames (30 fps) of an audio/video file."""
    from macedance.io.audio import load_audio

    return int(round(load_audio(music).duration * FPS))


def edge_windows(music: Path, *, dim: int, window: int = 150, frames: int | None = None,
                 preset: MusicPreset | None = None, device: str = "cpu") -> tuple[np.ndarray, int | None]:
    """(S, window, dim) music features of consecutive windows (stride window/2) covering ``frames`` (default: the
    whole music) for ``music``: a folder of EDGE's cached ``<song>_slice<i>.npy`` or an (S, window, dim) ``.npy``
    (used as they are), a continuous (T, dim) ``.npy`` or our music ``.npz`` (cut into windows), or an audio/video
    file (analysed window by window, as ``test.py``: 35-d with ``preset``, default ``edge``; 4800-d with Jukebox on
    ``device``). Returns the windows and the music's length in frames (None for window features given as such)."""
    if music.is_dir():
        files = sorted(music.glob("*.npy"), key=_slice_index)
        if not files:
            raise InputNotFoundError(f"{music}: no <song>_slice<i>.npy feature files in the folder")
        arrays = [np.load(f, allow_pickle=False) for f in files]
        bad = next((f for f, a in zip(files, arrays, strict=True) if a.shape != (window, dim)), None)
        if bad is not None:
            raise DataFormatError(f"{bad}: expected features of shape ({window}, {dim}), found {np.load(bad).shape}")
        return np.stack(arrays).astype(np.float32), None
    if music.suffix.lower() in (".npy", ".npz"):
        if music.suffix.lower() == ".npz":  # our music file: continuous features over the whole track
            from macedance.music.analysis import features_of

            feats = features_of(music, preset=MUSIC_PRESET, dim=dim)
        else:
            feats = np.load(music, allow_pickle=False)
        if feats.ndim == 3 and feats.shape[1:] == (window, dim):
            return feats.astype(np.float32), None
        if feats.ndim == 2 and feats.shape[1] == dim and feats.shape[0] >= 2:
            if frames is not None and frames > feats.shape[0]:
                raise MaceDanceError(f"{music}: music has {feats.shape[0] / FPS:.2f} s, asked for {frames / FPS:.2f} s")
            return cut_windows(feats, window=window, frames=frames), int(feats.shape[0])
        raise DataFormatError(f"{music}: expected (S, {window}, {dim}) window features or (T, {dim}) features, found {feats.shape}")
    jukebox = _jukebox_for(music, dim=dim, window=window, device=device) if dim != 35 else None  # before reading: fails fast
    available = music_frames(music)
    if frames is not None and frames > available + 1:  # 1 frame of rounding
        raise MaceDanceError(f"{music}: music has {available / FPS:.2f} s, asked for {frames / FPS:.2f} s")
    return _audio_windows(music, dim=dim, window=window, frames=frames, preset=preset, jukebox=jukebox), available


def windows_for(music: Path, *, dim: int, window: int, seconds: float | None, preset: str | None = None,
                device: str = "cpu") -> tuple[np.ndarray, int]:
    """The windows to denoise for ``music`` — from its start, covering ``seconds`` or all of it — and the frames to
    keep of the stitched output."""
    frames = None if seconds is None else int(round(seconds * FPS))
    windows, available = edge_windows(music, dim=dim, window=window, frames=frames, preset=preset, device=device)
    covered = window + window // 2 * (len(windows) - 1)
    if frames is None:
        frames = min(covered, available) if available is not None else covered
    if frames > covered:
        raise MaceDanceError(f"{music}: the given windows cover {covered / FPS:.2f} s, asked for {frames / FPS:.2f} s")
    return windows[: windows_covering(frames, window)], frames


def write_feature_cache(files: list[Path], out: Path, *, dim: int = 4800, window: int = 150, device: str = "cpu",
                        progress: Callable[[int, int, str], None] | None = None) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """EDGE's feature cache for each audio/video file: ``out/<stem>/<stem>_slice<i>.npy`` (window, dim) float32, the
    windows :func:`edge_windows` computes (Jukebox for 4800-d), written atomically; a file that fails is recorded
    with its reason and the others go on. Returns ``[(stem, windows)]`` and ``[(file, reason)]``."""
    from macedance.fileio import atomic_write
    from macedance.weights import MissingWeightsError

    if dim != 35:
        from macedance.music.jukebox import load_jukebox

        load_jukebox(device=device)  # missing weights: one error for all files (and the networks load once)
    done: list[tuple[str, int]] = []
    bad: list[tuple[str, str]] = []
    for n, f in enumerate(files):
        if progress is not None:
            progress(n, len(files), f.name)
        try:
            windows, _ = edge_windows(f, dim=dim, window=window, device=device)
        except MissingWeightsError:
            raise  # the same for every file
        except (MaceDanceError, OSError) as exc:
            bad.append((str(f), str(exc)))
            continue
        folder = out / f.stem
        folder.mkdir(parents=True, exist_ok=True)
        for i, w in enumerate(windows):
            with atomic_write(folder / f"{f.stem}_slice{i}.npy") as fh:
                np.save(fh, w, allow_pickle=False)
        done.append((f.stem, len(windows)))
    if progress is not None:
        progress(len(files), len(files), "")
    return done, bad


class WindowedRunner:
    """A released EDGE-family method that samples windows with ``long_ddim_sample`` (EDGE, FineNet): the checkpoint,
    the network (``load``), the sampler settings, and the metadata of its outputs."""

    name = ""
    load: Callable[..., Any]  # (checkpoint, *, device, num_heads) → the network in eval mode

    def __init__(self, ckpt: Path, *, weights: WeightsChoice = "ema", device: str = "cpu", rng: RngMode = "macedance",
                 guidance: float = GUIDANCE_WEIGHT, steps: int = 50, num_heads: int | None = None,
                 compile_mode: CompileMode | None = None, cuda_graph: bool = False):
        self.checkpoint = read_released_checkpoint(ckpt, weights=weights)
        self.model = type(self).load(self.checkpoint, device=device, num_heads=num_heads)
        self.device, self.rng, self.guidance, self.steps = device, rng, guidance, steps
        self.fast: dict[str, Any] = {"compile_mode": compile_mode, "cuda_graph": cuda_graph}  # speed options of the sampler (default: eager)

    def denoise(self, windows: np.ndarray, *, seed: int, progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """(S, seq_len, C) window features → (S, seq_len, nfeats) normalised windows, on the CPU."""
        cond = torch.as_tensor(windows, dtype=torch.float32).to(self.device)
        return edge_long_ddim_sample(self.model, cond, noise=Noise(seed=seed, mode=self.rng), weight=self.guidance, steps=self.steps,
                                     progress=progress, **self.fast).cpu()

    def meta(self, *, seed: int, windows: int, music: Path) -> dict[str, str]:
        return {"generator": self.name, "checkpoint_sha256": self.checkpoint.sha256, "weights": self.checkpoint.weights, "seed": str(seed),
                "rng": self.rng, "guidance": f"{self.guidance:g}", "steps": str(self.steps), "windows": str(windows), "music": str(music)}


class ReleasedEdge(WindowedRunner):
    """``edge-official``: generate with the released checkpoint (see :mod:`macedance.methods.official.released`)."""

    name = "edge-official"
    load = staticmethod(load_edge)

    def sample(self, windows: np.ndarray, *, seed: int, progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(S, 150, C) window features → stitched (T', 24, 3) axis-angle poses and (T', 3) root positions."""
        assert self.checkpoint.normalizer is not None
        return stitch_long(self.checkpoint.normalizer.unnormalize(self.denoise(windows, seed=seed, progress=progress)))

    def generate(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                 progress: Callable[[int, int], None] | None = None) -> Motion:
        """Windows from the start of the music covering it (or ``seconds``), denoised together and stitched; ``genre``
        is not used (EDGE has no genre input)."""
        cfg = self.model.cfg
        windows, frames = windows_for(music, dim=cfg.cond_feature_dim, window=cfg.seq_len, seconds=seconds, device=self.device)
        poses, trans = self.sample(windows, seed=seed, progress=progress)
        meta = {**self.meta(seed=seed, windows=len(windows), music=music), "music_features": music_feature_source(music, dim=cfg.cond_feature_dim)}
        return Motion(poses[:frames].numpy().astype(np.float64), trans[:frames].numpy().astype(np.float64), FPS, "z", meta=meta)
