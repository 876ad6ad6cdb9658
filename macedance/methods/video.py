"""Methods that make dance videos, as the video benchmark tasks see them: metadata plus
``generate_video(job) → frames`` (or the path of a video made elsewhere).

* ``wan-animate``: a local diffusers Wan-Animate pipeline as released (``--model``), pose-driven (``animation``).
* ``appearance-expert``: the same pipeline with a Body Adapter and/or an aesthetic LoRA (MACE-Dance's ``.7z`` or a
  ``train appearance`` run) — the MACE-Dance Appearance Expert.
* ``<motion method>+<wan-animate|appearance-expert>``: a cascade (``music2video``): the motion method's SMPL motion is
  drawn as Wan-Animate pose frames aligned to the reference person, then animated — ``mace-dance-official+appearance-expert``
  is MACE-Dance (registered as ``mace-dance`` on the video tasks), ``edge-official+wan-animate`` the paper's
  "EDGE + Wan-Animate" row.
* ``folder``: videos generated elsewhere, ``<clip id>.mp4`` (any of :data:`macedance.io.video.VIDEO_SUFFIXES`), for
  either kind; files that match no clip are reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from macedance import __version__
from macedance.errors import InputNotFoundError, MaceDanceError, ValidationError
from macedance.fileio import sha256_file
from macedance.methods.registry import MethodMeta, MotionMethod, clip_seed

AppearanceName = Literal["wan-animate", "appearance-expert"]
APPEARANCE: tuple[AppearanceName, ...] = ("wan-animate", "appearance-expert")
Progress = Callable[[int, int], None]
#: Video-task names of published cascades: ``mace-dance`` is MACE-Dance itself, both experts from the released weights
#: (``--ckpt`` Expert-Motion, ``--adapter``/``--lora`` Expert-Appearance).
VIDEO_ALIASES = {"mace-dance": "mace-dance-official+appearance-expert"}


@dataclass
class DrivingPose:
    """The driving signal of an animation job: the clip's frames at the task's frame rate (each (h, w, 3) uint8 at the
    source size; their faces are the face video) and their 2D keypoints ((T, K, 3) source px, ``skeleton`` layout)."""

    frames: list[np.ndarray]
    keypoints: np.ndarray
    skeleton: str


@dataclass
class VideoJob:
    """One video to make for a benchmark clip.

    Attributes:
        clip_id, seed, genre: the clip, the task seed (mix it with the clip id: :func:`clip_seed`), its genre.
        fps, frames: the output's frame rate and frame count.
        size: the task's canvas (width, height) px; the output's size must have its aspect ratio.
        reference: the reference image, (h, w, 3) uint8 at its own size (the clip's first frame).
        reference_keypoints: its 2D keypoints ((K, 3) px, ``skeleton`` layout) from the dataset, or None.
        music: the clip's music (music ``.npz`` or audio) for ``music2video``.
        driving: the clip's own pose for ``animation``.
    """

    clip_id: str
    seed: int
    genre: str | None
    fps: float
    frames: int
    size: tuple[int, int]
    reference: np.ndarray
    reference_keypoints: np.ndarray | None = None
    skeleton: str = ""
    music: Path | None = None
    driving: DrivingPose | None = None


@runtime_checkable
class VideoMethod(Protocol):
    meta: MethodMeta

    def generate_video(self, job: VideoJob, progress: Progress | None = None) -> np.ndarray | Path:
        """(T, H, W, 3) uint8 RGB frames, or the path of an existing video file."""
        ...


def _transformer_parameters(model: Path) -> int | None:
    """The transformer's parameter count from its safetensors headers (nothing is loaded)."""
    from safetensors import safe_open

    files = sorted((model / "transformer").glob("*.safetensors"))
    if not files:
        return None
    n = 0
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            n += sum(int(np.prod(st.get_slice(k).get_shape())) for k in st.keys())
    return n


def _model_digest(model: Path) -> str:
    """sha256 over the pipeline folder's files (relative path and content hash of each, sorted)."""
    h = hashlib.sha256()
    for f in sorted(p for p in model.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(f"{f.relative_to(model).as_posix()}:{sha256_file(f)}\n".encode())
    return h.hexdigest()


class AppearanceMethod:
    """Wan-Animate (``wan-animate``) or the Appearance Expert (``appearance-expert``: with ``adapter`` and/or ``lora``)
    from a local diffusers folder; the pipeline is loaded on first use."""

    def __init__(self, name: AppearanceName, *, model: Path, adapter: Path | None = None, lora: Path | None = None,
                 lora_alpha: float = 0.5, cfg: Any = None, device: str = "cpu", offload: str = "none"):
        from macedance.appearance.pipeline import AnimateConfig, check_model_dir

        if name not in APPEARANCE:
            raise ValidationError("appearance method", " or ".join(APPEARANCE), repr(name))
        if name == "wan-animate" and (adapter or lora):
            raise ValidationError("adapter/lora", "none for wan-animate (the released pipeline; use appearance-expert)", "given")
        if name == "appearance-expert" and not (adapter or lora):
            raise ValidationError("adapter/lora", "a Body Adapter and/or a LoRA for appearance-expert (MACE-Dance's .7z or a "
                                  "`train appearance` run)", "neither")
        self.model = check_model_dir(model)
        self.cfg = cfg or AnimateConfig()
        self.cfg.check()
        self.adapter, self.lora, self.lora_alpha, self.device, self.offload = adapter, lora, float(lora_alpha), device, offload
        self._pipe: Any = None
        weights = {f"{self.model.name}/": _model_digest(self.model)}
        for path in (adapter, lora):
            if path is not None:
                if not Path(path).exists():
                    raise InputNotFoundError(f"{path}: not found")
                files = [Path(path)] if Path(path).is_file() else sorted(p for p in Path(path).glob("*.safetensors"))
                weights.update({f.name: sha256_file(f) for f in files})
        what = ("Wan-Animate as released (diffusers WanAnimatePipeline)" if name == "wan-animate" else
                "MACE-Dance Appearance Expert: Wan-Animate with the Body Adapter and aesthetic LoRA (merged at "
                f"{self.lora_alpha:g})")
        self.meta = MethodMeta(
            name, f"macedance {__version__}", what,
            "Wan-Animate (Wan team, 2025)" if name == "wan-animate" else "MACE-Dance, arXiv 2512.18181",
            "Apache-2.0 (Wan2.2 code and weights)" + ("" if name == "wan-animate" else "; Appearance Expert weights: see their card"),
            capabilities=("animation",), weights=weights,
            config={"animate": self.cfg.to_dict(), "lora_alpha": self.lora_alpha if lora else None, "offload": offload,
                    "parameters": _transformer_parameters(self.model)})

    @property
    def pipe(self) -> Any:
        if self._pipe is None:
            from macedance.appearance.pipeline import apply_lora, load_adapter, load_pipeline

            self._pipe = load_pipeline(self.model, device=self.device, offload=self.offload)
            if self.adapter:
                load_adapter(self._pipe, self.adapter)
            if self.lora:
                apply_lora(self._pipe, self.lora, self.lora_alpha)
        return self._pipe

    @property
    def size(self) -> tuple[int, int]:
        return self.cfg.width, self.cfg.height

    def animate(self, reference: np.ndarray, pose: list[np.ndarray], face: list[np.ndarray], seed: int,
                progress: Progress | None) -> np.ndarray:
        from macedance.appearance.pipeline import animate

        return animate(self.pipe, reference, pose, face, cfg=self.cfg, seed=seed, progress=progress)

    def generate_video(self, job: VideoJob, progress: Progress | None = None) -> np.ndarray:
        """Animate the job's reference with its driving pose (the frames' faces and their keypoints drawn as Wan
        pose images), at this method's size."""
        from macedance.appearance.conditions import keypoint_conditions, letterbox

        if job.driving is None:
            raise MaceDanceError(f"clip {job.clip_id}: {self.meta.name} animates a driving pose; this job has none")
        face_size = int(self.pipe.transformer.config.motion_encoder_size)
        _, pose, face = keypoint_conditions(job.driving.frames, job.driving.keypoints, job.driving.skeleton, size=self.size,
                                            face_size=face_size)
        ref, _, _ = letterbox(job.reference, self.size)
        return self.animate(ref, pose, face, clip_seed(job.seed, job.clip_id), progress)


class CascadeMethod:
    """A motion method followed by an appearance method (``music2video``): the generated SMPL motion → Wan pose frames
    aligned to the reference person (its dataset keypoints when given, else detected) → animated."""

    def __init__(self, motion: MotionMethod, appearance: AppearanceMethod, name: str | None = None):
        if "motion-seed" in motion.meta.capabilities:
            raise ValidationError("motion method", "one that generates SMPL rotations from music alone (a cascade has no ground-truth "
                                  "motion to seed it, and the pose frames come from rotations)", motion.meta.name)
        self.motion, self.appearance = motion, appearance
        m, a = motion.meta, appearance.meta
        self.meta = MethodMeta(
            name or f"{m.name}+{a.name}", f"{m.version} + {a.version}", f"{m.name} motion animated by {a.name}: {m.description}; {a.description}",
            f"{m.paper}; {a.paper}", f"motion: {m.licence}; appearance: {a.licence}", capabilities=("music2video",),
            weights={**m.weights, **a.weights}, config={"motion": {"name": m.name, "version": m.version, "config": m.config},
                                                        "appearance": a.config})

    def generate_video(self, job: VideoJob, progress: Progress | None = None) -> np.ndarray:
        from macedance.appearance.conditions import keypoints_to_wan20, letterbox, motion_conditions

        if job.music is None:
            raise MaceDanceError(f"clip {job.clip_id}: no music for {self.meta.name}")
        motion = self.motion.generate(job.music, job.frames / job.fps, job.seed, job.genre, job.clip_id)
        size = self.appearance.size
        ref_kp = None
        if job.reference_keypoints is not None:  # the dataset's keypoints of the reference frame, moved into the output frame
            _, s, (ox, oy) = letterbox(job.reference, size)
            ref_kp = keypoints_to_wan20(job.reference_keypoints[None], job.skeleton)[0]
            ref_kp[:, 0], ref_kp[:, 1] = s * ref_kp[:, 0] + ox, s * ref_kp[:, 1] + oy
        face_size = int(self.appearance.pipe.transformer.config.motion_encoder_size)
        cond = motion_conditions(motion, job.reference, size, fps=job.fps, face_size=face_size, ref_keypoints=ref_kp,
                                 source=f"clip {job.clip_id}'s reference frame")
        # the motion resampled to the task's rate can end a frame short of the clip: its last pose is held
        pad = max(0, job.frames - len(cond.pose))
        pose, face = (cond.pose + cond.pose[-1:] * pad)[: job.frames], (cond.face + cond.face[-1:] * pad)[: job.frames]
        return self.appearance.animate(cond.reference, pose, face, clip_seed(job.seed, job.clip_id), progress)


@dataclass
class VideoFolderMethod:
    """Videos generated elsewhere: ``<clip id>.<ext>`` in ``outputs`` for every clip (either task kind). ``used``
    collects the files the benchmark took; :meth:`extra` lists the others."""

    outputs: Path
    name: str = "folder"
    used: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        from macedance.io.video import VIDEO_SUFFIXES

        if not self.outputs.is_dir():
            raise InputNotFoundError(f"{self.outputs}: `outputs` folder not found")
        self.files = {p.name: p for p in sorted(self.outputs.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()}
        # the version names the folder's content, so the benchmark's cache is not reused after the files change
        digest = hashlib.sha256()
        for name, p in self.files.items():
            digest.update(f"{name}:{sha256_file(p)}".encode())
        self.meta = MethodMeta(self.name, f"external {digest.hexdigest()[:12]}", f"videos read from {self.outputs}", "n/a", "n/a",
                               capabilities=("animation", "music2video"))

    def generate_video(self, job: VideoJob, progress: Progress | None = None) -> Path:
        found = [p for n, p in self.files.items() if Path(n).stem == job.clip_id]
        if len(found) > 1:
            raise MaceDanceError(f"{self.outputs}: several videos for clip {job.clip_id} ({', '.join(p.name for p in found)}); keep one")
        if not found:
            raise InputNotFoundError(f"{self.outputs / job.clip_id}: no video for clip {job.clip_id} (looked for {job.clip_id}.mp4 "
                                     "and the other video suffixes)")
        self.used.add(found[0].name)
        return found[0]

    def extra(self) -> list[str]:
        """Files of the folder no clip asked for (e.g. a wrong clip id, or clips of another split)."""
        return [n for n in self.files if n not in self.used]


def load_video_method(name: str, *, model: Path | None = None, adapter: Path | None = None, lora: Path | None = None,
                      lora_alpha: float = 0.5, cfg: Any = None, ckpt: Path | None = None, outputs: Path | None = None,
                      motion_outputs: Path | None = None, device: str = "cpu", offload: str = "none",
                      folder_name: str = "folder") -> VideoMethod:
    """``folder``, ``wan-animate``, ``appearance-expert`` or ``<motion method>+<appearance method>`` (the motion method
    loaded by :func:`macedance.methods.registry.load_method` with ``ckpt`` or, for a motion ``folder``, ``motion_outputs``)."""
    if name == "folder":
        if outputs is None:
            raise ValidationError("outputs", "a folder of generated videos for `method=folder`", "nothing")
        return VideoFolderMethod(outputs, folder_name)
    motion_name, _, appearance_name = VIDEO_ALIASES.get(name, name).rpartition("+")
    if appearance_name not in APPEARANCE:
        raise ValidationError("method", "folder, " + ", ".join(APPEARANCE) + " or <motion method>+<" + "|".join(APPEARANCE) + ">",
                              repr(name))
    if model is None:
        raise ValidationError("model", f"a local diffusers Wan-Animate folder for {name} (e.g. Wan2.2-Animate-14B-Diffusers)", "nothing")
    appearance = AppearanceMethod(appearance_name, model=model, adapter=adapter, lora=lora, lora_alpha=lora_alpha, cfg=cfg,  # type: ignore[arg-type]
                                  device=device, offload=offload)
    if not motion_name:
        return appearance
    from macedance.methods.registry import load_method

    return CascadeMethod(load_method(motion_name, ckpt=ckpt, outputs=motion_outputs, device=device), appearance,
                         name if name in VIDEO_ALIASES else None)
