"""Generate dance motion from music with a trained Motion Expert (or baseline) checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from macedance.errors import MaceDanceError
from macedance.models.representation import FPS, rep_to_motion
from macedance.schema import Motion
from macedance.training.data import music_features
from macedance.training.motion import build_model, genre_id, load_checkpoint


def generate_motion(ckpt: str | Path, music: str | Path, seconds: float | None = None, genre: str | None = None,
                    seed: int = 0, device: str = "cpu", progress: Any = None) -> Motion:  # fmt: skip
    """Sample one motion for ``music`` (a music ``.npz`` or an audio/video file), 30 fps, z-up.

    ``seconds`` defaults to the music's length; the whole sequence is generated in one pass.
    """
    state = load_checkpoint(ckpt)
    feats = music_features(Path(music))
    T = len(feats) if seconds is None else int(round(seconds * FPS))
    if T < 2:
        raise MaceDanceError(f"--seconds {seconds}: too short")
    if len(feats) < T:
        raise MaceDanceError(f"{music}: music has {len(feats) / FPS:.2f} s, asked for {T / FPS:.2f} s")
    if state.get("method") in ("retrieval", "random-clip", "mean-pose"):
        from macedance.baselines.reference import generate_reference

        motion = generate_reference(state, feats[:T], seed)
        return motion.replace(meta={**motion.meta, "music": str(music), "seed": str(seed)})
    model, diffusion, vocab = build_model(state)
    if genre is not None and genre not in vocab:
        raise MaceDanceError(f"--genre: expected one of {', '.join(vocab)}, found {genre!r}")
    dev = torch.device(device)
    model = model.to(dev)
    m = torch.as_tensor(feats[:T], dtype=torch.float32)[None].to(dev)
    g = torch.tensor([genre_id(genre, vocab)], device=dev)
    gen = torch.Generator().manual_seed(seed)
    x = diffusion.sample(model, m, g, gen, progress=progress)
    rep = diffusion.norm.unnormalize(x)[0].cpu().numpy().astype(np.float64)
    meta = {"generator": str(state.get("method", "mace-dance")), "checkpoint_step": str(int(state["step"])), "music": str(music),
            "seed": str(seed), "genre": genre or "unknown", "mixer": model.cfg.mixer, "guidance": model.cfg.guidance}  # fmt: skip
    return rep_to_motion(rep, meta)
