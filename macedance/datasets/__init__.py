"""Dataset importers and builders (AIST++, FineDance)."""

from macedance.datasets.aistpp import import_aistpp, read_aistpp_motion
from macedance.datasets.finedance import import_finedance, read_finedance_motion
from macedance.datasets.importer import ImportReport, read_clips

__all__ = ["ImportReport", "import_aistpp", "import_finedance", "read_aistpp_motion", "read_clips",
           "read_finedance_motion"]
