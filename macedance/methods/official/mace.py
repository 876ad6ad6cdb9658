"""The released MACE-Dance Motion Expert as a benchmark method: the official checkpoint (``train-3750.pt``, or the
``Expert-Motion.7z`` holding it), the official sampler, the 35-d EDGE baseline features, the 16 FineDance genres."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from macedance.errors import DataFormatError, ValidationError
from macedance.methods.official.checkpoint import ReleasedCheckpoint, WeightsChoice, load_into, read_released_checkpoint
from macedance.models.official.ddim import Noise, RngMode
from macedance.models.official.mace import MACE_GENRES, MaceConfig, MaceDanceDecoder
from macedance.models.official.mace_sampling import CompileMode, mace_ddim_sample
from macedance.music.analysis import features_of
from macedance.schema import Motion

log = logging.getLogger(__name__)

MUSIC_PRESET = "lodge"  # EDGE's baseline features over the whole file (see the preset's description)
#: AIST++ genre codes → the nearest of the 16 genres the released model knows (our choice; recorded in the output).
AIST_TO_MACE = {"gBR": "Breaking", "gPO": "Popping", "gLO": "Locking", "gLH": "Hiphop", "gMH": "Hiphop", "gJS": "Jazz",
                "gJB": "Jazz", "gHO": "Urban", "gKR": "Urban", "gWA": "Urban"}
DEFAULT_GENRE = "Hiphop"


def mace_genre(genre: str | None, *, strict: bool = True) -> str:
    """One of :data:`MACE_GENRES` for a genre name (any case), an AIST++ code or genre name (``gBR``, ``Break``), or None
    (→ ``DEFAULT_GENRE``). Another name is an error, or with ``strict=False`` (benchmark clips) the default, logged."""
    from macedance.datasets.importers.aistpp import GENRES as AIST_NAMES

    if genre is None or genre == "unknown":
        return DEFAULT_GENRE
    by_lower = {g.lower(): g for g in MACE_GENRES}
    by_lower.update({name.lower(): AIST_TO_MACE[code] for code, name in AIST_NAMES.items()})
    if genre.lower() in by_lower:
        return by_lower[genre.lower()]
    if genre[:3] in AIST_TO_MACE:
        return AIST_TO_MACE[genre[:3]]
    if not strict:
        log.warning("genre %r is not one of the released model's genres: using %s", genre, DEFAULT_GENRE)
        return DEFAULT_GENRE
    raise ValidationError("genre", "one of " + ", ".join(MACE_GENRES) + " (or an AIST++ genre)", repr(genre))


def load_mace(ckpt: ReleasedCheckpoint, *, device: str = "cpu", num_heads: int | None = None) -> MaceDanceDecoder:
    """The official network with the checkpoint's weights (``strict=True``), in eval mode. The attention head count
    is not visible in the weights' shapes: the released model has 8."""
    try:
        cfg = MaceConfig.from_state_dict(ckpt.state_dict, num_heads=ckpt.heads(num_heads))
    except (KeyError, IndexError, ValueError) as exc:
        raise DataFormatError(f"{ckpt.source}: not a MACE-Dance Motion Expert state dict (cannot read its sizes: {exc!r})") from None
    return load_into(MaceDanceDecoder(cfg), ckpt, what="a MACE-Dance Motion Expert", nfeats=cfg.nfeats, device=device)  # type: ignore[return-value]


def rep151_to_motion(rep: np.ndarray, meta: dict[str, str]) -> Motion:
    """(T, 151) unnormalised EDGE-family representation (4 contacts, root, 24 × 6D; z-up, 30 fps) → Motion."""
    from macedance.models.representation import rep_to_motion

    return rep_to_motion(rep, meta)


class ReleasedMace:
    """``mace-dance-official``: generate with the released checkpoint (see :func:`macedance.methods.official.released`)."""

    name = "mace-dance-official"

    def __init__(self, ckpt: Path, *, weights: WeightsChoice = "model", device: str = "cpu", rng: RngMode = "macedance",
                 beta: float = 0.75, steps: int = 50, num_heads: int | None = None,
                 compile_mode: CompileMode | None = None, cuda_graph: bool = False):
        self.checkpoint = read_released_checkpoint(ckpt, weights=weights)
        self.model = load_mace(self.checkpoint, device=device, num_heads=num_heads)
        self.device, self.rng, self.beta, self.steps = device, rng, beta, steps
        self.fast: dict[str, Any] = {"compile_mode": compile_mode, "cuda_graph": cuda_graph}  # speed options of the sampler (default: eager)
        self.strict_genre = True  # the benchmark sets False: an unknown clip genre falls back to DEFAULT_GENRE

    def sample(self, features: np.ndarray, *, genre: str | None, seed: int,
               progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, str]:
        """(T, 35) features → (T, 151) unnormalised representation, and the genre used."""
        g = mace_genre(genre, strict=self.strict_genre)
        music = torch.as_tensor(features, dtype=torch.float32)[None].to(self.device)
        gid = torch.tensor([MACE_GENRES.index(g)], device=self.device)
        x = mace_ddim_sample(self.model, music, gid, noise=Noise(seed=seed, mode=self.rng), beta=self.beta, steps=self.steps,
                             progress=progress, **self.fast)
        assert self.checkpoint.normalizer is not None
        return self.checkpoint.normalizer.unnormalize(x.cpu())[0].numpy().astype(np.float64), g

    def generate(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                 progress: Callable[[int, int], None] | None = None) -> Motion:
        """The whole sequence in one pass, as released (no windowing)."""
        from macedance.methods.official.released import frames_for

        feats = features_of(music, preset=MUSIC_PRESET, dim=self.model.cfg.cond_feature_dim)
        T = frames_for(music, len(feats), seconds)
        rep, g = self.sample(feats[:T], genre=genre, seed=seed, progress=progress)
        meta = {"generator": self.name, "checkpoint_sha256": self.checkpoint.sha256, "weights": self.checkpoint.weights,
                "genre": g, "seed": str(seed), "rng": self.rng, "beta": f"{self.beta:g}", "steps": str(self.steps), "music": str(music)}
        return rep151_to_motion(rep, meta)
