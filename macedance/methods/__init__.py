"""Methods: everything that turns music into dance, in one place.

- :mod:`~macedance.methods.catalog` — the built-in methods (``METHODS``: the Motion Expert, its ablations, the
  EDGE-style baseline and the non-learned references) with their descriptions and network choices;
- :mod:`~macedance.methods.registry` — methods as the benchmark sees them (``MotionMethod``: metadata plus
  ``generate``), built-ins from a checkpoint, ``folder`` for outputs made elsewhere, plug-ins from the
  ``macedance.methods`` entry-point group;
- :mod:`~macedance.methods.reference` — the non-learned references (retrieval, random clip, mean pose);
- :mod:`~macedance.methods.generate` — sampling motion (and video) from a trained checkpoint.
"""

from macedance.methods.catalog import METHODS, MethodInfo, get_method
from macedance.methods.registry import ENTRY_POINT_GROUP, MethodMeta, MotionMethod, list_methods, load_method

__all__ = ["ENTRY_POINT_GROUP", "METHODS", "MethodInfo", "MethodMeta", "MotionMethod", "get_method", "list_methods",
           "load_method"]
