"""Evaluators: motion metrics (FID_k, FID_g, Div_k, Div_g, BAS, PFC, FSR) with reference-exact presets."""

from macedance.evaluators.beat_align import beat_align_score, motion_beats, motion_envelope
from macedance.evaluators.diversity import average_pairwise_distance
from macedance.evaluators.evaluate import evaluate_motion_dirs
from macedance.evaluators.features2d import geometric_features_2d, kinetic_features_2d
from macedance.evaluators.frechet import frechet_distance
from macedance.evaluators.fsr import foot_skating
from macedance.evaluators.geometric import geometric_features_3d
from macedance.evaluators.kinetic import kinetic_features_3d
from macedance.evaluators.motion import MotionMetrics, Score, SequenceFeatures, extract_features
from macedance.evaluators.pfc import pfc_per_sequence
from macedance.evaluators.presets import PRESETS, MotionPreset, get_preset, register_preset

__all__ = [
    "PRESETS", "MotionMetrics", "MotionPreset", "Score", "SequenceFeatures", "average_pairwise_distance",
    "beat_align_score", "evaluate_motion_dirs", "extract_features", "foot_skating", "frechet_distance",
    "geometric_features_2d", "geometric_features_3d", "get_preset", "kinetic_features_2d", "kinetic_features_3d",
    "motion_beats", "motion_envelope", "pfc_per_sequence", "register_preset",
]
