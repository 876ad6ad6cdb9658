"""One registry of every score macedance reports: name, label, which direction is better, valid range,
unit and a one-line definition. The CLI tables, record validation and the leaderboard all read it
(torchmetrics keeps this on each metric class; lm-evaluation-harness registers it with the metric).

Diversity (Div_k, Div_g) is "higher is better", as in the MACE-Dance, Bailando and LODGE tables; a
ground-truth value printed beside it shows what real dance reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from macedance.errors import ValidationError

Better = Literal["higher", "lower"]
#: The motion metrics, in the order of the ``eval motion`` table (a preset chooses among them).
MotionMetricName = Literal["fid_k", "fid_g", "div_k", "div_g", "bas", "pfc", "fsr"]
_ARROWS = {"higher": "↑", "lower": "↓"}
_FRECHET = (-1e-3, math.inf)  # Fréchet distances of identical sets can be −1e-5 (sqrtm round-off)


@dataclass(frozen=True)
class MetricSpec:
    """What one score is.

    Attributes:
        name: the key in results and records (``fid_k``, ``fvd``, ``bas-2d`` …).
        label: short display name.
        better: ``higher`` or ``lower``.
        bounds: (low, high) a valid value lies in (record validation).
        unit: unit of the value ("" for none).
        definition: one line.
    """

    name: str
    label: str
    better: Better
    bounds: tuple[float, float]
    unit: str
    definition: str

    @property
    def arrow(self) -> str:
        return _ARROWS[self.better]

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"

    def heading(self, *, unit: bool = False) -> str:
        """``label ↑`` (with the unit when asked and there is one)."""
        return f"{self.label}{' ' + self.unit if unit and self.unit else ''} {self.arrow}"


def _motion(prefix: str, suffix: str, label_suffix: str, where: str) -> list[MetricSpec]:
    return [
        MetricSpec(f"{prefix}fid_k{suffix}", f"FID_k{label_suffix}", "lower", _FRECHET, "",
                   f"Fréchet distance between generated and ground-truth kinetic features{where}"),
        MetricSpec(f"{prefix}fid_g{suffix}", f"FID_g{label_suffix}", "lower", _FRECHET, "",
                   f"Fréchet distance between generated and ground-truth geometric features{where}"),
        MetricSpec(f"{prefix}div_k{suffix}", f"Div_k{label_suffix}", "higher", (0.0, math.inf), "",
                   f"mean pairwise distance of the normalised kinetic features of one set{where}"),
        MetricSpec(f"{prefix}div_g{suffix}", f"Div_g{label_suffix}", "higher", (0.0, math.inf), "",
                   f"mean pairwise distance of the normalised geometric features of one set{where}"),
        MetricSpec(f"{prefix}bas{suffix}", f"BAS{label_suffix}", "higher", (0.0, 1.0), "",
                   f"beat alignment score between music beats and motion beats (kinetic minima){where}"),
    ]


_SPECS = [
    *_motion("", "", "", ""),
    MetricSpec("pfc", "PFC", "lower", (0.0, math.inf), "", "physical foot contact score (EDGE): foot speed while the root accelerates"),
    MetricSpec("fsr", "FSR", "lower", (0.0, 1.0), "", "foot skating ratio (LODGE): share of contact frames whose foot slides"),
    *_motion("", "-2d", " (2D)", ", on 2D keypoints estimated from the videos"),
    MetricSpec("fvd", "FVD", "lower", _FRECHET, "", "Fréchet distance of I3D (Kinetics-400) logits of 16-frame clips"),
    MetricSpec("cd-fvd", "cd-FVD", "lower", _FRECHET, "", "content-debiased FVD: Fréchet distance of VideoMAE-v2 features"),
    MetricSpec("fid", "FID (frames)", "lower", _FRECHET, "", "Fréchet distance of Inception-v3 pool features of the frames"),
    MetricSpec("fid-vid", "FID-VID", "lower", _FRECHET, "", "Fréchet distance of 3D-ResNet-50 video features (DisCo)"),
    MetricSpec("ssim", "SSIM", "higher", (-1.0, 1.0), "", "structural similarity to the ground-truth frames"),
    MetricSpec("psnr", "PSNR", "higher", (0.0, math.inf), "dB", "peak signal-to-noise ratio against the ground-truth frames"),
    MetricSpec("l1", "L1", "lower", (0.0, 1.0), "", "mean absolute difference to the ground-truth frames, in [0, 1] intensities"),
    MetricSpec("lpips", "LPIPS", "lower", (0.0, math.inf), "", "learned perceptual distance to the ground-truth frames (AlexNet)"),
    MetricSpec("lpips-alex", "LPIPS-Alex", "lower", (0.0, math.inf), "", "LPIPS with the AlexNet backbone"),
    MetricSpec("lpips-vgg", "LPIPS-VGG", "lower", (0.0, math.inf), "", "LPIPS with the VGG16 backbone"),
    MetricSpec("identity", "face identity", "higher", (-1.0, 1.0), "", "cosine similarity of the dlib face embeddings to the reference face"),
    MetricSpec("identity-arcface", "face identity (ArcFace)", "higher", (-1.0, 1.0), "",
               "cosine similarity of ArcFace embeddings to the reference face"),
    MetricSpec("subject-consistency", "subject consistency", "higher", (-1.0, 1.0), "",
               "VBench: DINO feature similarity of each frame to the first and the previous frame"),
    MetricSpec("background-consistency", "background consistency", "higher", (-1.0, 1.0), "",
               "VBench: CLIP feature similarity of each frame to the first and the previous frame"),
    MetricSpec("motion-smoothness", "motion smoothness", "higher", (0.0, 1.0), "",
               "VBench: 1 − mean |frame interpolated by AMT-S − real frame| / 255"),
    MetricSpec("aesthetic-quality", "aesthetic quality", "higher", (-math.inf, math.inf), "",
               "VBench: LAION aesthetic score of each frame's CLIP ViT-L/14 embedding / 10, averaged (typically 0.3–0.7)"),
    MetricSpec("imaging-quality", "imaging quality", "higher", (-math.inf, math.inf), "",
               "VBench: MUSIQ (SPAQ) score of each frame, averaged, / 100 (typically 0.4–0.7)"),
    MetricSpec("temporal-flickering", "temporal flickering", "higher", (0.0, 1.0), "",
               "VBench: 1 − mean absolute difference of consecutive frames / 255"),
]

#: Every metric by name (ground-truth variants such as ``div_k_gt`` are looked up by their base name).
METRICS: dict[str, MetricSpec] = {s.name: s for s in _SPECS}


def metric_spec(name: str) -> MetricSpec:
    """The spec of ``name`` (a ``_gt`` suffix — the ground truth's value of the same metric — is allowed)."""
    spec = METRICS.get(name) or METRICS.get(name.removesuffix("_gt"))
    if spec is None:
        raise ValidationError("metric", "one of " + ", ".join(METRICS), repr(name))
    return spec


def known_metric(name: str) -> bool:
    return name in METRICS or name.removesuffix("_gt") in METRICS
