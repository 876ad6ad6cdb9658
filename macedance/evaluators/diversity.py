"""Diversity (Div_k / Div_g, FACT's "Dist"): mean Euclidean distance over all unordered pairs."""

from __future__ import annotations

import numpy as np


def average_pairwise_distance(features: np.ndarray, accumulate: str = "float64") -> float:
    """Mean of ‖f_i − f_j‖ over all pairs i < j.

    Args:
        features: (n, d) feature rows, n ≥ 2.
        accumulate: ``"float64"`` (exact summation order does not matter) or ``"sequential"`` —
            the reference loop: distances in the features' dtype, summed one by one in i<j order in
            that dtype (float32 for the legacy presets), then divided by n(n−1)/2.
    """
    f = np.asarray(features)
    n = f.shape[0]
    iu, ju = np.triu_indices(n, k=1)
    diff = f[iu] - f[ju]  # (pairs, d), in i-major order like the reference's nested loop
    if accumulate == "sequential":
        dist = np.sqrt((diff * diff).sum(-1, dtype=f.dtype))
        total = np.cumsum(dist, dtype=f.dtype)[-1]
        return float(total / f.dtype.type((n * n - n) / 2))
    d64 = diff.astype(np.float64)
    return float(np.sqrt((d64 * d64).sum(-1)).sum() / ((n * n - n) / 2))
