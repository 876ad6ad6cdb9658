"""Datasets: importers of public datasets (:mod:`~macedance.datasets.importers`), the MA-Data builder from raw
videos (:mod:`~macedance.datasets.from_video`), datasets rendered from motion
(:mod:`~macedance.datasets.from_motion`), the self-check and synthetic test data."""

from macedance.datasets.importers import (
    ImportReport,
    import_aistpp,
    import_finedance,
    read_aistpp_motion,
    read_clips,
    read_finedance_motion,
)

__all__ = ["ImportReport", "import_aistpp", "import_finedance", "read_aistpp_motion", "read_clips",
           "read_finedance_motion"]
