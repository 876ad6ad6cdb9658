"""Bailando++ (Li et al., TPAMI 2023) from its released checkpoints, as ``tpami_bailandopp/actor_critic.py`` ``eval()``
runs ``configs/actor_critic_music_trans_400_mix_rotmat.yaml``: what differs from :mod:`.bailando`.

* Files: ``experiments/sep_vqvae_root_mix_w_vel_acc/ckpt/epoch_500.pt`` (``SepVQVAERmix``: Bailando's encoder, a
  rotation-matrix decoder per half) and ``experiments/actor_critic/ckpt/epoch_10.pt`` (``CrossCondGPT2MWAC``: a music
  Transformer before Bailando's GPT), in the Bailando++ release folder; or ``weights import bailandopp-gpt`` /
  ``bailandopp-vqvae``. The original loads the VQ-VAE with ``strict=False``; here every entry the network has must be
  in the file (a missing one would silently stay random there).
* Music: 60-fps Bailando features (``_prepro_aistpp_music.py --sampling_rate 30720``) as under librosa 0.8.1 (music
  preset ``bailando-0.8.1``), of which the model reads columns 0–54; padded as ``load_test_data_aist`` with
  ``wav_padding`` 5 × 8 (:func:`~macedance.models.official.bailandopp.pad_music`); ``eval()`` drops the first 8 rows.
* First tokens, greedy decoding: as Bailando (ground truth's first codes from the same encoder, or demo 423 / 12).
* Output: the root integrated from the decoded velocity and 24 decoded 3×3 matrices, projected to the nearest rotation
  and turned into axis-angle (``write2motion``: ``get_closest_rotmat`` + ``as_rotvec``): a 60-fps, y-up SMPL
  :class:`~macedance.schema.Motion` with ``trans`` = the root. ``--out x.pkl`` writes ``write2motion``'s pickle
  ``{"smpl_poses": (T, 24, 3), "smpl_trans": (T, 3)}`` (the AIST++ layout ``eval motion`` reads).
"""

from __future__ import annotations

import numpy as np
import torch

from macedance.io.motion_layouts import closest_rotations
from macedance.methods.official.bailando import FPS, ReleasedBailando
from macedance.models.official.bailando import BailandoCheckpoint
from macedance.models.official.bailando_gpt import BailandoGPTConfig
from macedance.models.official.bailandopp import bailandopp_generate, load_bailandopp_gpt, load_bailandopp_vqvae, pad_music
from macedance.motion.rotations import matrix_to_axis_angle
from macedance.schema import Motion


class ReleasedBailandoPP(ReleasedBailando):
    """``bailandopp-official``: generate with the released Bailando++ checkpoints (see the module docstring)."""

    name = "bailandopp-official"
    installed = ("bailandopp-gpt", "bailandopp-vqvae")
    music_fps = 60.0
    default_music = "bailando-0.8.1"

    def load(self, gpt: BailandoCheckpoint, vqvae: BailandoCheckpoint, device: str) -> None:
        self.vqvae = load_bailandopp_vqvae(vqvae).to(device)
        self.gpt = load_bailandopp_gpt(gpt).to(device)  # type: ignore[assignment]

    def gpt_config(self) -> BailandoGPTConfig:
        return self.gpt.cfg.gpt  # type: ignore[attr-defined]

    def music_input(self, feats: np.ndarray) -> torch.Tensor:
        """(1, 40 + T + 1 + 40, 438): ``load_test_data_aist`` with ``wav_padding`` 5 × 8."""
        return pad_music(torch.from_numpy(np.ascontiguousarray(feats[None], dtype=np.float32))).to(self.device)

    def run(self, first_up: torch.Tensor, first_down: torch.Tensor, music: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return bailandopp_generate(self.vqvae, self.gpt, first_up=first_up, first_down=first_down, music=music)  # type: ignore[arg-type]

    def result(self, out: np.ndarray, meta: dict[str, str]) -> tuple[Motion, dict[str, np.ndarray]]:
        """(T, 219) root + 24 raw matrices → the SMPL motion and ``write2motion``'s arrays."""
        root = out[:, :3].astype(np.float32)
        rot = closest_rotations(out[:, 3:].reshape(len(out), 24, 3, 3).astype(np.float64))
        poses = matrix_to_axis_angle(rot)
        return Motion(poses, root, FPS, "y", meta=meta), {"smpl_poses": poses, "smpl_trans": root}
