"""Named, frozen, hashable records of every choice a motion metric makes.

Legacy presets reproduce a published reference implementation (parity-tested to 1e-6 relative on
fixed inputs); ``clean`` fixes the known bugs and is the default for new benchmarks. Every result
records the preset's name and hash. See docs/metrics/motion.md for the full table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

#: How the prediction and ground-truth files form the two sets (see :class:`MotionPreset`).
Pairing = Literal["none", "stem"]
Representation = Literal["joints3d", "keypoints2d"]
Normalize = Literal["gt", "per_set", "none"]
ZeroSpread = Literal["legacy", "unscaled"]
ImagPolicy = Literal["real", "raise"]
DiversityAccumulate = Literal["sequential", "float64", "float32-triu"]
BasDirection = Literal["music_to_motion", "motion_to_music"]
BasEnvelope = Literal["mean_next", "sum_prev"]
BasMusicLimit = Literal["envelope", "frames", "none"]
BeatRounding = Literal["round", "floor"]
FootSpeed = Literal["per_frame", "per_second"]
FsrSpeed = Literal["signed-mean", "norm"]
KeypointLayout = Literal["legacy", "coco25"]
KeypointChannels = Literal["yx", "xy"]
FeatureDtype = Literal["float32", "float64"]
UpAxis = Literal["y", "z"]
Role = Literal["pred", "gt"]
PAIRINGS: tuple[str, ...] = get_args(Pairing)

from macedance.errors import ValidationError
from macedance.metrics.spec import MotionMetricName
from macedance.presets import PresetRecord


@dataclass(frozen=True)
class MotionPreset(PresetRecord):
    """Every choice of the motion metrics. Times are in seconds unless a field says frames."""

    name: str
    description: str
    reference: str  # "owner/repo@commit file(s)", or "" for clean
    representation: Representation = "joints3d"
    metrics: tuple[MotionMetricName, ...] = ("fid_k", "fid_g", "div_k", "div_g", "bas")
    # --- input preparation -----------------------------------------------------------------------
    fps: float | None = None  # resample inputs to this rate (None: keep)
    crop_frames: int | None = None  # keep the first N frames (None: all)
    crop_sets: tuple[Role, ...] = ("pred", "gt")  # which sets the crop applies to
    reference_pool: str = "the --gt folder as given"  # the GT pool the published protocol used
    # "none": the two folders are independent distributions (every readable GT file is in the pool, every
    # prediction is scored); "stem": only the stems found among the predictions, the GT and (with --music) the
    # music are evaluated, and a pair is dropped whole when either file cannot be read (MACE-Dance's script).
    pairing: Pairing = field(default="none", metadata={"hash": "omit-default"})
    skip_prefixes: tuple[str, ...] = field(default=(), metadata={"hash": "omit-default"})  # file names left out of both sets
    min_frames: int = 3  # shorter sequences are skipped with a reason
    up_axis: UpAxis = "y"  # frame of the features
    joints: int = 24  # use joints[:N]
    zero_start: bool = False  # subtract the first-frame root position from all joints
    root_relative: bool = False  # make joints 1.. relative to the root in every frame
    # --- kinetic features --------------------------------------------------------------------------
    frame_time: float | None = 1.0 / 60  # None: 1 / fps of the (resampled) input
    kinetic_window: int = 2
    accel_bug: bool = True  # energy-expenditure operator-precedence bug
    feature_dtype: FeatureDtype = "float32"
    # --- geometric features -----------------------------------------------------------------------
    tau: float | None = 1.0 / 120  # None: 1 / fps
    keypoint_layout: KeypointLayout = "legacy"  # 2D only: "legacy" (official indexing) or "coco25"
    keypoint_channels: KeypointChannels = "yx"  # 2D only: channel order fed to the features ("yx" = official JSON)
    geometric_stubs: bool = True  # 2D only: keep the always-zero dimensions
    # --- FID / diversity -----------------------------------------------------------------------------
    normalize: Normalize = "gt"  # "gt" (GT pool stats), "per_set" (each set its own), "none"
    norm_eps: float = 1e-10
    norm_ddof: int = 0
    zero_spread: ZeroSpread = "legacy"  # "legacy" (divide by eps) or "unscaled" (leave those dims unscaled)
    fid_eps: float = 1e-5
    imag_policy: ImagPolicy = "real"
    diversity_accumulate: DiversityAccumulate = "sequential"
    # --- BAS ------------------------------------------------------------------------------------------
    bas_direction: BasDirection = "music_to_motion"
    bas_envelope: BasEnvelope = "mean_next"
    bas_smoothing_frames: float | None = 5.0  # Gaussian σ on the envelope, frames (None: none)
    bas_smoothing_seconds: float | None = None  # if set, overrides frames (× fps)
    bas_order: int = 1
    bas_sigma_frames: float = 3.0
    bas_sigma_seconds: float | None = None  # if set, overrides frames (× fps)
    seed_frames: int = 0  # predictions only: drop the first N (seed) frames (FACT: 120)
    diversity_sets: tuple[Role, ...] = ("pred", "gt")
    bas_uses_crop: bool = True  # False: BAS on the uncropped sequence (Bailando)
    bas_music_limit: BasMusicLimit = "envelope"  # keep music beats < len(envelope) ("envelope"), < T ("frames"), or all ("none")
    bas_joints: int = 24  # joints of the BAS envelope
    beat_fps: float | None = None  # frame rate for beat indices (None: the motion's; MACE: 16)
    bas_truncate_music: bool = True  # keep music beats < len(envelope)
    bas_empty: float | None = None  # value for a clip without beats (None: undefined)
    beat_rounding: BeatRounding = "round"  # seconds → frame index: "round" or "floor"
    beat_tracker: str | None = "clean"  # music preset that turns audio into beats (None: beat files only)
    # --- PFC / FSR --------------------------------------------------------------------------------------
    pfc_dt: float | None = 1.0 / 30  # None: 1 / fps
    pfc_foot_speed: FootSpeed = "per_frame"
    pfc_scale: float = 1e4
    pfc_clip_frames: int | None = None  # score PFC on windows of this length (EDGE: 5-s clips)
    pfc_clip_stride: int | None = None
    fsr_speed: FsrSpeed = "signed-mean"
    fsr_threshold: float = 0.01
    fsr_uses_crop: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beat_tracker is not None:
            from macedance.music.presets import MUSIC_PRESETS

            if self.beat_tracker not in MUSIC_PRESETS:
                raise ValidationError(f"motion preset {self.name!r} field 'beat_tracker'", "a music preset: " + ", ".join(MUSIC_PRESETS),
                                      repr(self.beat_tracker))

    def with_changes(self, **changes: Any) -> "MotionPreset":
        return replace(self, **changes)


BAILANDO = MotionPreset(
    name="bailando-aistpp",
    description="Bailando (CVPR'22) AIST++ protocol: 60 fps, first 1200 frames, zero start, y-up, "
    "kinetic frame_time 1/60 with the precedence bug, manual features τ 1/120, GT-pool normalisation "
    "(std ddof 0, +1e-10), FID ε 1e-5, pairwise diversity; BAS music→motion, envelope mean over joints, "
    "Gaussian σ 5 frames, local minima order 1, score σ 3 frames.",
    reference="lisiyao21/Bailando@cc90b98 utils/metrics_new.py, utils/beat_align_score.py, utils/features/",
    fps=60.0, crop_frames=1200, crop_sets=("pred",), zero_start=True, bas_uses_crop=False, beat_tracker="bailando",
    reference_pool="every AIST++ sequence (train+val+test) minus the 45-entry ignore_list, full length (GT is not "
    "cropped), joints by smplx SMPL male, betas 0; predictions: 40 test+val dances, first 1200 frames",
)

EDGE = MotionPreset(
    name="edge-aistpp",
    description="EDGE (CVPR'23) PFC at 30 fps, z-up, dt 1/30, foot speed in m/frame, ×10⁴, on 5-s clips "
    "(longer sequences are cut into 150-frame windows at a 75-frame stride, as EDGE's test slicing; the score is "
    "the mean over all clips).",
    reference="Stanford-TML/EDGE@17c3428 eval/eval_pfc.py",
    metrics=("pfc",), fps=30.0, up_axis="z", feature_dtype="float64", pfc_clip_frames=150, pfc_clip_stride=75,
    beat_tracker=None,
    reference_pool="no GT pool for PFC; EDGE scores 5-s clips of the AIST++ test split",
)

MACE_VIDEO2D = MotionPreset(
    name="mace-video2d",
    description="Official MACE-Dance Evaluation-Motion (2D ViTPose coco_25 keypoints): first 64 frames, "
    "kinetic frame_time 1/30, official joint indexing and (y, x) channels, each set normalised by its own "
    "mean/std (unbiased, +1e-4), FID ε 1e-5 (real part), BAS music→motion with librosa beats at 8320 Hz "
    "and 16 fps (truncated indices), envelope σ 3.5 frames, σ 3 frames, 0 for empty beats.",
    reference="AMAP-ML/MACE-Dance@8f92d12 Evaluation-Motion/calculate_metric.py, features/*_2d.py",
    representation="keypoints2d", crop_frames=64, min_frames=64, frame_time=1.0 / 30, normalize="per_set",
    norm_eps=1e-4, norm_ddof=1, diversity_accumulate="float32-triu", bas_smoothing_frames=3.5,
    bas_empty=0.0, beat_rounding="floor", beat_tracker="mace-video2d", beat_fps=16.0, pairing="stem",
    reference_pool="the ground-truth videos of the same test clips: sorted(stems of GT ∩ predictions ∩ audio), a pair "
    "dropped whole when one of its files cannot be read; first 64 frames at 16 fps",
)

CLEAN = MotionPreset(
    name="clean",
    description="macedance defaults for new benchmarks: native fps (no resampling), all frames, zero start, "
    "y-up; kinetic features with the precedence bug fixed and frame_time = 1/fps; geometric τ = 1/fps; "
    "float64; GT-pool normalisation with zero-spread dimensions left unscaled (and reported); FID ε 1e-6; "
    "BAS music→motion with smoothing σ 5/60 s and score σ 0.05 s (fps-independent); PFC with dt = 1/fps "
    "and foot speed in m/s; FSR with LODGE's grounding and contact heights but the horizontal speed norm "
    "against 0.3 m/s (LODGE: signed mean of components against 1 cm/frame); undefined scores reported as such.",
    reference="",
    metrics=("fid_k", "fid_g", "div_k", "div_g", "bas", "pfc", "fsr"), zero_start=True, frame_time=None,
    accel_bug=False, feature_dtype="float64", tau=None, zero_spread="unscaled", norm_eps=0.0, fid_eps=1e-6,
    diversity_accumulate="float64", bas_smoothing_frames=None, bas_smoothing_seconds=5.0 / 60,
    bas_sigma_seconds=0.05, pfc_dt=None, pfc_foot_speed="per_second", pfc_scale=1.0,
    fsr_speed="norm", fsr_threshold=0.3, fsr_uses_crop=True,
)

FACT = MotionPreset(
    name="fact-aistpp",
    description="FACT (ICCV'21) / mint scripts: 60 fps, absolute joint positions (no zero start), y-up, kinetic "
    "frame_time 1/60 with the precedence bug, manual τ 1/120, predictions without their first 120 seed frames, "
    "GT-pool normalisation (float32, +1e-10), FID ε 1e-6 and an error on a large imaginary part, Dist on the "
    "generated set; BAS motion→music: envelope = float32 sum of joint speeds, local minima order 10, σ 3 frames, "
    "0 for a clip without motion beats, music beats cut to the motion length, seed frames skipped for predictions.",
    reference="liruilong940607/mint@d40065a tools/calculate_fid_scores.py, tools/calculate_beat_scores.py; "
    "google/aistplusplus_api@2dd7b3e aist_plusplus/features/",
    fps=60.0, seed_frames=120, fid_eps=1e-6, imag_policy="raise", diversity_sets=("pred",), beat_tracker="fact",
    bas_direction="motion_to_music", bas_envelope="sum_prev", bas_smoothing_frames=None, bas_order=10,
    bas_empty=0.0, bas_uses_crop=False, bas_music_limit="frames",
    reference_pool="every AIST++ sequence minus the ignore_list, full length, absolute positions; predictions: "
    "120 seed frames + 1200 generated frames per test+val sequence",
)

LODGE = MotionPreset(
    name="lodge-finedance",
    description="LODGE (CVPR'24) FineDance protocol: 30 fps data, first 1024 frames, joints[:22], zero start and "
    "non-root joints root-relative, kinetic frame_time 1/60 (kept although data is 30 fps) with the precedence "
    "bug, manual features τ 1/120, GT-pool normalisation (+1e-10), FID ε 1e-5; BAS as Bailando on all 24 joints "
    "of the uncropped sequence, music beats not truncated; FSR (foot_skating.py): ground from frame-0 toes, "
    "contact ankle ≤ 8 cm and toe ≤ 5 cm, slide when |mean(dx, dz)| > 1 cm/frame.",
    reference="li-ronghui/LODGE@a898e59 metric/metrics_finedance.py, beat_align_score.py, foot_skating.py",
    metrics=("fid_k", "fid_g", "div_k", "div_g", "bas", "fsr"), fps=30.0, crop_frames=1024, joints=22,
    zero_start=True, root_relative=True, bas_uses_crop=False, bas_music_limit="none", beat_tracker="lodge",
    skip_prefixes=("M",),
    reference_pool="every FineDance sequence (motion_fea319, train included; calc_and_save_feats skips files starting "
    "with 'M' in both folders), first 1024 frames",
)

PRESETS: dict[str, MotionPreset] = {p.name: p for p in (BAILANDO, FACT, EDGE, LODGE, MACE_VIDEO2D, CLEAN)}


def register_preset(preset: MotionPreset) -> None:
    """Add a preset (an error if the name is taken)."""
    if preset.name in PRESETS:
        raise ValidationError("preset name", "a new name", f"{preset.name!r} (already registered)")
    PRESETS[preset.name] = preset


def get_preset(name: str) -> MotionPreset:
    """The preset called ``name``; a clear error listing the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValidationError("preset", "one of " + ", ".join(sorted(PRESETS)), repr(name)) from None
