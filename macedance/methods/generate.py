"""Generate dance motion from music with a trained Motion Expert (or baseline) checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from macedance.errors import InputNotFoundError, MaceDanceError, ValidationError
from macedance.models.representation import FPS, rep_to_motion
from macedance.schema import Motion
from macedance.training.data import music_features
from macedance.training.motion import build_model, genre_id, load_checkpoint


def generate_motion(ckpt: str | Path, music: str | Path, *, seconds: float | None = None, genre: str | None = None,
                    seed: int = 0, device: str = "cpu", progress: Any = None) -> Motion:
    """Sample one motion for ``music`` (a music ``.npz`` or an audio/video file), 30 fps, z-up.

    ``seconds`` defaults to the music's length; the whole sequence is generated in one pass.
    """
    state = load_checkpoint(ckpt)
    feats = music_features(Path(music))
    T = len(feats) if seconds is None else int(round(seconds * FPS))
    if T < 2:
        raise ValidationError("seconds", "at least two frames", repr(seconds))
    if len(feats) < T:
        raise MaceDanceError(f"{music}: music has {len(feats) / FPS:.2f} s, asked for {T / FPS:.2f} s")
    if state.get("method") in ("retrieval", "random-clip", "mean-pose"):
        from macedance.methods.reference import generate_reference

        motion = generate_reference(state, feats[:T], seed)
        return motion.replace(meta={**motion.meta, "music": str(music), "seed": str(seed)})
    model, diffusion, vocab = build_model(state)
    if genre is not None and genre not in vocab:
        raise ValidationError("genre", "one of " + ", ".join(vocab), repr(genre))
    dev = torch.device(device)
    model = model.to(dev)
    m = torch.as_tensor(feats[:T], dtype=torch.float32)[None].to(dev)
    g = torch.tensor([genre_id(genre, vocab)], device=dev)
    meta = {"generator": str(state.get("method", "mace-dance")), "checkpoint_step": str(int(state["step"])), "music": str(music),
            "seed": str(seed), "genre": genre or "unknown", "mixer": model.cfg.mixer, "guidance": model.cfg.guidance,
            "network": model.cfg.network}
    if model.cfg.network == "edge-official":
        return _sample_edge(model, diffusion, m, T, seed, meta, progress)
    if model.cfg.network == "mace-official":  # the released sampler (t = 999 … 19, GFT β)
        from macedance.models.official.ddim import Noise
        from macedance.models.official.mace_sampling import mace_ddim_sample

        x = mace_ddim_sample(model.decoder, m, g.clamp(max=model.decoder.cfg.num_genres - 1), noise=Noise(seed=seed),
                             beta=diffusion.cfg.beta, steps=diffusion.cfg.sample_steps, eta=diffusion.cfg.eta, progress=progress)
    else:
        x = diffusion.sample(model, m, g, torch.Generator().manual_seed(seed), progress=progress)
    rep = diffusion.norm.unnormalize(x)[0].cpu().numpy().astype(np.float64)
    return rep_to_motion(rep, meta)


def _sample_edge(model: Any, diffusion: Any, music: torch.Tensor, frames: int, seed: int, meta: dict[str, str], progress: Any) -> Motion:
    """EDGE's long-form sampling over windows of the run's length at half-window stride covering ``frames`` (the last
    window's missing feature rows repeat the last one), stitched and cut to ``frames``."""
    from macedance.methods.official.edge import cut_windows
    from macedance.models.official.ddim import Noise
    from macedance.models.official.edge_sampling import edge_long_ddim_sample, stitch_long

    windows = cut_windows(music[0].cpu().numpy(), window=model.decoder.cfg.seq_len, frames=frames)
    cond = torch.as_tensor(windows).to(music.device)
    x = edge_long_ddim_sample(model.decoder, cond, noise=Noise(seed=seed), weight=diffusion.cfg.cfg_weight, steps=diffusion.cfg.sample_steps,
                              eta=diffusion.cfg.eta, progress=progress)
    poses, trans = stitch_long(diffusion.norm.unnormalize(x.cpu()))
    return Motion(poses[:frames].numpy().astype(np.float64), trans[:frames].numpy().astype(np.float64), FPS, "z",
                  meta={**meta, "windows": str(len(windows))})


def generate_video(music: str | Path, ref: str | Path, *, motion_ckpt: str | Path, model: str | Path, out: str | Path,
                   animate_cfg: Any = None, seconds: float | None = None, seed: int = 0, genre: str | None = None,
                   fps: float = 16.0, device: str = "cpu", offload: str = "none", adapter: str | Path | None = None,
                   lora: str | Path | None = None, lora_alpha: float = 0.5, pose_out: str | Path | None = None,
                   face_out: str | Path | None = None, motion_out: str | Path | None = None,
                   progress: Any = None) -> dict[str, Any]:
    """The full MACE-Dance cascade: music → Motion Expert (SMPL motion) → pose and face videos aligned to
    the person in ``ref`` → Appearance Expert (Wan-Animate) → ``out`` (H.264 at ``fps``, the music
    muxed in as AAC). Returns a summary (frames, seconds, alignment, files)."""
    from PIL import Image, UnidentifiedImageError

    from macedance.appearance.conditions import motion_conditions
    from macedance.appearance.pipeline import AnimateConfig, animate, apply_lora, load_adapter, load_pipeline
    from macedance.io.video import write_video

    cfg = animate_cfg or AnimateConfig()
    cfg.check()
    music, ref = Path(music), Path(ref)
    if music.suffix.lower() == ".npz":
        raise MaceDanceError(f"{music}: a video needs the audio itself (an audio or video file), not a music .npz")
    if not ref.is_file():
        raise InputNotFoundError(f"{ref}: `ref` image not found")
    try:
        reference = np.asarray(Image.open(ref).convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise MaceDanceError(f"{ref}: not a readable image ({exc})") from None
    step = progress or (lambda stage, done, total: None)
    motion = generate_motion(motion_ckpt, music, seconds=seconds, genre=genre, seed=seed, device=device, progress=lambda i, n: step("motion", i, n))
    if motion_out:
        motion.save(motion_out)
    pipe = load_pipeline(model, device=device, offload=offload)
    if adapter:
        load_adapter(pipe, adapter)
    if lora:
        apply_lora(pipe, lora, lora_alpha)
    cond = motion_conditions(motion, reference, (cfg.width, cfg.height), fps=fps, face_size=int(pipe.transformer.config.motion_encoder_size),
                             source=ref)
    if pose_out:
        write_video(pose_out, cond.pose, fps)
    if face_out:
        write_video(face_out, cond.face, fps)
    frames = animate(pipe, cond.reference, cond.pose, cond.face, cfg=cfg, seed=seed, progress=lambda i, n: step("video", i, n))
    write_video(out, frames, fps, audio=music, audio_seconds=len(frames) / fps)
    return {"out": str(out), "frames": len(frames), "fps": fps, "seconds": len(frames) / fps, "size": (cfg.width, cfg.height),
            "alignment": {"scale_px_per_m": cond.alignment.scale, "offset_px": cond.alignment.offset} if cond.alignment else None,
            "motion_frames": motion.num_frames}
