"""Published methods run from their released checkpoints: metadata (paper, code and weight licences, where the
weights are, features, sampling settings) and the adapter that makes each one a benchmark
:class:`~macedance.methods.registry.MotionMethod`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from macedance.errors import MaceDanceError, ValidationError
from macedance.methods.official.checkpoint import WEIGHTS_CHOICES, ReleasedCheckpoint, WeightsChoice
from macedance.models.official.ddim import RNG_MODES
from macedance.schema import Joints3D, Motion

FPS = 30.0


class Released(Protocol):
    """What a released-method runner provides (``ReleasedMace``, ``ReleasedEdge``)."""

    name: str
    checkpoint: ReleasedCheckpoint

    def generate(self, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                 progress: Callable[[int, int], None] | None = None) -> Motion:
        """One 30-fps z-up motion for ``music`` (the music's length unless ``seconds``)."""
        ...


@dataclass(frozen=True)
class ReleasedSpec:
    name: str
    description: str
    paper: str
    code: str  # repository @ commit the port follows
    code_licence: str
    weights_licence: str
    weights_origin: str  # where the released file is published
    weights_file: str  # its name there
    default_weights: WeightsChoice  # what the official test script loads
    features: str  # music features the checkpoint was trained on
    sampling: dict[str, Any] = field(default_factory=dict)


def _specs() -> dict[str, ReleasedSpec]:
    return {s.name: s for s in (
        ReleasedSpec(
            "mace-dance-official", "MACE-Dance Motion Expert from its released checkpoint (official BiMamba-Transformer, GFT)",
            "MACE-Dance, arXiv 2512.18181", "AMAP-ML/MACE-Dance@8f92d12 Expert-Motion", "none stated (no LICENSE file)",
            "cc-by-4.0 (Hugging Face card)", "Hugging Face GD-ML/MACE-Dance: weight/Expert-Motion/Expert-Motion.7z",
            "Expert-Motion.7z (train-3750.pt inside)", "model",
            "35-d EDGE baseline librosa features at 30 fps over the whole file (music preset lodge: the same computation) or a (T, 35) .npy",
            {"sampler": "DDIM, 50 steps t=999…19 (x0 at t=19)", "eta": 1.0, "gft_beta": 0.75, "x0_clip": [-1, 1],
             "windowing": "none (the whole sequence in one pass)", "genres": "16 FineDance style2 labels"}),
        ReleasedSpec(
            "edge-official", "EDGE from its released checkpoint (official Transformer decoder, classifier-free guidance, long-form stitching)",
            "EDGE, Tseng et al., CVPR 2023", "Stanford-TML/EDGE@17c3428", "MIT", "not stated separately (repository: MIT)",
            "Google Drive id 1BAR712cVEqB8GR37fcEihRV_xOC-fZrZ (the repository's download_model.sh)", "checkpoint.pt", "ema",
            "Jukebox layer 66 (4800-d) per 5-s window: from audio with the imported Jukebox weights (jukemirlib's extraction), or "
            "precomputed (.npy); 35-d baseline checkpoints take audio with the music preset edge",
            {"sampler": "long_ddim_sample, 50 steps t=999…19", "eta": 1.0, "guidance": "clip(linspace(0, 4, 50), max=2)",
             "x0_clip": [-1, 1], "windowing": "5-s windows every 2.5 s from the start, overlap copied every step",
             "stitching": "linear fades (root), slerp (rotations)"}),
        ReleasedSpec(
            "finenet-official", "FineDance's FineNet from its released checkpoint (body and hand EDGE decoders, long-form stitching, SMPL-H)",
            "FineDance, Li et al., ICCV 2023", "li-ronghui/FineDance@bb13fe8", "FineDance licence: non-commercial research only (LICENSE)",
            "FineDance licence: non-commercial research only, no redistribution",
            "Google Drive id 1ENoeUn-X-3Vw2Gon-voVLlndy3hZXdWD (FineDance README's assets)", "assets/checkpoints/train-2000.pt", "ema",
            "35-d EDGE baseline librosa features per 4-s slice, start tempo always estimated (edge preset, 120 rows), or a (T, 35) .npy",
            {"sampler": "long_ddim_sample, 50 steps t=999…19", "eta": 1.0, "guidance": "clip(linspace(0, 4, 50), max=2)",
             "x0_clip": [-1, 1], "windowing": "4-s windows every 2 s from the start, overlap copied every step",
             "stitching": "linear fades (root), slerp (rotations), 52 SMPL-H joints", "normalizer": "none (--do_normalize off)"}),
        ReleasedSpec(
            "bailando-official", "Bailando from its released checkpoints (SepVQVAER + actor-critic GPT, greedy; 60-fps joint positions)",
            "Bailando, Li et al., CVPR 2022", "lisiyao21/Bailando@cc90b98", "NTU S-Lab License 1.0: non-commercial use only (LICENSE)",
            "NTU S-Lab License 1.0: non-commercial use only", "Google Drive id 1Fi0TIiBV6EQAQrBU0IOnlke2Nu4IcutC (Bailando README: experiments.zip)",
            "experiments/sep_vqvae_root/ckpt/epoch_500.pt + experiments/actor_critic/ckpt/epoch_10.pt", "model",
            "438-d Bailando features at 7.5 fps (3840 Hz) of the whole file, as under librosa 0.8.1 (music preset "
            "bailando-gpt-0.8.1), or a (T, 438) .npy; needs audio, not a 30-fps music .npz",
            {"decoding": "greedy (top-1), deterministic", "first_tokens": "ground-truth (the official eval: first codes of the GT dance) "
             "or demo (423/12)", "context": "block_size 29 (28 past tokens)", "root": "integrated from the decoded velocity (global_vel)",
             "output": "24 SMPL joint positions, 60 fps, y-up"}),
        ReleasedSpec(
            "bailandopp-official", "Bailando++ from its released checkpoints (rotation-decoder VQ-VAE + music-Transformer actor-critic GPT, "
            "greedy; 60-fps SMPL rotations)", "Bailando++, Li et al., TPAMI 2023", "lisiyao21/Bailando@cc90b98 tpami_bailandopp",
            "NTU S-Lab License 1.0: non-commercial use only (repository LICENSE; the Bailando++ README says MIT)",
            "NTU S-Lab License 1.0: non-commercial use only", "Google Drive id 1jepf20XuplVSGEfwaPaqwniyl4styvqa (tpami_bailandopp/README.md)",
            "experiments/sep_vqvae_root_mix_w_vel_acc/ckpt/epoch_500.pt + experiments/actor_critic/ckpt/epoch_10.pt", "model",
            "Bailando's features at 60 fps (30720 Hz), columns 0–54, as under librosa 0.8.1 (music preset bailando-0.8.1), or a "
            "(T, 438) .npy; needs audio, not a 30-fps music .npz",
            {"decoding": "greedy (top-1), deterministic", "first_tokens": "ground-truth (the official eval) or demo (423/12)",
             "music": "padded with 40 zero rows each side, music Transformer window ±40 frames", "root": "integrated from the decoded velocity",
             "output": "24 SMPL rotations (nearest rotation of each decoded matrix) + root, 60 fps, y-up"}),
        ReleasedSpec(
            "fact-official", "FACT from its released TensorFlow checkpoint (cross-modal Transformer, autoregressive from a 120-frame "
            "ground-truth seed; 60-fps SMPL rotations)", "FACT (AI Choreographer), Li et al., ICCV 2021", "google-research/mint@b8f8bdf",
            "Apache-2.0", "not stated separately (repository: Apache-2.0)",
            "Google Drive folder 17GHwKRZbQfyC9-7oEpzCG8pp_rAI0cOm (mint README: checkpoints)", "ckpt-N.index + ckpt-N.data-00000-of-00001",
            "model", "35-d librosa features at 60 fps (music preset fact) of the whole file, or a (T, 35) .npy; needs audio",
            {"decoding": "deterministic, one frame per step (output token 0)", "seed": "the ground truth's first 120 frames, kept in the output",
             "windows": "120 motion frames, audio frames [i, i + 240) at step i", "steps": "1200 in the official evaluation",
             "output": "24 SMPL rotations (nearest rotation of each matrix) + transl, 60 fps, y-up"}),
        ReleasedSpec(
            "lodge-official", "LODGE from its released checkpoints (global dance primitives, local soft-inpainting diffusion; 30-fps SMPL-X body)",
            "LODGE, Li et al., CVPR 2024", "li-ronghui/LODGE@a898e59", "none stated (no LICENSE file)", "none stated",
            "Google Drive id 13Yp__EPAw0EjrSS898X5FtSQGmveBykA (LODGE README; Baidu mirror)",
            "exp/Global_Module/FineDance_Global/checkpoints/epoch=2999.ckpt + exp/Local_Module/FineDance_FineTuneV2_Local/checkpoints/"
            "epoch=299.ckpt + data/Normalizer.pth", "model",
            "35-d EDGE baseline features at 30 fps (music preset lodge) or a (T, 35) .npy; at least 1,024 frames",
            {"sampler": "DDIM, 50 steps t=999…19 (both stages)", "eta": 1.0, "guidance": "2 (global); clip(linspace(0, 4, 50), max=2) (local)",
             "windows": "1,024-frame global windows → 104 primitive frames; 256-frame local windows inpainted at key frames",
             "soft": 1.0, "genres": "16 FineDance genres (MappingNet)", "output": "22 SMPL-X body joints 6D + root, y-up, floor 0"}),
    )}


#: released methods that take the clip's ground-truth motion (``seed_motion``) and raw audio rather than a music .npz
MOTION_SEEDED = ("bailando-official", "bailandopp-official", "fact-official")


def released_specs() -> dict[str, ReleasedSpec]:
    return _specs()


def resolve_checkpoint(name: str, ckpt: str | Path | None) -> Path:
    """``ckpt``, or the weights installed by ``macedance weights import`` (a one-line error naming that command)."""
    if ckpt is not None:
        return Path(ckpt)
    from macedance.methods.official.weights import METHOD_WEIGHTS
    from macedance.weights import weights_file

    return weights_file(METHOD_WEIGHTS[name][0])


def build_released(name: str, ckpt: str | Path | None, *, device: str = "cpu", weights: WeightsChoice | None = None, **options: Any) -> Released:
    """The runner of released method ``name`` for checkpoint ``ckpt`` (``weights``: default what its test script loads)."""
    specs = _specs()
    if name not in specs:
        raise ValidationError("method", "a released method: " + ", ".join(specs), repr(name))
    if weights is not None and weights not in WEIGHTS_CHOICES:
        raise ValidationError("weights", "one of " + ", ".join(WEIGHTS_CHOICES), repr(weights))
    if options.get("rng", "macedance") not in RNG_MODES:
        raise ValidationError("rng", "one of " + ", ".join(RNG_MODES), repr(options["rng"]))
    from macedance.models.official.mace_sampling import COMPILE_MODES

    if options.get("compile_mode") is not None and options["compile_mode"] not in COMPILE_MODES:
        raise ValidationError("compile_mode", "one of " + ", ".join(COMPILE_MODES), repr(options["compile_mode"]))
    if options.get("cuda_graph") and not device.startswith("cuda"):
        raise ValidationError("cuda_graph", "a CUDA device (device cuda)", repr(device))
    choice = weights or specs[name].default_weights
    if name == "bailando-official":
        from macedance.methods.official.bailando import ReleasedBailando

        return ReleasedBailando(ckpt, device=device, weights=weights, **options)  # type: ignore[return-value]
    if name == "bailandopp-official":
        from macedance.methods.official.bailandopp import ReleasedBailandoPP

        return ReleasedBailandoPP(ckpt, device=device, weights=weights, **options)  # type: ignore[return-value]
    if name == "lodge-official":
        from macedance.methods.official.lodge import ReleasedLodge

        return ReleasedLodge(ckpt, device=device, weights=weights, **options)  # type: ignore[return-value]
    if name == "fact-official":
        from macedance.methods.official.fact import ReleasedFACT

        return ReleasedFACT(ckpt, device=device, weights=weights, **options)  # type: ignore[return-value]
    path = resolve_checkpoint(name, ckpt)
    if name == "mace-dance-official":
        from macedance.methods.official.mace import ReleasedMace

        return ReleasedMace(path, weights=choice, device=device, **options)
    if name == "edge-official":
        from macedance.methods.official.edge import ReleasedEdge

        return ReleasedEdge(path, weights=choice, device=device, **options)
    if name == "finenet-official":
        from macedance.methods.official.finenet import ReleasedFineNet
        return ReleasedFineNet(path, weights=choice, device=device, **options)
    raise ValidationError("method", "a released method with a runner", repr(name))


class ReleasedMethod:
    """A released method as the benchmark sees it (``generate(music, seconds, seed, genre, clip_id)``)."""

    def __init__(self, name: str, ckpt: Path | None, *, device: str = "cpu", weights: WeightsChoice | None = None, note: str = "",
                 **options: Any):
        """``note``: shown beside the method's row on leaderboards (e.g. that the weights are not the published ones)."""
        from macedance.methods.registry import MethodMeta

        spec = _specs()[name]
        self.runner = build_released(name, ckpt, device=device, weights=weights, **options)
        if hasattr(self.runner, "strict_genre"):
            self.runner.strict_genre = False  # a clip genre the model does not know: its default genre, logged
        cp = self.runner.checkpoint
        files = getattr(self.runner, "files", None) or {Path(cp.source).name: cp.sha256}
        self.seeded = name in MOTION_SEEDED
        self.meta = MethodMeta(
            name, f"released weights sha256 {cp.sha256[:12]}", spec.description, spec.paper,
            f"code: {spec.code_licence} ({spec.code}); weights: {spec.weights_licence}", weights=files,
            capabilities=("music2motion", "motion-seed", "audio") if self.seeded else ("music2motion",),
            config={"weights": getattr(self.runner, "checkpoint_weights", getattr(cp, "weights", "model")), "parameters": sum(p.numel() for p in self.runner.model.parameters()),
                    "features": spec.features, "sampling": spec.sampling, "weights_origin": spec.weights_origin,
                    "options": {k: v for k, v in options.items() if isinstance(v, (str, int, float, bool))}, **({"note": note} if note else {})})

    def generate(self, music: Path, seconds: float | None, seed: int, genre: str | None, clip_id: str, *,
                 seed_motion: Motion | Joints3D | None = None) -> Motion | Joints3D:
        """``seed_motion``: the clip's ground truth, for methods with the ``motion-seed`` capability (Bailando, Bailando++,
        FACT)."""
        from macedance.methods.registry import clip_seed

        return generate_released(self.runner, Path(music), seconds=seconds, seed=clip_seed(seed, clip_id), genre=genre,
                                 seed_motion=seed_motion)


def generate_released(runner: Released, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                      progress: Callable[[int, int], None] | None = None, seed_motion: Motion | Joints3D | None = None) -> Motion | Joints3D:
    """One motion for ``music`` (audio/video, our music .npz or a feature .npy), the music's length unless ``seconds``."""
    return generate_released_file(runner, music, seconds=seconds, seed=seed, genre=genre, progress=progress, seed_motion=seed_motion)[0]


def generate_released_file(runner: Released, music: Path, *, seconds: float | None, seed: int, genre: str | None,
                           progress: Callable[[int, int], None] | None = None, seed_motion: Motion | Joints3D | None = None,
                           ) -> tuple[Motion | Joints3D, dict[str, np.ndarray] | None]:
    """:func:`generate_released` and the arrays of the method's own output file when they hold more than the motion
    (FineNet's SMPL-H hands, Bailando's ``pred_position``: ``--out x.pkl`` writes them); ``None``: the EDGE layout of
    the motion is the file. ``seed_motion`` goes to the methods that take one (Bailando's first tokens, FACT's seed)."""
    if seconds is not None and int(round(seconds * FPS)) < 2:
        raise ValidationError("seconds", "at least two frames", repr(seconds))
    extra: dict[str, Any] = {}
    if seed_motion is not None:
        if runner.name not in MOTION_SEEDED:
            raise ValidationError("seed motion", "only for methods seeded by a ground-truth motion (" + ", ".join(MOTION_SEEDED) + ")",
                                  f"given to {runner.name}")
        extra["seed_motion"] = seed_motion
    if hasattr(runner, "generate_file"):
        return runner.generate_file(Path(music), seconds=seconds, seed=seed, genre=genre, progress=progress, **extra)
    return runner.generate(Path(music), seconds=seconds, seed=seed, genre=genre, progress=progress, **extra), None


def frames_for(music: Path, available: int, seconds: float | None) -> int:
    """Frames to generate: the music's (``available``) unless ``seconds``; an error when the music is shorter."""
    T = available if seconds is None else int(round(seconds * FPS))
    if available < T:
        raise MaceDanceError(f"{music}: music has {available / FPS:.2f} s, asked for {T / FPS:.2f} s")
    return T
