"""The MA-Data builder: raw dance videos → curated clips with 2D pose, SMPL motion, music, manifest,
splits and a dataset card (``macedance data build``; see docs/data-build.md)."""

from macedance.datasets.curation.runner import BuildReport
from macedance.datasets.from_video.build import build_dataset
from macedance.datasets.from_video.params import BUILD_VERSION, BuildParams

__all__ = ["BUILD_VERSION", "BuildParams", "BuildReport", "build_dataset"]
