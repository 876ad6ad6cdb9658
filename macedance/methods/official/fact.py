"""FACT (Li et al., ICCV 2021) from its released TensorFlow checkpoint, as google-research/mint's ``evaluator.py``
(``SingleTaskEvaluator``) runs it: ``infer_auto_regressive(inputs, steps=1200)`` on the clip's first 120 ground-truth
frames and its audio features from frame 0, the output written after that seed (``concat([motion_input, outputs])``).

* Checkpoint: the ``tf.train.Checkpoint`` bundle (``--ckpt`` its prefix, ``.index`` file or folder; read by
  :mod:`macedance.io.tf_checkpoint`, every tensor's crc32c checked, no TensorFlow), or the file ``weights import fact``
  stores. The sizes are read from the tensors; the head count is not in the file (released: 10, ``num_heads``).
* Music: the 35-d features of the music preset ``fact`` (60 fps, sr 30720) over the whole file, or a (T, 35) ``.npy``.
* Seed (the ``motion-seed`` capability, as Bailando's): the ground-truth dance's first 120 frames at 60 fps, y-up, in
  FACT's 225-d layout (6 zeros, SMPL ``transl``, 24 row-major rotation matrices); ``bench run`` passes each clip's
  motion, ``generate motion`` takes ``--seed-motion``. The output starts with those frames, as the official files do.
* Generation: one frame per step from the model's first output token, the window sliding by it; step i sees audio
  frames [i, i + 240), so T audio frames give at most T − 239 steps: the original stops there, and so does this
  runner (the dance is then shorter than asked: logged, and recorded as ``frames_short_of_request``). Deterministic.
* Output: a 60-fps, y-up SMPL :class:`~macedance.schema.Motion` (the nearest rotation of each matrix, as FACT's
  scoring does); ``--out x.npy`` writes the official (T, 225) array.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from macedance.errors import DataFormatError, MaceDanceError, ValidationError
from macedance.io.motion_layouts import fact_motion
from macedance.models.official.fact import FACT_FPS, FACTConfig, FACTModel, FACTTransformerConfig, load_fact
from macedance.schema import Joints3D, Motion

log = logging.getLogger(__name__)

RELEASED_HEADS = 10


def infer_fact_config(variables: dict[str, np.ndarray], *, num_heads: int = RELEASED_HEADS, source: str) -> FACTConfig:
    """The :class:`FACTConfig` whose tensors these are (``variables``: :func:`~macedance.io.tf_checkpoint.tf_variable_paths`
    of the checkpoint): widths, lengths and layer counts from the shapes; ``num_heads`` is not stored."""
    try:
        emb, audio_emb = variables["motion_linear_embedding.net.kernel"], variables["audio_linear_embedding.net.kernel"]
        out = variables["cross_modal_layer.cross_output_layer.kernel"]

        def part(prefix: str) -> FACTTransformerConfig:
            blocks = {int(m.group(1)) for k in variables if (m := re.match(re.escape(prefix) + r"\.net\.layer_with_weights-(\d+)\.", k))}
            ff = variables[f"{prefix}.net.layer_with_weights-1.fn.fn.net.layer_with_weights-0.kernel"].shape[1]
            return FACTTransformerConfig(hidden_size=int(emb.shape[1]), num_hidden_layers=len(blocks) // 2,
                                         num_attention_heads=num_heads, intermediate_size=int(ff))

        return FACTConfig(motion_dim=int(emb.shape[0]), audio_dim=int(audio_emb.shape[0]),
                          motion_length=int(variables["motion_pos_embedding.position_embedding"].shape[0]),
                          audio_length=int(variables["audio_pos_embedding.position_embedding"].shape[0]),
                          motion=part("motion_transformer"), audio=part("audio_transformer"),
                          cross=part("cross_modal_layer.transformer_layer"), out_dim=int(out.shape[1]))
    except (KeyError, IndexError, ValueError) as exc:
        raise DataFormatError(f"{source}: not a FACT checkpoint (cannot read its sizes: {exc!r})") from None


def read_fact_checkpoint(path: str | Path, *, num_heads: int | None = None) -> tuple[FACTModel, str]:
    """The model of a FACT checkpoint — a TF bundle or a converted ``.pt`` (``{"model", "config"}``) — and the sha256
    of the file that identifies it (the ``.pt``, or the bundle's ``.index``)."""
    from macedance.fileio import sha256_file
    from macedance.io.tf_checkpoint import checkpoint_prefix, is_model_variable, read_tf_checkpoint, tf_variable_paths

    path = Path(path)
    if path.suffix == ".pt":
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated, not a torch file, pickled classes
            raise DataFormatError(f"{path}: not the file `weights import fact` writes ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict) or not isinstance(obj.get("config"), dict):
            raise DataFormatError(f"{path}: expected the {{'model', 'config'}} file `weights import fact` writes")
        cfg = FACTConfig.from_dict(obj["config"])
        if num_heads:
            cfg = dataclasses.replace(cfg, **{k: dataclasses.replace(getattr(cfg, k), num_attention_heads=num_heads)
                                              for k in ("motion", "audio", "cross")})
        model = FACTModel(cfg)
        try:
            model.load_state_dict(obj["model"], strict=True)
        except RuntimeError as exc:
            raise DataFormatError(f"{path}: not a FACT state dict ({str(exc).splitlines()[0]})") from None
        return model.eval(), sha256_file(path)
    tensors = read_tf_checkpoint(path, keep=is_model_variable)
    cfg = infer_fact_config(tf_variable_paths(tensors), num_heads=num_heads or RELEASED_HEADS, source=str(path))
    index = checkpoint_prefix(path)
    return load_fact(tensors, config=cfg, source=str(path)), sha256_file(index.with_name(index.name + ".index"))


def convert_fact(path: Path, source: str) -> dict[str, Any]:
    """What ``weights import fact`` stores: our state dict and the config (no pickled classes)."""
    model, _ = read_fact_checkpoint(path)
    return {"model": model.state_dict(), "config": model.config.to_dict()}


def fact_seed(motion: Motion, length: int) -> np.ndarray:
    """(length, 225) FACT input of ``motion``'s first frames: 60 fps, y-up, 6 zeros + ``transl`` + row-major matrices."""
    m = motion.to_up_axis("y")
    m = m if abs(m.fps - FACT_FPS) < 1e-9 else m.resample(FACT_FPS)
    if m.num_frames < length:
        raise ValidationError("seed motion", f"at least {length} frames at 60 fps ({length / FACT_FPS:g} s)", f"{m.num_frames}")
    m = m.slice(0, length)
    return np.concatenate([np.zeros((length, 6)), m.trans, m.rotmat.reshape(length, -1)], axis=1).astype(np.float32)


class ReleasedFACT:
    """``fact-official``: generate with the released checkpoint (see the module docstring)."""

    name = "fact-official"

    def __init__(self, ckpt: str | Path | None, *, device: str = "cpu", num_heads: int | None = None, **options: Any):
        if options.get("compile_mode") or options.get("cuda_graph"):
            raise ValidationError("compile/cuda_graph", f"not used by {self.name}", "given")
        if options.get("weights") not in (None, "model"):
            raise ValidationError("weights", f"model (the only weights {self.name}'s checkpoint holds)", repr(options["weights"]))
        if ckpt is None:
            from macedance.weights import weights_file

            ckpt = weights_file("fact")
        self.model, sha = read_fact_checkpoint(ckpt, num_heads=num_heads)
        self.model = self.model.to(device)
        self.checkpoint = _Source(str(ckpt), sha)
        self.files = {Path(ckpt).name: sha}
        self.device = device

    def generate(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                 progress: Callable[[int, int], None] | None = None, seed_motion: Motion | Joints3D | None = None) -> Motion:
        return self.generate_file(music, seconds=seconds, seed=seed, genre=genre, progress=progress, seed_motion=seed_motion)[0]

    def generate_file(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                      progress: Callable[[int, int], None] | None = None,
                      seed_motion: Motion | Joints3D | None = None) -> tuple[Motion, dict[str, np.ndarray]]:
        """The motion (seed frames included) for ``music``, and the official array ``{"npy": (T, 225)}``."""
        from macedance.models.official.fact import fact_generate
        from macedance.music.analysis import features_of

        cfg = self.model.config
        if not isinstance(seed_motion, Motion):
            raise ValidationError("seed motion", f"the ground-truth dance (SMPL rotations) whose first {cfg.motion_length} frames "
                                  "FACT continues (--seed-motion)", "none" if seed_motion is None else "joint positions only")
        music = Path(music)
        if music.suffix.lower() == ".npz":
            raise DataFormatError(f"{music}: {self.name} reads audio (or a (T, 35) .npy of its 60-fps features), not a 30-fps music .npz")
        audio = features_of(music, preset="fact", dim=cfg.audio_dim, fps=FACT_FPS)
        seed_arr = fact_seed(seed_motion, cfg.motion_length)
        possible = cfg.motion_length + max(0, len(audio) - cfg.audio_length + 1)
        frames = possible if seconds is None else int(round(seconds * FACT_FPS))
        short = max(0, frames - possible)
        if short:  # as the original: generation stops where the audio window runs out (the output is that much shorter)
            log.info("%s: %.2f s of music give FACT %.2f s of dance (each frame needs the next %g s of audio), not %.2f s",
                     music, len(audio) / FACT_FPS, possible / FACT_FPS, cfg.audio_length / FACT_FPS, frames / FACT_FPS)
            frames = possible
        if len(audio) < cfg.audio_length:
            raise MaceDanceError(f"{music}: {len(audio) / FACT_FPS:.2f} s of music; FACT needs at least {cfg.audio_length / FACT_FPS:g} s")
        steps = frames - cfg.motion_length
        out = seed_arr
        if steps > 0:
            with torch.no_grad():
                gen = fact_generate(self.model, motion_seed=torch.from_numpy(seed_arr[None]).to(self.device),
                                    audio=torch.from_numpy(np.ascontiguousarray(audio[None], dtype=np.float32)).to(self.device),
                                    steps=steps, progress=progress)
            out = np.concatenate([seed_arr, gen[0].cpu().numpy()])
        out = out[:frames]
        motion = fact_motion(out, source=str(music))
        meta = {**motion.meta, "method": self.name, "music": str(music), "checkpoint": self.checkpoint.source,
                "seed_frames": str(cfg.motion_length), **({"frames_short_of_request": str(short)} if short else {})}
        return motion.replace(meta=meta), {"npy": out}


class _Source:
    """Where a checkpoint came from (what the benchmark's metadata reads: ``source``, ``sha256``)."""

    def __init__(self, source: str, sha256: str):
        self.source, self.sha256 = source, sha256

