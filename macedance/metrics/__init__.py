"""Metrics: the registry of what every score means (:mod:`macedance.metrics.spec`)."""

from macedance.metrics.spec import METRICS, MetricSpec, metric_spec

__all__ = ["METRICS", "MetricSpec", "metric_spec"]
