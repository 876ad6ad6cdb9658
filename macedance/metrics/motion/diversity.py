"""Diversity (Div_k / Div_g, FACT's "Dist"): mean Euclidean distance over all unordered pairs."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist


def average_pairwise_distance(features: np.ndarray, accumulate: str = "float64") -> float:
    """Mean of ‖f_i − f_j‖ over all pairs i < j (memory O(n²) scalars, not O(n²·d)).

    Args:
        features: (n, d) feature rows, n ≥ 2.
        accumulate: ``"float64"`` (``scipy.spatial.distance.pdist``) or ``"sequential"`` — the
            reference loop: distances in the features' dtype, summed one by one in i<j order in that
            dtype (float32 for the legacy presets), then divided by n(n−1)/2.
    """
    f = np.asarray(features)
    n = f.shape[0]
    if accumulate == "sequential":
        dist = np.concatenate([np.sqrt(((f[i] - f[i + 1 :]) ** 2).sum(-1, dtype=f.dtype)) for i in range(n - 1)])
        total = np.cumsum(dist, dtype=f.dtype)[-1]
        return float(total / f.dtype.type((n * n - n) / 2))
    return float(pdist(f.astype(np.float64)).sum() / ((n * n - n) / 2))
