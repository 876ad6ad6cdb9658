"""Metrics: the registry of what every score means (:mod:`~macedance.metrics.spec`), the one score type
(:mod:`~macedance.metrics.score`), motion metrics with reference-exact presets (:mod:`~macedance.metrics.motion`)
and video metrics (:mod:`~macedance.metrics.video`)."""

from macedance.metrics.score import Score
from macedance.metrics.spec import METRICS, MetricSpec, metric_spec

__all__ = ["METRICS", "MetricSpec", "Score", "metric_spec"]
