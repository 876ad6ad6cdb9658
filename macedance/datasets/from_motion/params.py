"""Every choice of ``macedance data render`` in one record (hashed into the resume state and the card)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from macedance.datasets.curation.splits import check_split_fractions
from macedance.errors import ValidationError

RENDER_VERSION = "2"  # bump when a change of the renderer or of this module changes the outputs


@dataclass(frozen=True)
class RenderParams:
    """Every choice of ``macedance data render`` (hashed into the resume state and the card).

    Attributes:
        size: (width, height) of the videos, px (even numbers).
        fps: frame rate of the videos, motions, keypoints and music features.
        character: ``capsule`` (default, no licensed file) or ``smpl`` (needs ``smpl_model``).
        smpl_model: the user's SMPL model folder or file (the ``smpl`` mesh; for ``capsule`` its skeleton).
        seed: seeds the windows, the splits and the random looks.
        min_clip, max_clip: clip length range, seconds.
        background: ``studio`` (one neutral set and outfit) or ``random`` (a seeded set and outfit per clip).
        allow_silent: render motions without music as silent clips instead of rejecting them.
        min_beats: a clip with music needs at least this many beats (else ``no-beats``), as in ``data build``.
        music_preset: preset of the music features and beats.
        split_fractions: (train, val, test) shares of the source motions when they carry no official split.
        focal: focal length px (None = max(width, height), what ``data build`` assumes).
        margin: fraction of the half frame kept free around the performance.
        device: torch device of the renderer (not part of the hash: outputs agree to rounding).
        batch: frames rasterised together (not part of the hash).
    """

    size: tuple[int, int] = (720, 1280)
    fps: float = 30.0
    character: str = "capsule"
    smpl_model: str | None = None
    seed: int = 0
    min_clip: float = 5.0
    max_clip: float = 10.0
    background: str = "studio"
    allow_silent: bool = False
    min_beats: int = 2
    music_preset: str = "clean"
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    focal: float | None = None
    margin: float = 0.08
    device: str = "cpu"
    batch: int = 1

    def __post_init__(self) -> None:
        from macedance.render.character import CHARACTERS
        from macedance.render.scene import BACKGROUNDS
        from macedance.schema._check import choice

        w, h = (int(v) for v in self.size)
        if w < 16 or h < 16 or w % 2 or h % 2:
            raise ValidationError("size", "WIDTHxHEIGHT, even numbers ≥ 16 (H.264 yuv420p)", f"{self.size[0]}x{self.size[1]}")
        object.__setattr__(self, "size", (w, h))
        if not 0 < self.min_clip <= self.max_clip:
            raise ValidationError("min_clip/max_clip", "0 < min ≤ max (seconds)", f"{self.min_clip}, {self.max_clip}")
        if self.fps <= 0:
            raise ValidationError("fps", "a frame rate > 0", str(self.fps))
        choice("character", self.character, CHARACTERS)
        choice("background", self.background, BACKGROUNDS)
        if self.character == "smpl" and self.smpl_model is None:
            if not os.environ.get("MACEDANCE_SMPL_DIR"):
                raise ValidationError("smpl_model", "your SMPL model folder for `character=smpl` (or MACEDANCE_SMPL_DIR)", "nothing")
            from macedance.motion.skeleton import resolve_smpl_model

            object.__setattr__(self, "smpl_model", str(resolve_smpl_model(None)))  # resolved once, hashed by content
        object.__setattr__(self, "split_fractions", check_split_fractions(self.split_fractions))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"], d["split_fractions"] = list(self.size), list(self.split_fractions)
        return d

    @property
    def hash(self) -> str:
        """sha256 of the parameters that can change outputs, and the renderer version."""
        d = self.to_dict()
        for k in ("device", "batch"):
            d.pop(k)
        if self.smpl_model is not None:  # the body model's content decides the outputs, not its path
            from macedance.motion.skeleton import smpl_model_digest

            d["smpl_model"] = {"sha256": smpl_model_digest(self.smpl_model)}
        return hashlib.sha256(json.dumps({"v": RENDER_VERSION, **d}, sort_keys=True).encode()).hexdigest()
