"""``macedance generate``: dance motion, and dance video, from music with trained methods."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from macedance.cli import user_errors
from macedance.cli._ui import console, progress_bar

if TYPE_CHECKING:
    from macedance.schema import Joints3D, Motion

app = typer.Typer(help="Generate dance with a trained method.", no_args_is_help=True)


@app.command("motion")
def generate_motion_cmd(
    music: Annotated[Path, typer.Option(help="Music: audio/video file, a music .npz (30 fps) or, with --method, a (T, D) feature .npy.")],
    out: Annotated[Path, typer.Option(help="Output motion: .npz (macedance motion, or joints3d for joint-position methods), .pkl (the method's official layout; EDGE's otherwise) or .npy (FACT's and LODGE's own arrays).")],
    ckpt: Annotated[Optional[Path], typer.Option(help="A run folder or checkpoint.pt from `train motion`; with --method the released checkpoint (default: the weights installed by `weights import`).")] = None,
    method: Annotated[Optional[str], typer.Option(help="A released method run from its published checkpoint (mace-dance-official, edge-official, finenet-official, bailando-official, bailandopp-official, fact-official, lodge-official); default: the --ckpt run's own method.")] = None,
    weights: Annotated[Optional[str], typer.Option(help="With --method: model or ema weights of the checkpoint (default: what the official test script loads).")] = None,
    rng: Annotated[str, typer.Option(help="With --method: official (consume random numbers as the original code: same seed → its output on CPU) or macedance.")] = "macedance",
    compile_mode: Annotated[Optional[str], typer.Option("--compile", help="With --method: run the network under torch.compile (default, reduce-overhead, max-autotune, max-autotune-no-cudagraphs); the results agree with eager to float rounding.")] = None,
    cuda_graph: Annotated[bool, typer.Option(help="With --method on cuda: capture the network evaluation once as a CUDA graph and replay it at every step.")] = False,
    first_tokens: Annotated[Optional[str], typer.Option(help="With --method bailando-official or bailandopp-official: ground-truth (the official evaluation: the "
                                                        "first codes of --seed-motion) or demo (the fixed codes 423/12); default: "
                                                        "ground-truth when --seed-motion is given, else demo.")] = None,
    seed_motion: Annotated[Optional[Path], typer.Option(help="With --method bailando-official or bailandopp-official: the ground-truth dance whose first codes "
                                                        "start the sequence; fact-official: whose first 120 frames it continues (any motion file `eval motion` reads).")] = None,
    seconds: Annotated[Optional[float], typer.Option(help="Length (default: the music's).")] = None,
    genre: Annotated[Optional[str], typer.Option(help="Dance genre (one of the run's genres; default unknown).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    render: Annotated[Optional[Path], typer.Option(help="Also write a skeleton video (.mp4) with the music.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
) -> None:
    """Generate a dance for a music file in one pass (any length) and optionally render it."""
    from macedance.errors import ValidationError
    from macedance.methods.generate import generate_motion

    with user_errors():
        arrays = None  # the method's own output file, when it holds more than the motion (FineNet's hands)
        with progress_bar("sample") as progress:
            if method is None:
                if ckpt is None:
                    raise ValidationError("ckpt", "a run folder or checkpoint.pt from `train motion` (or --method for a released method)", "nothing")
                motion = generate_motion(ckpt, music, seconds=seconds, genre=genre, seed=seed, device=device,
                                         progress=lambda i, n: progress(i, n, "DDIM"))
            else:
                from macedance.methods.official.released import MOTION_SEEDED, build_released, generate_released_file

                extra = {}
                tokens = ("bailando-official", "bailandopp-official")
                if method in tokens:
                    extra["first_tokens"] = first_tokens or ("ground-truth" if seed_motion is not None else "demo")
                elif first_tokens is not None:
                    raise ValidationError("first_tokens", "only with --method " + " or ".join(tokens), f"--method {method}")
                if seed_motion is not None and method not in MOTION_SEEDED:
                    raise ValidationError("seed_motion", "only with --method " + ", ".join(MOTION_SEEDED), f"--method {method}")
                runner = build_released(method, ckpt, device=device, weights=weights, rng=rng, compile_mode=compile_mode, cuda_graph=cuda_graph,
                                        **extra)
                motion, arrays = generate_released_file(runner, music, seconds=seconds, seed=seed, genre=genre,
                                                        progress=lambda i, n: progress(i, n, "sample"),
                                                        seed_motion=_seed_motion(seed_motion))
        if out.suffix.lower() in (".pkl", ".npy"):
            from macedance.methods.official.output import write_official

            write_official(out, motion, arrays=arrays)
        else:
            motion.save(out)
        if render:
            from macedance.io.video import write_video
            from macedance.render.skeleton import skeleton_frames

            audio = music if music.suffix.lower() != ".npz" else None
            write_video(render, skeleton_frames(motion), motion.fps, audio=audio, audio_seconds=motion.duration)
    console.print(f"[green]{motion.num_frames} frames[/green] ({motion.duration:.2f} s at {motion.fps:g} fps) → {out}"
                  + (f", video → {render}" if render else ""))


def _seed_motion(path: Path | None) -> Motion | Joints3D | None:
    """The ground-truth dance of ``--seed-motion`` (rotations when the file has them, else its joint positions)."""
    if path is None:
        return None
    from macedance.io.motion_formats import read_motion_file
    from macedance.schema import Joints3D

    f = read_motion_file(path)
    return f.motion if f.motion is not None else Joints3D(f.joints, f.fps, f.up_axis)


@app.command("video")
def generate_video_cmd(
    music: Annotated[Path, typer.Option(help="Music: an audio or video file (muxed into the output).")],
    ref: Annotated[Path, typer.Option(help="Reference image: a full-body photo of one person.")],
    motion_ckpt: Annotated[Path, typer.Option(help="Motion Expert run folder or checkpoint.pt from `train motion`.")],
    model: Annotated[Path, typer.Option(help="Local diffusers Wan-Animate folder (e.g. Wan2.2-Animate-14B-Diffusers); never downloaded.")],
    out: Annotated[Path, typer.Option(help="Output video (.mp4).")],
    seconds: Annotated[Optional[float], typer.Option(help="Length (default: the music's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (motion and video).")] = 0,
    genre: Annotated[Optional[str], typer.Option(help="Dance genre for the Motion Expert.")] = None,
    fps: Annotated[float, typer.Option(help="Frame rate of the pose video and the output.")] = 16.0,
    width: Annotated[int, typer.Option(help="Output width (multiple of 16).")] = 720,
    height: Annotated[int, typer.Option(help="Output height (multiple of 16).")] = 1280,
    steps: Annotated[int, typer.Option(min=1, help="Denoising steps per segment.")] = 20,
    segment_frames: Annotated[int, typer.Option(help="Frames per relay segment (4n + 1; 77 = the 81-frame window with the reference).")] = 77,
    prev_frames: Annotated[int, typer.Option(help="Frames of the previous segment each segment is anchored on (1 or 5).")] = 1,
    guidance: Annotated[float, typer.Option(help="Classifier-free guidance scale (1 = off, as Wan-Animate and MACE-Dance).")] = 1.0,
    prompt: Annotated[str, typer.Option(help="Text prompt.")] = "",
    adapter: Annotated[Optional[Path], typer.Option(help="Body-Adapter weights: a `train appearance` run, a .safetensors file or MACE-Dance's .7z.")] = None,
    lora: Annotated[Optional[Path], typer.Option(help="LoRA: an aesthetic-stage run, a .safetensors file (diffusers or Wan/DiffSynth names) or MACE-Dance's .7z.")] = None,
    lora_alpha: Annotated[float, typer.Option(help="Strength the LoRA is merged at (MACE-Dance: 0.5).")] = 0.5,
    device: Annotated[str, typer.Option(help="cpu or cuda (bf16 on cuda).")] = "cpu",
    offload: Annotated[str, typer.Option(help="none, model (components on the GPU only while they run) or sequential (layer by layer).")] = "none",
    pose_video: Annotated[Optional[Path], typer.Option(help="Also write the pose video (.mp4).")] = None,
    face_video: Annotated[Optional[Path], typer.Option(help="Also write the face video (.mp4).")] = None,
    motion_out: Annotated[Optional[Path], typer.Option(help="Also write the generated motion (.npz).")] = None,
) -> None:
    """Music + reference image → dance video: Motion Expert → pose video → Appearance Expert (Wan-Animate)
    ([italic]docs/appearance-expert.md[/italic])."""
    from macedance.appearance.pipeline import AnimateConfig
    from macedance.methods.generate import generate_video

    with user_errors():
        cfg = AnimateConfig(width=width, height=height, steps=steps, segment_frames=segment_frames, prev_frames=prev_frames,
                            guidance=guidance, prompt=prompt)
        with progress_bar("generate") as progress:
            summary = generate_video(music, ref, motion_ckpt=motion_ckpt, model=model, out=out, animate_cfg=cfg, seconds=seconds, seed=seed, genre=genre, fps=fps, device=device, offload=offload, adapter=adapter,
                                     lora=lora, lora_alpha=lora_alpha, pose_out=pose_video, face_out=face_video, motion_out=motion_out,
                                     progress=lambda stage, i, n: progress(i, n, stage))
    console.print(f"[green]{summary['frames']} frames[/green] ({summary['seconds']:.2f} s at {fps:g} fps, {width}×{height}) → {out}")
