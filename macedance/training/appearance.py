"""Fine-tune the Appearance Expert (Wan-Animate) in MACE-Dance's two decoupled stages.

* ``kinematic``: only the Body Adapter — the transformer's ``pose_patch_embedding`` (a Conv3d from
  the pose video's VAE latents to the model width, added to every frame but the reference) — is
  trained; the DiT, the VAE and the text/image encoders are frozen. Paper: Adam, lr 1e-5.
* ``aesthetic``: the Body Adapter of a kinematic run (``init``) is loaded and frozen, and LoRA of rank
  32 (peft, ``lora_alpha`` = rank, so the LoRA scale is 1 during training) is added to q/k/v/o of
  both attentions and to the two FFN linears of every DiT block; only the LoRA is trained.
  Paper: Adam, lr 5e-5. At inference it is merged at strength 0.5 (``apply_lora``).

Objective — rectified flow matching as Wan is trained (and as diffusers' flow-prediction schedulers
invert it): clean latents x₀ (the reference image's latent frame followed by the clip's video
latents, VAE-normalised), noise ε, σ ~ U(0, 1) shifted as σ ← s·σ / (1 + (s − 1)·σ) with the
scheduler's ``flow_shift`` s (5 for Wan-Animate), x_σ = (1 − σ)·x₀ + σ·ε, timestep 1000·σ; the
transformer predicts the velocity ε − x₀; the loss is its mean squared error over the generated
frames (the reference frame's slot excluded). No per-timestep loss weighting.

Conditioning is built with the pipeline's own methods, exactly as at inference: reference latents
with their mask, the "previous segment" latents (with probability ``prev_prob`` the clip's first
``prev_frames`` frames act as the previous segment's last frames, otherwise none — so both the first
and the relayed segments are trained), pose latents, the face video, the CLIP image embedding and the
text embedding of ``prompt`` (padded to 512 tokens).

Run folder: ``checkpoint.pt`` (trainable tensors, optimiser, step, random states; atomic,
``weights_only``-loadable), ``adapter.safetensors`` (the Body Adapter), ``pytorch_lora_weights.safetensors``
(aesthetic: the LoRA in diffusers' format), ``loss.csv``, ``loss.png``, ``config.json``, ``skipped.json``.
Resuming restores everything, so an interrupted run continues as the uninterrupted one would.

Runs as one process or under ``accelerate launch`` (DDP; FSDP for the 14B transformer; see
:mod:`macedance.training.distributed`): ``batch`` is the global batch of one optimiser step, split
over processes and ``grad_accum`` micro-steps. Every process draws the global batch's clips and
windows from the shared seed and loads only its share; σ and the noise of each sample come from a
generator seeded by (seed, step, sample), so the updates do not depend on how the batch is split.
Only the main process writes the run folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from macedance import __version__
from macedance.errors import MaceDanceError, ValidationError
from macedance.fileio import append_line, atomic_write, sha256_file, write_json
from macedance.presets import ConfigRecord
from macedance.training.logs import holds_run_folder, last_logged, plot_losses, save_checkpoint, start_loss_csv

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
STAGES = ("kinematic", "aesthetic")
STAGE_LR = {"kinematic": 1e-5, "aesthetic": 5e-5}
LORA_TARGETS = r"blocks\.\d+\.(attn1|attn2)\.(to_q|to_k|to_v|to_out\.0)|blocks\.\d+\.ffn\.net\.(0\.proj|2)"


@dataclass(frozen=True)
class AppearanceTrainConfig(ConfigRecord):
    stage: Literal["kinematic", "aesthetic"] = "kinematic"
    steps: int = 50_000
    lr: float = 0.0  # 0 → the stage's paper value (STAGE_LR)
    batch: int = 1
    width: int = 720
    height: int = 1280
    frames: int = 77  # one segment (4n + 1)
    fps: float = 16.0
    rank: int = 32
    prev_frames: int = 1
    prev_prob: float = 0.5
    prompt: str = ""
    grad_clip: float = 1.0
    gradient_checkpointing: bool = True
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "cpu"
    grad_accum: int = 1  # micro-steps per optimiser step; ``batch`` is the global batch of one step

    def check(self) -> None:
        if self.stage not in STAGES:
            raise ValidationError("stage", " or ".join(STAGES), repr(self.stage))
        if self.frames % 4 != 1 or self.frames <= self.prev_frames:
            raise ValidationError("frames", f"4n + 1 and > {self.prev_frames}", str(self.frames))
        if self.width % 16 or self.height % 16:
            raise ValidationError("width/height", "multiples of 16", f"{self.width}×{self.height}")
        if self.prev_frames not in (1, 5):
            raise ValidationError("prev_frames", "1 or 5", str(self.prev_frames))

    @property
    def learning_rate(self) -> float:
        return self.lr or STAGE_LR[self.stage]


def lora_parameter_count(transformer: Any, rank: int) -> int:
    """Analytic number of LoRA parameters: r·(in + out) for each targeted linear layer."""
    cfg = transformer.config
    d, f = cfg.num_attention_heads * cfg.attention_head_dim, cfg.ffn_dim
    return cfg.num_layers * (8 * rank * (d + d) + rank * (d + f) + rank * (f + d))


def setup_trainable(pipe: Any, stage: str, rank: int) -> dict[str, Any]:
    """Freeze everything, then make the stage's parameters trainable; returns them by name."""
    for part in (pipe.vae, pipe.text_encoder, pipe.image_encoder, pipe.transformer):
        part.requires_grad_(False)
    tr = pipe.transformer
    if stage == "kinematic":
        tr.pose_patch_embedding.requires_grad_(True)
    else:
        from peft import LoraConfig

        tr.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=True, target_modules=LORA_TARGETS))
    params = {n: p for n, p in tr.named_parameters() if p.requires_grad}
    for p in params.values():  # trainable weights in float32 (the frozen model may be bf16)
        p.data = p.data.float()
    return params


def adapter_state(pipe: Any) -> dict[str, Any]:
    return {f"pose_patch_embedding.{k}": v.detach().float().cpu().contiguous() for k, v in pipe.transformer.pose_patch_embedding.state_dict().items()}


def lora_state(pipe: Any, state_dict: dict[str, Any] | None = None) -> dict[str, Any]:
    """The LoRA tensors in diffusers' file layout (``transformer.blocks.N.attn1.to_q.lora_A.weight``), from
    the transformer or from its gathered ``state_dict`` (sharded training)."""
    from peft.utils import get_peft_model_state_dict

    sd = get_peft_model_state_dict(pipe.transformer, state_dict=state_dict)
    return {f"transformer.{k}": v.detach().float().cpu().contiguous() for k, v in sd.items()}


def _write_safetensors(path: Path, tensors: dict[str, Any]) -> None:
    from safetensors.torch import save

    with atomic_write(path) as f:
        f.write(save(tensors, metadata={"format": "pt", "writer": f"macedance {__version__}"}))


class Conditioner:
    """Turns samples into the transformer's inputs with the pipeline's own encoders (no gradients)."""

    def __init__(self, pipe: Any, cfg: AppearanceTrainConfig, device: Any):
        import torch

        self.pipe, self.cfg = pipe, cfg
        self.dev = torch.device(device)
        with torch.no_grad():
            self.prompt = pipe.encode_prompt(prompt=cfg.prompt, do_classifier_free_guidance=False, max_sequence_length=512,
                                             device=self.dev)[0].to(pipe.transformer.dtype)

    def _pixels(self, frames: list[np.ndarray]) -> Any:
        import torch

        x = torch.from_numpy(np.stack(frames)).float().div(127.5).sub(1.0)  # (T, H, W, 3) in [-1, 1]
        return x.permute(3, 0, 1, 2)  # (3, T, H, W)

    def __call__(self, samples: list[Any], use_prev: list[bool]) -> dict[str, Any]:
        import torch
        from diffusers.pipelines.wan.pipeline_wan_animate import retrieve_latents
        from PIL import Image

        p, cfg, dev = self.pipe, self.cfg, self.dev
        B = len(samples)
        vae_dt = p.vae.dtype
        with torch.no_grad():
            video = torch.stack([self._pixels(s.video) for s in samples]).to(dev, vae_dt)
            pose = torch.stack([self._pixels(s.pose) for s in samples]).to(dev, vae_dt)
            face = torch.stack([self._pixels(s.face) for s in samples]).to(dev, p.transformer.dtype)
            ref = torch.stack([self._pixels([s.reference])[:, 0] for s in samples]).to(dev, torch.float32)
            mean = torch.tensor(p.vae.config.latents_mean, device=dev).view(1, -1, 1, 1, 1)
            std = torch.tensor(p.vae.config.latents_std, device=dev).view(1, -1, 1, 1, 1)
            x0 = (retrieve_latents(p.vae.encode(video), sample_mode="argmax").float() - mean) / std
            ref_lat = p.prepare_reference_image_latents(ref, B, device=dev).float()  # (B, 4 + z, 1, h, w)
            prev = []
            for b in range(B):
                cond = video[b : b + 1, :, : cfg.prev_frames] if use_prev[b] else None
                prev.append(p.prepare_prev_segment_cond_latents(cond, batch_size=1, segment_frame_length=cfg.frames,
                                                                start_frame=1 if use_prev[b] else 0, height=cfg.height,
                                                                width=cfg.width, prev_segment_cond_frames=cfg.prev_frames,
                                                                device=dev).float())
            reference = torch.cat([ref_lat, torch.cat(prev)], dim=2)
            pose_lat = p.prepare_pose_latents(pose, B, device=dev)
            image = p.encode_image([Image.fromarray(s.reference) for s in samples], dev)
        z = x0.shape[1]
        clean = torch.cat([ref_lat[:, -z:], x0], dim=2)  # the reference frame's slot, then the video latents
        return {"clean": clean, "reference": reference, "pose": pose_lat, "face": face, "image": image,
                "prompt": self.prompt.expand(B, -1, -1)}


def sample_generators(seed: int, step: int, rows: range) -> list[Any]:
    """One CPU generator per sample of the global batch, seeded by (seed, step, sample index)."""
    import torch

    return [torch.Generator().manual_seed(int.from_bytes(hashlib.sha256(f"{seed}:{step}:{i}".encode()).digest()[:8], "little"))
            for i in rows]


def flow_matching_loss(transformer: Any, inputs: dict[str, Any], gens: list[Any], shift: float) -> Any:
    """MSE between the predicted and the true velocity ε − x₀ at a random shifted σ (module docstring);
    sample b draws its σ and noise from ``gens[b]``. ``transformer`` may be DDP/FSDP-wrapped."""
    import torch

    clean = inputs["clean"]
    B = clean.shape[0]
    sigma = torch.cat([torch.rand(1, generator=g) for g in gens])
    sigma = shift * sigma / (1 + (shift - 1) * sigma)
    noise = torch.stack([torch.randn(clean.shape[1:], generator=g) for g in gens]).to(clean.device)
    s = sigma.to(clean.device).view(B, 1, 1, 1, 1)
    noisy = (1 - s) * clean + s * noise
    dt = getattr(transformer, "module", transformer).dtype
    hidden = torch.cat([noisy, inputs["reference"]], dim=1).to(dt)
    with torch.autocast(clean.device.type, dtype=dt, enabled=dt != torch.float32):
        pred = transformer(hidden_states=hidden, timestep=(sigma * 1000).to(clean.device), encoder_hidden_states=inputs["prompt"],
                           encoder_hidden_states_image=inputs["image"].to(dt), pose_hidden_states=inputs["pose"].to(dt),
                           face_pixel_values=inputs["face"], return_dict=False)[0]
    target = noise - clean
    return torch.nn.functional.mse_loss(pred[:, :, 1:].float(), target[:, :, 1:])


def _load_state(run: Path) -> dict[str, Any] | None:
    import torch

    path = run / CHECKPOINT
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MaceDanceError(f"{path}: not a readable macedance checkpoint ({exc})") from None


@holds_run_folder
def train_appearance(data: str | Path, model: str | Path, run: str | Path, *, cfg: AppearanceTrainConfig, init: str | Path | None = None,
                     resume: bool = False, progress: Callable[[int, int, float], None] | None = None,
                     stop_after: int | None = None, offload: str = "none", pipe: Any = None) -> dict[str, Any]:
    """Train (or resume) one stage into ``run``; ``init`` is the Body Adapter (a kinematic run folder or
    a safetensors file) the aesthetic stage starts from (default: the model's own). ``pipe``: the
    pipeline already loaded from ``model`` (it is modified in place), else it is loaded. The run folder is held by
    this run (:mod:`macedance.folder_lock`); a killed run's temporary files there are deleted."""
    import torch

    from macedance.appearance.data import clip_seconds, load_clips, load_sample
    from macedance.appearance.pipeline import check_model_dir, load_adapter, load_pipeline
    from macedance.training.distributed import runtime

    run = Path(run)
    state = _load_state(run) if resume else None
    if (run / CHECKPOINT).is_file() and not resume:
        raise MaceDanceError(f"{run}: already holds a run; continue it with `resume` or choose another `out`")
    if state is not None:
        cfg = AppearanceTrainConfig.from_dict({**state["config"], "steps": cfg.steps, "device": cfg.device})
    cfg.check()
    rt = runtime(cfg.device)
    micro = rt.micro_batches(cfg.batch, cfg.grad_accum)
    model = check_model_dir(model)
    clips, skipped = load_clips(data)
    window = (cfg.frames - 1) / cfg.fps
    for c in [c for c in clips if clip_seconds(c) < window + 1 / c.src_fps]:
        skipped.append({"clip": c.id, "reason": f"shorter than one training window ({cfg.frames} frames at {cfg.fps:g} fps)"})
        clips.remove(c)
    if not clips:
        raise MaceDanceError(f"{data}: no usable training clip ({skipped[0]['reason'] if skipped else 'empty split'})")
    pipe = pipe if pipe is not None else load_pipeline(model, device=str(rt.device), offload=offload)
    if state is None and cfg.stage == "aesthetic" and init is not None:
        load_adapter(pipe, init)
    if state is not None:  # the frozen adapter the run was trained on
        with torch.no_grad():
            for k, p in pipe.transformer.pose_patch_embedding.named_parameters():
                p.copy_(state["adapter"][f"pose_patch_embedding.{k}"].to(p.dtype))
    params = setup_trainable(pipe, cfg.stage, cfg.rank)
    tr = pipe.transformer
    if cfg.gradient_checkpointing:
        tr.enable_gradient_checkpointing()
    opt = torch.optim.Adam(params.values(), lr=cfg.learning_rate)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)  # clips and windows: the same draws on every process
    step = 0
    if state is not None:
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(state["trainable"][n])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
    shift = float(pipe.scheduler.config.get("flow_shift", 5.0) or 5.0)
    face_size = int(tr.config.motion_encoder_size)
    cond = Conditioner(pipe, cfg, rt.device)
    wrapped, opt = rt.accelerator.prepare(tr, opt)
    provenance = {"model": str(model), "model_index_sha256": sha256_file(model / "model_index.json"),
                  "init": str(init) if init else None, "macedance_version": __version__}
    csv_path = run / "loss.csv"
    if rt.is_main:
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "config.json", {"train": cfg.to_dict(), **provenance, "trainable_parameters": sum(p.numel() for p in params.values()),
                                         "processes": rt.world, "objective": f"flow matching, velocity target, shift {shift:g}"})
        write_json(run / "skipped.json", skipped)
        start_loss_csv(csv_path, ("step", "loss", "seconds"), step)
    frozen_adapter = adapter_state(pipe)

    def checkpoint() -> None:
        full = rt.accelerator.get_state_dict(wrapped) if rt.world > 1 else None  # FSDP: gathered from the shards
        trainable = {n: (full[n] if full is not None else p).detach().cpu() for n, p in params.items()}
        if rt.is_main:
            adapter = {f"pose_patch_embedding.{k}": trainable[f"pose_patch_embedding.{k}"].float().contiguous()
                       for k in ("weight", "bias")} if cfg.stage == "kinematic" else frozen_adapter
            save_checkpoint(run / CHECKPOINT, {
                "trainable": trainable, "adapter": adapter, "optimizer": opt.state_dict(), "step": step, "generator": gen.get_state(),
                "torch_rng": torch.get_rng_state(), "config": cfg.to_dict(), **provenance,
                "last_loss": loss_value, "train_seconds": seconds_before + time.perf_counter() - t0,
            })
            _write_safetensors(run / "adapter.safetensors", adapter)
            if cfg.stage == "aesthetic":
                _write_safetensors(run / "pytorch_lora_weights.safetensors", lora_state(pipe, full))
            plot_losses(csv_path, run / "loss.png", keys=("loss",), title=f"Appearance Expert, {cfg.stage} stage")
        rt.barrier()

    t0 = time.perf_counter()
    start_step = step
    seconds_before = float(state.get("train_seconds", 0.0)) if state else 0.0
    # the loss of the last step trained (restored on resume, so a run with nothing left to do reports it too)
    loss_value = float(state.get("last_loss", last_logged(csv_path, step).get("loss", float("nan")))) if state else float("nan")
    wrapped.train()
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    while step < end:
        draws = []  # the global batch's clips, windows and "previous segment" choices, drawn on every process
        for _ in range(cfg.batch):
            clip = clips[int(torch.randint(len(clips), (1,), generator=gen))]
            start = float(torch.rand(1, generator=gen)) * max(0.0, clip_seconds(clip) - window - 1 / clip.src_fps)
            draws.append((clip, start, bool(torch.rand(1, generator=gen) < cfg.prev_prob)))
        opt.zero_grad(set_to_none=True)
        total = torch.zeros((), device=rt.device)
        for k, rows in enumerate(micro):
            mine = draws[rows]
            samples = [load_sample(c, st, frames=cfg.frames, fps=cfg.fps, size=(cfg.width, cfg.height), face_size=face_size) for c, st, _ in mine]
            gens = sample_generators(cfg.seed, step, range(rows.start, rows.stop))
            with contextlib.nullcontext() if k == len(micro) - 1 else rt.accelerator.no_sync(wrapped):
                loss = flow_matching_loss(wrapped, cond(samples, [u for _, _, u in mine]), gens, shift) / len(micro)
                rt.accelerator.backward(loss)
            total += loss.detach()
        rt.accelerator.clip_grad_norm_(list(params.values()), cfg.grad_clip)
        opt.step()
        step += 1
        loss_value = float(rt.mean(total))
        if rt.is_main and (step % cfg.log_every == 0 or step == end):
            append_line(csv_path, f"{step},{loss_value:.6g},{time.perf_counter() - t0:.3f}")
        if step % cfg.checkpoint_every == 0 or step == end:
            checkpoint()
        if progress and rt.is_main:
            progress(step, cfg.steps, loss_value)
    seconds = time.perf_counter() - t0
    return {"run": str(run), "step": step, "steps_trained": step - start_step, "clips": len(clips), "skipped": skipped,
            "last_loss": loss_value, "processes": rt.world, "trainable_parameters": sum(p.numel() for p in params.values()),
            "seconds": seconds, "train_seconds": seconds_before + (seconds if step > start_step else 0.0)}
