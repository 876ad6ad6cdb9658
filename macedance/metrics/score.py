"""One score type for every metric value macedance reports: motion and video evaluations and benchmark records.

Each file kind has written its score objects with its own key order since its first version, and files are
compared byte for byte (``tests/historic_results``), so :meth:`Score.to_dict` takes the keys to write, in order:
:data:`SCORE_KEYS` (``eval motion``; the default), ``VIDEO_KEYS`` of :mod:`macedance.metrics.video.metric`
(``eval video``) and ``RECORD_KEYS`` of :mod:`macedance.benchmark.records` (result records, with ``ci95``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Keys of a score in ``eval motion`` results (and the default of :meth:`Score.to_dict`).
SCORE_KEYS = ("value", "undefined_reason", "n", "details")


@dataclass
class Score:
    """A metric value, or ``None`` with the reason it is undefined.

    Attributes:
        value: the value (``None``: undefined).
        reason: why the value is undefined (written as ``undefined_reason``).
        n: number of samples (sequences, videos, pairs) the value is computed from.
        details: how it was computed (per-video values, retries, weights); ``None``: the score has none and
            ``details`` is not written.
        ci95: bootstrap 95 % confidence interval (low, high) of benchmark records.
    """

    value: float | None
    reason: str | None = None
    n: int = 0
    details: dict[str, Any] | None = field(default_factory=dict)
    ci95: tuple[float, float] | None = None

    def to_dict(self, keys: tuple[str, ...] = SCORE_KEYS) -> dict[str, Any]:
        """The JSON object of the score with ``keys`` in this order (``details`` left out when ``None``). Never NaN or
        ±Infinity, which are not JSON: a non-finite value is written as undefined with the reason (a computation that
        gives one is a bug or a degenerate input the metric has no rule for), a non-finite number in ``details`` or
        ``ci95`` as null."""
        value, reason = self.value, self.reason
        if value is not None and not math.isfinite(value):
            value, reason = None, f"the computation gave {float(value)} (not a finite number)" + (f"; {reason}" if reason else "")
        ci = None if self.ci95 is None or not all(math.isfinite(c) for c in self.ci95) else [self.ci95[0], self.ci95[1]]
        fields = {"value": value, "undefined_reason": reason, "n": self.n, "details": finite_json(self.details), "ci95": ci}
        return {k: fields[k] for k in keys if not (k == "details" and self.details is None)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Score:
        """A score read from any of the JSON layouts (absent keys: ``None``, ``n`` 0, no details)."""
        ci = d.get("ci95")
        return cls(d.get("value"), d.get("undefined_reason"), d.get("n", 0), d.get("details"),
                   None if ci is None else (ci[0], ci[1]))


def finite_json(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, ±Infinity; Python or numpy) in its dicts, lists and tuples replaced
    by ``None``: what strict JSON can hold. Other values are returned as they are."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj
