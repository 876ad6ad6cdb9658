"""Motion metrics (FID_k, FID_g, Div_k, Div_g, BAS, PFC, FSR) with reference-exact presets."""

from macedance.metrics.motion.beat_align import beat_align_score, motion_beats, motion_envelope
from macedance.metrics.motion.diversity import average_pairwise_distance
from macedance.metrics.motion.evaluate import evaluate_motion_dirs
from macedance.metrics.motion.features2d import geometric_features_2d, kinetic_features_2d
from macedance.metrics.motion.frechet import frechet_distance
from macedance.metrics.motion.fsr import foot_skating
from macedance.metrics.motion.geometric import geometric_features_3d
from macedance.metrics.motion.kinetic import kinetic_features_3d
from macedance.metrics.motion.motion_metrics import MotionMetrics, SequenceFeatures, extract_features
from macedance.metrics.motion.pfc import pfc_per_sequence
from macedance.metrics.motion.presets import PRESETS, MotionPreset, get_preset, register_preset

__all__ = [
    "PRESETS", "MotionMetrics", "MotionPreset", "SequenceFeatures", "average_pairwise_distance",
    "beat_align_score", "evaluate_motion_dirs", "extract_features", "foot_skating", "frechet_distance",
    "geometric_features_2d", "geometric_features_3d", "get_preset", "kinetic_features_2d", "kinetic_features_3d",
    "motion_beats", "motion_envelope", "pfc_per_sequence", "register_preset",
]
