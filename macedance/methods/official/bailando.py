"""Bailando (Li et al., CVPR 2022) from its released checkpoints, as ``actor_critic.py`` ``eval()`` runs it.

Two released files are used: the motion VQ-VAE ``experiments/sep_vqvae_root/ckpt/epoch_500.pt`` and the actor-critic
GPT ``experiments/actor_critic/ckpt/epoch_10.pt`` (its ``config.vqvae_weight`` names the first, relative to the
release folder). ``--ckpt`` is that folder, or the GPT file inside it; without ``--ckpt`` the files installed by
``macedance weights import bailando-gpt`` / ``bailando-vqvae`` are used.

Generation:

1. Music: 438-d features at 7.5 fps (3840 Hz, hop 512) of the whole file with :data:`MUSIC_PRESET` (``bailando-gpt``
   computed as under librosa 0.8.1, the version Bailando pins; the released features, and so the GPT, come from it),
   or a (T, 438) ``.npy`` given as such. As ``load_test_data_aist`` a copy of the last row is appended; ``eval()``
   drops row 0, so token k is predicted with row k + 1.
2. First tokens (:data:`FirstTokens`): ``ground-truth`` (the official evaluation: the first up/down codes of the
   ground-truth dance encoded by the VQ-VAE; the benchmark passes each clip's motion) or ``demo`` (the fixed codes
   423 / 12 of ``configs/actor_critic_demo.yaml``).
3. Greedy decoding (top-1, no random numbers: the seed is unused) for every music row, VQ-VAE decoding, root
   integrated from the decoded velocity (``global_vel``), joints = root-relative positions + root
   (``visualizeAndWrite``). The output is :class:`~macedance.schema.Joints3D`: 24 SMPL joints, 60 fps, y-up, metres,
   cut to ``seconds`` (the official evaluation then takes the first 20 s).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import torch

from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError, ValidationError
from macedance.models.official.bailando import (
    BailandoCheckpoint,
    SepVQVAER,
    load_bailando_vqvae,
    read_bailando_checkpoint,
)
from macedance.models.official.bailando_gpt import (
    DEMO_FIRST_TOKENS,
    BailandoGPTConfig,
    CrossCondGPT2AC,
    bailando_generate,
    load_bailando_gpt,
)
from macedance.schema import Joints3D, Motion

log = logging.getLogger(__name__)

FPS = 60.0
HOP = 8  # motion frames per token
FirstTokens = Literal["ground-truth", "demo"]
FIRST_TOKENS: tuple[FirstTokens, ...] = get_args(FirstTokens)
MUSIC_PRESET = "bailando-gpt-0.8.1"
GPT_FILE = Path("experiments/actor_critic/ckpt/epoch_10.pt")
VQVAE_FILE = Path("experiments/sep_vqvae_root/ckpt/epoch_500.pt")  # the GPT config's vqvae_weight as released


def _installed(name: str) -> Path:
    from macedance.weights import weights_file

    return weights_file(name)


def resolve_files(ckpt: str | Path | None, *, installed: tuple[str, str] = ("bailando-gpt", "bailando-vqvae"),
                  ) -> tuple[BailandoCheckpoint, BailandoCheckpoint]:
    """The (GPT, VQ-VAE) checkpoints for ``ckpt``: the release folder, the GPT file in it, or (None) the weights
    installed by ``weights import`` (``installed``: the GPT's and the VQ-VAE's entry). The VQ-VAE is the GPT config's
    ``vqvae_weight`` under the release folder, else the installed VQ-VAE entry."""
    if ckpt is None:
        return read_bailando_checkpoint(_installed(installed[0])), read_bailando_checkpoint(_installed(installed[1]))
    path = Path(ckpt)
    root: Path | None = None
    if path.is_dir():
        root, path = path, path / GPT_FILE
        if not path.is_file():
            raise InputNotFoundError(f"{root}: not Bailando's release folder (no {GPT_FILE})")
    gpt = read_bailando_checkpoint(path)
    if root is None and len(path.parents) > 3 and path.parents[2].name == "experiments":
        root = path.parents[3]  # <release>/experiments/actor_critic/ckpt/epoch_10.pt
    rel = gpt.config.get("vqvae_weight")
    candidate = root / str(rel) if root is not None and isinstance(rel, str) and rel else None
    if candidate is not None and candidate.is_file():
        return gpt, read_bailando_checkpoint(candidate)
    try:
        return gpt, read_bailando_checkpoint(_installed(installed[1]))
    except MaceDanceError:
        where = f"{candidate} (the GPT config's vqvae_weight)" if candidate is not None else "beside the GPT file"
        raise InputNotFoundError(f"{path}: the VQ-VAE checkpoint not found {where}; pass the release folder as "
                                 f"--ckpt or run `macedance weights import {installed[1]} epoch_500.pt`") from None


def seed_positions(seed_motion: Motion | Joints3D) -> torch.Tensor:
    """(1, T', 72) ground-truth input of the VQ-VAE encoder as ``load_test_data_aist`` makes it: 60-fps y-up joints,
    root-relative except channels 0–2 (the root), padded with copies of the last frame to ``(T // 8 + 1) · 8``."""
    if isinstance(seed_motion, Motion):
        m = seed_motion.to_up_axis("y")
        m = m if abs(m.fps - FPS) < 1e-9 else m.resample(FPS)
        joints = m.joints()
    else:
        if seed_motion.positions.shape[1] != 24:
            raise ValidationError("seed motion", "24 SMPL joints", f"{seed_motion.positions.shape[1]} joints")
        if abs(seed_motion.fps - FPS) > 1e-9:
            raise ValidationError("seed motion fps", f"{FPS:g} (joint positions are not resampled)", f"{seed_motion.fps:g}")
        joints = seed_motion.to_up_axis("y").positions
    flat = joints.reshape(len(joints), 72)
    root = flat[:, :3].copy()
    flat = flat - np.tile(root, (1, 24))
    flat[:, :3] = root
    pad = (len(flat) // HOP + 1) * HOP - len(flat)
    flat = np.concatenate([flat, np.repeat(flat[-1:], pad, axis=0)])
    return torch.from_numpy(flat[None].astype(np.float32))


class ReleasedBailando:
    """``bailando-official``: generate with the released checkpoints (see the module docstring). Subclasses (Bailando++)
    change the networks, the music and the output (:meth:`load`, :meth:`music_input`, :meth:`run`, :meth:`result`)."""

    name = "bailando-official"
    installed: tuple[str, str] = ("bailando-gpt", "bailando-vqvae")
    music_fps = 7.5
    default_music = MUSIC_PRESET

    def __init__(self, ckpt: str | Path | None, *, device: str = "cpu", first_tokens: str = "ground-truth",
                 music_preset: str | None = None, **options: Any):
        from macedance.music.presets import MUSIC_PRESETS

        music_preset = music_preset or self.default_music
        if first_tokens not in FIRST_TOKENS:
            raise ValidationError("first_tokens", "one of " + ", ".join(FIRST_TOKENS), repr(first_tokens))
        fitting = [p.name for p in MUSIC_PRESETS.values() if p.layout == "bailando" and p.fps == self.music_fps]
        if music_preset not in fitting:
            raise ValidationError("music_preset", f"a {self.music_fps:g}-fps bailando-layout music preset ({', '.join(fitting)})", repr(music_preset))
        if options.get("compile_mode") or options.get("cuda_graph"):
            raise ValidationError("compile/cuda_graph", f"not used by {self.name} (greedy decoding, no sampler loop)", "given")
        if options.get("weights") not in (None, "model"):
            raise ValidationError("weights", f"model (the only weights {self.name}'s files hold)", repr(options["weights"]))
        self.first_tokens: FirstTokens = first_tokens  # type: ignore[assignment]
        self.music_preset = music_preset
        gpt_ckpt, vq_ckpt = resolve_files(ckpt, installed=self.installed)
        self.load(gpt_ckpt, vq_ckpt, device)
        self.model = torch.nn.ModuleDict({"vqvae": self.vqvae, "gpt": self.gpt})
        self.checkpoint = gpt_ckpt
        self.files = {Path(vq_ckpt.source).name + " (VQ-VAE)": vq_ckpt.sha256, Path(gpt_ckpt.source).name + " (GPT)": gpt_ckpt.sha256}
        self.device = device

    def load(self, gpt: BailandoCheckpoint, vqvae: BailandoCheckpoint, device: str) -> None:
        self.vqvae: SepVQVAER = load_bailando_vqvae(vqvae).to(device)
        self.gpt: CrossCondGPT2AC = load_bailando_gpt(gpt).to(device)

    def gpt_config(self) -> BailandoGPTConfig:
        return self.gpt.cfg

    def features(self, music: Path) -> np.ndarray:
        """(T, 438) float32 music features at :attr:`music_fps` for ``music`` (audio/video, or a (T, 438) ``.npy``)."""
        from macedance.music.analysis import features_of

        if music.suffix.lower() == ".npz":
            raise DataFormatError(f"{music}: {self.name} reads audio (or a (T, 438) .npy of its {self.music_fps:g}-fps "
                                  "features), not a 30-fps music .npz")
        return features_of(music, preset=self.music_preset, dim=438, fps=self.music_fps)

    def music_input(self, feats: np.ndarray) -> torch.Tensor:
        """(1, T + 1, 438): a copy of the last row appended (``load_test_data_aist``: "fully divisible" by
        ``external_wav_rate`` 1)."""
        return torch.from_numpy(np.concatenate([feats, feats[-1:]])[None]).to(self.device)

    def run(self, first_up: torch.Tensor, first_down: torch.Tensor, music: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return bailando_generate(self.vqvae, self.gpt, first_up=first_up, first_down=first_down, music=music)

    def result(self, out: np.ndarray, meta: dict[str, str]) -> tuple[Motion | Joints3D, dict[str, np.ndarray]]:
        """Decoded (T, 72) root + root-relative joints → positions (``visualizeAndWrite``) and Bailando's own arrays."""
        flat = out.astype(np.float32)
        root = flat[:, :3].copy()
        flat = flat + np.tile(root, (1, 24))
        flat[:, :3] = root
        return Joints3D(flat.reshape(-1, 24, 3), FPS, "y", meta), {"pred_position": flat}

    def first(self, seed_motion: Motion | Joints3D | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The (1, 1) first up and down tokens of the chosen mode."""
        if self.first_tokens == "demo":
            up, down = DEMO_FIRST_TOKENS
            base = self.gpt_config().base
            sizes = (base.vocab_size_up, base.vocab_size_down, self.vqvae.vqvae_up.cfg.l_bins, self.vqvae.vqvae_down.cfg.l_bins)
            if max(up, down) >= min(sizes):
                raise ValidationError("first_tokens", f"demo codes {up}/{down} within the vocabulary (released: 512 codes)",
                                      f"{min(sizes)} codes in {self.checkpoint.source}")
            return torch.full((1, 1), up, device=self.device), torch.full((1, 1), down, device=self.device)
        if seed_motion is None:
            raise ValidationError("seed motion", "the ground-truth dance whose first codes start the sequence "
                                  "(first tokens ground-truth, the official evaluation; or first tokens demo)", "none")
        up, down = self.vqvae.encode(seed_positions(seed_motion).to(self.device))
        return up[:, :1], down[:, :1]

    def generate(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                 progress: Callable[[int, int], None] | None = None, seed_motion: Motion | Joints3D | None = None) -> Joints3D:
        """60-fps joints for ``music`` (all of it, or its first ``seconds``); ``seed`` and ``genre`` are unused."""
        return self.generate_file(music, seconds=seconds, seed=seed, genre=genre, progress=progress, seed_motion=seed_motion)[0]

    def generate_file(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                      progress: Callable[[int, int], None] | None = None,
                      seed_motion: Motion | Joints3D | None = None) -> tuple[Motion | Joints3D, dict[str, np.ndarray]]:
        """:meth:`generate` and the official file's arrays (``{"pred_position": (T, 72) float32}``)."""
        music = Path(music)
        feats = self.features(music)
        if len(feats) < 2:
            raise MaceDanceError(f"{music}: too short for {self.name} ({len(feats)} music rows at {self.music_fps:g} fps)")
        first_up, first_down = self.first(seed_motion)
        if progress:
            progress(0, 1)
        up, down, out = self.run(first_up, first_down, self.music_input(feats))
        if progress:
            progress(1, 1)
        decoded = out[0].cpu().numpy()
        frames = len(decoded) if seconds is None else int(round(seconds * FPS))
        if len(decoded) < frames < len(decoded) + HOP:  # whole tokens only (Bailando++: 8 · ⌊(T + 1) / 8⌋ frames of T)
            log.info("%s: %d frames of dance for %d asked (whole 8-frame tokens)", music, len(decoded), frames)
            frames = len(decoded)
        if frames > len(decoded):
            raise MaceDanceError(f"{music}: music gives {len(decoded) / FPS:.2f} s of dance, asked for {frames / FPS:.2f} s")
        meta = {"method": self.name, "first_tokens": self.first_tokens, "music_preset": self.music_preset,
                "first_codes": f"{int(up[0, 0])}/{int(down[0, 0])}", "music": str(music), "checkpoint": self.checkpoint.source}
        return self.result(decoded[:frames], meta)
