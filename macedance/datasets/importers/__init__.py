"""Importers of public dance datasets (AIST++, FineDance) into macedance's motion format."""

from macedance.datasets.importers.aistpp import import_aistpp, read_aistpp_motion
from macedance.datasets.importers.base import ImportReport, read_clips
from macedance.datasets.importers.finedance import import_finedance, read_finedance_motion

__all__ = ["ImportReport", "import_aistpp", "import_finedance", "read_aistpp_motion", "read_clips",
           "read_finedance_motion"]
