"""The MA-Data builder: raw dance videos → curated clips with 2D pose, SMPL motion, music, manifest,
splits and a dataset card (``macedance data build``; see docs/data-build.md)."""

from macedance.datasets.from_video.params import BUILD_VERSION, BuildParams
from macedance.datasets.from_video.runner import BuildReport, build_dataset

__all__ = ["BUILD_VERSION", "BuildParams", "BuildReport", "build_dataset"]
