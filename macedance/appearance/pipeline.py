"""Loading Wan-Animate (diffusers ``WanAnimatePipeline``) from a local folder, applying fine-tuned
Body-Adapter and LoRA weights, and animating a reference image with pose and face videos.

Nothing is downloaded: the Hugging Face offline switches are set and every load passes
``local_files_only=True``; a folder that is not a ``WanAnimatePipeline`` is a one-line error.

Long videos use the pipeline's own relay mechanism (diffusers 0.42.1, ``WanAnimatePipeline.__call__``):
the pose and face videos are cut into segments of ``segment_frames`` frames (77 by default: with the
reference image's latent frame in front, the model's window is 21 latent frames = 81 frames, the
"81-frame chunk" of the MACE-Dance code); every segment after the first is conditioned on the last
``prev_frames`` (1 or 5) decoded frames of the segment before it (re-encoded by the VAE, with an
"known frames" mask) and on the constant reference image (its VAE latent as frame 0 and its CLIP
embedding), and advances by ``segment_frames − prev_frames`` frames. The last segment is filled up by
mirroring the pose/face videos, and the output is cut back to exactly the input's frame count.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import InputNotFoundError, MaceDanceError, MissingDependencyError, ValidationError
from macedance.presets import ConfigRecord

log = logging.getLogger(__name__)

OFFLOAD_MODES = ("none", "model", "sequential")
ADAPTER_FILE = "adapter.safetensors"
LORA_FILE = "pytorch_lora_weights.safetensors"
ADAPTER_PREFIX = "pose_patch_embedding."


def set_offline() -> None:
    """Switch the Hugging Face libraries to offline mode (never reach the network)."""
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "DIFFUSERS_OFFLINE"):
        os.environ[key] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def quiet_hf() -> None:
    """No progress bars from diffusers and transformers (the CLI shows its own)."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    dlog.disable_progress_bar()
    tlog.disable_progress_bar()


def check_model_dir(model: str | Path) -> Path:
    """``model`` if it is a local diffusers ``WanAnimatePipeline`` folder, else a clear error."""
    model = Path(model)
    index = model / "model_index.json"
    if not index.is_file():
        raise InputNotFoundError(f"{model}: no model_index.json (expected a local diffusers WanAnimatePipeline folder, e.g. "
                                 "Wan2.2-Animate-14B-Diffusers; `macedance weights tiny-wan-animate DIR` writes a tiny one for tests)")
    try:
        cls = json.loads(index.read_text()).get("_class_name")
    except (json.JSONDecodeError, OSError) as exc:
        raise MaceDanceError(f"{index}: unreadable ({exc})") from None
    if cls != "WanAnimatePipeline":
        raise ValidationError("_class_name", "WanAnimatePipeline", repr(cls), source=index)
    return model


def default_dtype(device: str) -> Any:
    """bfloat16 on CUDA, float32 on the CPU."""
    import torch

    return torch.bfloat16 if str(device).startswith("cuda") else torch.float32


def load_pipeline(model: str | Path, *, device: str = "cpu", dtype: Any = None, offload: str = "none") -> Any:
    """A ``WanAnimatePipeline`` from the local folder ``model``.

    Args:
        device: ``cpu`` or ``cuda[:i]``.
        dtype: of the transformer, text and image encoders (default :func:`default_dtype`); the VAE
            stays float32 (as in the Wan examples: bf16 decoding loses detail).
        offload: ``none`` (everything on ``device``), ``model`` (each component moves to the GPU
            only while it runs: ``enable_model_cpu_offload``) or ``sequential`` (layer by layer:
            slowest, least GPU memory).
    """
    import torch

    if offload not in OFFLOAD_MODES:
        raise ValidationError("offload", " or ".join(OFFLOAD_MODES), repr(offload))
    set_offline()
    model = check_model_dir(model)
    try:
        from diffusers import AutoencoderKLWan, WanAnimatePipeline
    except ImportError as exc:
        raise MissingDependencyError(f"the Appearance Expert needs diffusers, transformers and peft ({exc})") from None
    quiet_hf()
    dtype = dtype or default_dtype(device)
    try:
        vae = AutoencoderKLWan.from_pretrained(model, subfolder="vae", dtype=torch.float32, local_files_only=True)
        pipe = WanAnimatePipeline.from_pretrained(model, vae=vae, dtype=dtype, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise MaceDanceError(f"{model}: cannot load the pipeline ({type(exc).__name__}: {exc})") from None
    pipe.set_progress_bar_config(disable=True)
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    return pipe


def _weights_file(path: str | Path, name: str, what: str) -> Path:
    p = Path(path)
    p = p / name if p.is_dir() else p
    if not p.is_file():
        raise InputNotFoundError(f"{p}: no {what} file (a .safetensors file, a .7z archive holding one, or a `macedance train appearance` run folder)")
    return p


def _safetensors(path: str | Path, name: str, archived: str, what: str) -> tuple[dict[str, Any], Path, str]:
    """The tensors of a run folder's ``name``, a ``.safetensors`` file, or the ``archived`` member (any folder, any
    case) of a ``.7z`` archive such as MACE-Dance's ``Expert-Apprearance.7z``; with the file and the name for errors."""
    from safetensors import SafetensorError
    from safetensors.torch import load, load_file

    from macedance.io.sevenzip import is_7z, member_of_7z

    f = _weights_file(path, name, what)
    with open(f, "rb") as fh:
        head = fh.read(6)
    try:
        if is_7z(head):
            data, source = member_of_7z(f.read_bytes(), f, pick=lambda n: Path(n).name.lower() == archived.lower(), what=archived)
            return load(data), f, source
        return load_file(str(f)), f, str(f)
    except SafetensorError as exc:
        raise MaceDanceError(f"{f}: not a safetensors file ({exc})") from None


def load_adapter(pipe: Any, path: str | Path) -> Path:
    """Load Body-Adapter weights (``pose_patch_embedding.weight``/``.bias``, under any key prefix such as
    ``transformer.``, ``diffusion_model.`` or DiffSynth's ``pipe.animate_adapter.``) from a safetensors file, a run
    folder or MACE-Dance's ``.7z`` (its ``Adapter.safetensors``). Other tensors of the file (the face modules of
    Wan's animate adapter) are left out, as MACE-Dance's ``select_body_adapter_state_dict`` leaves them out."""
    import torch

    sd, f, source = _safetensors(path, ADAPTER_FILE, "Adapter.safetensors", "Body-Adapter")
    found = {k[k.index(ADAPTER_PREFIX) + len(ADAPTER_PREFIX) :]: v for k, v in sd.items() if ADAPTER_PREFIX in k}
    target = pipe.transformer.pose_patch_embedding
    own = target.state_dict()
    if set(found) != set(own):
        raise ValidationError("Body-Adapter keys", f"pose_patch_embedding.{{{', '.join(sorted(own))}}}", str(sorted(sd)[:6]), source=source)
    for k, v in found.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise ValidationError(f"pose_patch_embedding.{k}", f"shape {tuple(own[k].shape)} (this `model`)", str(tuple(v.shape)), source=source)
    if len(sd) > len(found):
        log.info("%s: %d tensors besides pose_patch_embedding left out", source, len(sd) - len(found))
    with torch.no_grad():
        for k, p in target.named_parameters():
            p.copy_(found[k].to(p.dtype))
    return f


def apply_lora(pipe: Any, path: str | Path, alpha: float = 0.5) -> Path:
    """Merge a LoRA into the transformer's weights at strength ``alpha`` and drop the LoRA layers (MACE-Dance merges
    its aesthetic LoRA at 0.5).

    * Original Wan / DiffSynth-Studio names (``blocks.N.self_attn.q.lora_A[.default].weight``, what MACE-Dance's
      ``LoRA.safetensors`` holds): merged as DiffSynth's ``load_lora`` merges them, ``W ← W + alpha·B·A``, each target
      mapped to diffusers' module (:mod:`macedance.appearance.wan_keys`); unknown or mis-shaped targets are refused
      with their list.
    * diffusers names (``transformer.blocks.N.attn1.to_q.lora_A.weight``, what ``train appearance`` writes): diffusers'
      ``load_lora_weights`` + ``fuse_lora``, ``W ← W + alpha·(lora_alpha/r)·B·A``.
    """

    from macedance.appearance.wan_keys import merge_original_lora

    sd, f, source = _safetensors(path, LORA_FILE, "LoRA.safetensors", "LoRA")
    if sd and not any(k.startswith("transformer.") for k in sd):
        merge_original_lora(pipe.transformer, sd, alpha=float(alpha), source=source)
        return f
    try:
        pipe.load_lora_weights(sd, adapter_name="macedance")
    except (ValueError, KeyError, RuntimeError) as exc:
        raise MaceDanceError(f"{f}: not a LoRA for this `model` ({type(exc).__name__}: {exc})") from None
    pipe.fuse_lora(components=["transformer"], lora_scale=float(alpha), adapter_names=["macedance"])
    pipe.unload_lora_weights()
    return f


@dataclass(frozen=True)
class AnimateConfig(ConfigRecord):
    """Sampling options of the Appearance Expert (defaults: MACE-Dance's inference settings)."""

    width: int = 720
    height: int = 1280
    steps: int = 20
    segment_frames: int = 77
    prev_frames: int = 1
    guidance: float = 1.0
    prompt: str = ""
    negative_prompt: str = ""

    def check(self) -> None:
        if self.width % 16 or self.height % 16 or self.width <= 0 or self.height <= 0:
            raise ValidationError("width/height", "positive multiples of 16", f"{self.width}×{self.height}")
        if self.prev_frames not in (1, 5):
            raise ValidationError("prev_frames", "1 or 5", str(self.prev_frames))
        if self.segment_frames % 4 != 1 or self.segment_frames <= self.prev_frames:
            raise ValidationError("segment_frames", f"4n + 1 and > `prev_frames` ({self.prev_frames})", str(self.segment_frames))
        if self.steps < 1:
            raise ValidationError("steps", "≥ 1", str(self.steps))


def animate(pipe: Any, reference: np.ndarray, pose: Sequence[np.ndarray], face: Sequence[np.ndarray], *, cfg: AnimateConfig,
            seed: int = 0, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB video of the person in ``reference`` following ``pose``/``face`` frames.

    ``reference`` is (H, W, 3) at the output size (see ``conditions.letterbox``); the output has
    exactly ``len(pose)`` frames, made segment by segment as described in the module docstring.
    """
    import torch
    from PIL import Image

    cfg.check()
    if len(pose) != len(face):
        raise ValidationError("face video", f"{len(pose)} frames (as the pose video)", f"{len(face)} frames")
    if len(pose) <= cfg.prev_frames:
        raise ValidationError("pose video", f"more than `prev_frames` ({cfg.prev_frames}) frames", f"{len(pose)} frames")
    n_seg = _segments(len(pose), cfg.segment_frames, cfg.prev_frames)
    done = [0]

    def on_step(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        done[0] += 1
        if progress:
            progress(done[0], n_seg * cfg.steps)
        return {}

    device = getattr(pipe, "_execution_device", "cpu")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    out = pipe(
        image=Image.fromarray(reference), pose_video=[Image.fromarray(f) for f in pose], face_video=[Image.fromarray(f) for f in face],
        prompt=cfg.prompt, negative_prompt=cfg.negative_prompt, height=cfg.height, width=cfg.width,
        segment_frame_length=cfg.segment_frames, num_inference_steps=cfg.steps, prev_segment_conditioning_frames=cfg.prev_frames,
        guidance_scale=cfg.guidance, generator=gen, output_type="np", callback_on_step_end=on_step,
    ).frames[0]
    log.debug("animated %d frames in %d segments on %s", len(out), n_seg, device)
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _segments(frames: int, segment: int, prev: int) -> int:
    """Number of segments the pipeline runs for ``frames`` pose frames (its padding rule)."""
    eff = segment - prev
    rest = (frames - prev) % eff
    return (frames + (eff - rest if rest else 0)) // eff
