"""One metric registry: every score macedance can report has one spec, and every table shows it the same way
(1093ac1 had five tables that disagreed: Div_k was "↑" on the board, plain in `eval motion`, "→" in `eval video`)."""

from __future__ import annotations

import math

import pytest

from macedance.benchmark.tasks import TASKS
from macedance.errors import ValidationError
from macedance.leaderboard.build import Board
from macedance.leaderboard.render import markdown
from macedance.metrics.motion.presets import PRESETS
from macedance.metrics.spec import METRICS, metric_spec
from macedance.metrics.video.evaluate import VIDEO_METRICS
from macedance.metrics.video.motion2d import MOTION2D_SCORES
from macedance.weights import all_weights


def test_every_reported_score_has_a_spec() -> None:
    reported = {m for p in PRESETS.values() for m in p.metrics} | {m for t in TASKS.values() for m in t.scores}
    assert all(t.main_score in t.scores for t in TASKS.values())
    reported |= {m for spec in VIDEO_METRICS.values() for m in spec.scores}
    assert reported <= set(METRICS), reported - set(METRICS)
    for spec in METRICS.values():
        lo, hi = spec.bounds
        assert lo < hi and spec.label and spec.definition and spec.better in ("higher", "lower")
    assert len({s.label for s in METRICS.values()}) == len(METRICS)


def test_every_video_metric_has_a_spec_and_known_weights() -> None:
    """The video metric registry (what to compute) and the metric registry (what a score means) agree."""
    weights = all_weights()
    for name, video_metric in VIDEO_METRICS.items():
        assert video_metric.name == name and video_metric.inputs
        for score in video_metric.scores:
            assert metric_spec(score).name == score, (name, score)
        assert set(video_metric.weights) <= set(weights), (name, video_metric.weights)
    assert VIDEO_METRICS["motion-2d"].scores == tuple(f"{m}-2d" for m in MOTION2D_SCORES)
    assert all(VIDEO_METRICS[m].scores == (m,) for m in VIDEO_METRICS if m != "motion-2d")


def test_lookups_and_errors() -> None:
    assert metric_spec("div_k_gt") is metric_spec("div_k")  # the ground truth's value of the same metric
    assert metric_spec("bas").bounds == (0.0, 1.0) and metric_spec("fid_k").bounds[1] == math.inf
    with pytest.raises(ValidationError, match="metric"):
        metric_spec("fidk")


def test_every_table_shows_diversity_the_same_way(tmp_path) -> None:
    from macedance.cli._ui import MOTION_METRICS

    assert metric_spec("div_k").heading() == "Div_k ↑" and metric_spec("div_k-2d").heading() == "Div_k (2D) ↑"
    assert "div_k" in MOTION_METRICS
    board = Board("t", 1, "clean", "0" * 16, "fid_k", ["fid_k", "div_k"], [{"method": "m", "scores": {"fid_k": {"value": 1.0},
                                                                                                        "div_k": {"value": 2.0}}}])
    assert "| FID_k ↓ | Div_k ↑ |" in markdown(board)
    assert metric_spec("psnr").heading(unit=True) == "PSNR dB ↑"
