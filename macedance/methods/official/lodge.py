"""LODGE (Li et al., CVPR 2024) from its released checkpoints, as ``infer_lodge.py`` runs them
(:mod:`macedance.models.official.lodge_sampling`).

* Files: ``exp/Global_Module/FineDance_Global/checkpoints/epoch=2999.ckpt``, ``exp/Local_Module/FineDance_FineTuneV2_
  Local/checkpoints/epoch=299.ckpt`` and ``data/Normalizer.pth`` (``--ckpt`` the folder holding them, as the LODGE
  README lays them out), or ``weights import lodge-global`` / ``lodge-local`` / ``lodge-normalizer``. Lightning
  checkpoints and the pickled ``Normalizer`` go through the restricted unpickler.
* Music: the 35-d features of the music preset ``lodge`` (30 fps), a music ``.npz`` of them or a (T, 35) ``.npy``,
  cut to the frames asked rounded up to whole 256-frame local windows, at least 1,024 (one global window: the
  FineDance protocol's 1,024 frames is exactly one global and four local windows). Without ``seconds``: the whole
  song, as ``infer_lodge.py`` (⌊T / 256⌋ windows; the rest of the song is dropped, as there).
* Genre: one of the 16 FineDance genres (an AIST++ genre maps to the nearest, as for MACE-Dance); ``Hiphop`` when
  none is given.
* Sampling: both stages' DDIM (50 steps, guidance 2; the local stage's ramp), soft inpainting with ``--soft`` 1.0 as
  the README runs it, one noise stream seeded by ``seed`` (``rng="official"``: the original's draws after
  ``torch.manual_seed(seed)``, on CPU).
* Output: 30-fps, y-up SMPL-X body rotations and root (:func:`~macedance.io.motion_layouts.finedance_motion`: the 22
  body joints, SMPL's hand joints identity); ``--out x.npy`` writes the (T, 139) array ``concat_res.py`` writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError, ValidationError
from macedance.io.motion_layouts import finedance_motion
from macedance.models.official.ddim import Noise
from macedance.models.official.lodge import load_lodge_decoder, lodge_genre_id, read_lodge_checkpoint, read_lodge_normalizer
from macedance.models.official.lodge_sampling import GLOBAL_FRAMES, LOCAL_FRAMES, lodge_generate
from macedance.schema import Joints3D, Motion

log = logging.getLogger(__name__)

FPS = 30.0
FILES = {"global": Path("exp/Global_Module/FineDance_Global/checkpoints/epoch=2999.ckpt"),
         "local": Path("exp/Local_Module/FineDance_FineTuneV2_Local/checkpoints/epoch=299.ckpt"),
         "normalizer": Path("data/Normalizer.pth")}
INSTALLED = {"global": "lodge-global", "local": "lodge-local", "normalizer": "lodge-normalizer"}
RELEASED_HEADS = 8  # not in the weights' shapes


def resolve_lodge(ckpt: str | Path | None) -> dict[str, Path]:
    """The three files: under the folder ``ckpt`` (the LODGE layout), or the weights ``weights import`` installed."""
    if ckpt is None:
        from macedance.weights import weights_file

        return {part: weights_file(name) for part, name in INSTALLED.items()}
    root = Path(ckpt)
    if not root.is_dir():
        raise InputNotFoundError(f"{root}: expected LODGE's folder holding {', '.join(map(str, FILES.values()))}")
    files = {part: root / rel for part, rel in FILES.items()}
    missing = [part for part, p in files.items() if not p.is_file()]
    if missing:
        raise InputNotFoundError(f"{files[missing[0]]}: not found (LODGE's {missing[0]} file; or `macedance weights import "
                                 f"{INSTALLED[missing[0]]} FILE` and leave out --ckpt)")
    return files


def convert_lodge(raw_path: Path, source: str, *, part: str) -> dict[str, Any]:
    """What ``weights import lodge-global|lodge-local|lodge-normalizer`` stores (no pickled classes): the decoder
    under ``DanceDecoder.`` (the EMA copy under ``diffusion.master_model.``), or the normaliser's tensors."""
    if part == "normalizer":
        return read_lodge_normalizer(raw_path).state_dict()
    ckpt = read_lodge_checkpoint(raw_path)
    if ckpt.stage != part:
        raise DataFormatError(f"{source}: a LODGE {ckpt.stage}-stage checkpoint, not the {part} stage")
    load_lodge_decoder(ckpt)  # the architecture loads strictly
    state = {f"DanceDecoder.{k}": v for k, v in ckpt.state_dict.items()}
    state.update({f"diffusion.master_model.{k}": v for k, v in ckpt.ema_state_dict.items()})
    return {"state_dict": state, "epoch": ckpt.epoch, "global_step": ckpt.global_step}


class ReleasedLodge:
    """``lodge-official``: generate with the released checkpoints (see the module docstring)."""

    name = "lodge-official"

    def __init__(self, ckpt: str | Path | None, *, device: str = "cpu", weights: str | None = None, rng: str = "macedance",
                 num_heads: int | None = None, soft: float = 1.0, **options: Any):
        if options.get("compile_mode") or options.get("cuda_graph"):
            raise ValidationError("compile/cuda_graph", f"not used by {self.name}", "given")
        choice = weights or "model"
        if choice not in ("model", "ema"):
            raise ValidationError("weights", "model (what infer_lodge.py samples with) or ema", repr(weights))
        files = resolve_lodge(ckpt)
        g, loc = read_lodge_checkpoint(files["global"]), read_lodge_checkpoint(files["local"])
        if (g.stage, loc.stage) != ("global", "local"):
            raise DataFormatError(f"{files['global']}, {files['local']}: expected the global and the local stage, found "
                                  f"{g.stage} and {loc.stage}")
        heads = num_heads or RELEASED_HEADS
        self.global_model = load_lodge_decoder(g, num_heads=heads, weights=choice, device=device)  # type: ignore[arg-type]
        self.local_model = load_lodge_decoder(loc, num_heads=heads, weights=choice, device=device)  # type: ignore[arg-type]
        self.normalizer = read_lodge_normalizer(files["normalizer"])
        self.model = torch.nn.ModuleDict({"global": self.global_model, "local": self.local_model})
        self.checkpoint = g
        self.checkpoint_weights = choice
        self.files = {f"{p.name} ({part})": (c.sha256 if c is not None else _sha(p))
                      for (part, p), c in zip(files.items(), (g, loc, None), strict=True)}
        self.device, self.rng, self.soft = device, rng, float(soft)
        self.strict_genre = True  # the benchmark sets False: an unknown clip genre falls back to the default, logged

    def generate(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                 progress: Callable[[int, int], None] | None = None) -> Motion:
        return self.generate_file(music, seconds=seconds, seed=seed, genre=genre, progress=progress)[0]

    def generate_file(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                      progress: Callable[[int, int], None] | None = None,
                      seed_motion: Motion | Joints3D | None = None) -> tuple[Motion, dict[str, np.ndarray]]:
        """The motion for ``music`` and the official array ``{"npy": (T, 139)}``."""
        from macedance.methods.official.mace import mace_genre
        from macedance.music.analysis import features_of

        music = Path(music)
        feats = features_of(music, preset="lodge", dim=35, fps=FPS)
        frames = None if seconds is None else int(round(seconds * FPS))
        if frames is not None:
            need = max(GLOBAL_FRAMES, -(-frames // LOCAL_FRAMES) * LOCAL_FRAMES)
            if len(feats) < need:
                raise MaceDanceError(f"{music}: music has {len(feats) / FPS:.2f} s; LODGE needs {need / FPS:.2f} s for "
                                     f"{frames / FPS:.2f} s of dance (whole 256-frame windows, at least 1,024 frames)")
            feats = feats[:need]
        name = mace_genre(genre, strict=self.strict_genre)
        result = lodge_generate(self.global_model, self.local_model, torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)),
                                genre=lodge_genre_id(name), normalizer=self.normalizer, noise=Noise(seed=seed, mode=self.rng),  # type: ignore[arg-type]
                                soft=self.soft, progress=progress)
        arr = result.motion.numpy()
        if frames is not None:
            arr = arr[:frames]
        motion = finedance_motion(arr, source=str(music))
        meta = {**motion.meta, "method": self.name, "genre": name, "music": str(music), "seed": str(seed), "rng": self.rng,
                "windows": str(result.plan.windows), "checkpoint": self.checkpoint.source}
        return motion.replace(meta=meta), {"npy": arr}


def _sha(path: Path) -> str:
    from macedance.fileio import sha256_file

    return sha256_file(path)
