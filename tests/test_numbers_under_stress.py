"""Numbers under stress (issue 22, item 5): ``eval motion`` and ``eval video`` on sets of 1 and 2 clips, identical clips,
constant motion, all-zero videos and motions whose features overflow. Every score is a finite number or undefined
with a reason, and no result or record ever holds NaN or ±Infinity (they are not JSON: files are parsed here with a
``parse_constant`` that raises). docs/robustness.md tabulates the outcomes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from macedance.benchmark.records import load_record, record_score, validate
from macedance.cli import app
from macedance.fileio import write_json
from macedance.io.video import write_video
from macedance.metrics.motion.evaluate import evaluate_motion_files
from macedance.metrics.motion.frechet import Moments
from macedance.metrics.motion.presets import PRESETS, get_preset
from macedance.metrics.score import Score
from macedance.metrics.video.evaluate import evaluate_videos
from macedance.metrics.video.frechet_scores import frechet_score
from macedance.metrics.video.fvd import fvd_from_features
from macedance.motion.skeleton import builtin_skeleton

runner = CliRunner()
FPS = 30.0


def _no_constant(name: str) -> Any:
    raise AssertionError(f"{name} in a JSON file")


def strict_load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)


def assert_defined_or_explained(scores: dict[str, dict[str, Any]]) -> None:
    assert scores
    for name, s in scores.items():
        v = s["value"]
        if v is None:
            assert isinstance(s["undefined_reason"], str) and s["undefined_reason"], name
        else:
            assert isinstance(v, (int, float)) and math.isfinite(v), (name, v)
    json.dumps(scores, allow_nan=False)  # details and intervals too


# ----- motion ---------------------------------------------------------------------------------------------------------
REST = builtin_skeleton().joints


def moving(seed: int, frames: int = 120) -> np.ndarray:
    """(T, 24, 3) joints swinging around the rest pose (metres, y up)."""
    r = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / FPS
    return REST[None] + 0.1 * np.sin(2 * np.pi * (1 + r.random((1, 24, 3))) * t + 6 * r.random((1, 24, 3)))


def keypoints(seed: int, frames: int = 64) -> np.ndarray:
    """(T, 25, 3) vitpose25 keypoints (x, y, confidence) in pixels."""
    r = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / 16
    xy = r.uniform(100, 400, (1, 25, 2)) + 20 * np.sin(2 * np.pi * (1 + r.random((1, 25, 2))) * t + 6 * r.random((1, 25, 2)))
    return np.concatenate([xy, np.ones((frames, 25, 1))], -1)


STILL = np.repeat(REST[None], 120, 0)
MOTION_CASES = {
    "one-clip": ([moving(0)], [moving(1)]),
    "two-clips": ([moving(0), moving(2)], [moving(1), moving(3)]),
    "identical-clips": ([moving(0)] * 3, [moving(0)] * 3),
    "constant-motion": ([STILL] * 3, [STILL] * 3),
    "constant-vs-moving": ([STILL] * 3, [moving(s) for s in range(3)]),
    "all-zero": ([np.zeros((120, 24, 3))] * 2, [np.zeros((120, 24, 3))] * 2),
    "overflowing-one": ([moving(0), moving(2), moving(4) * 1e200], [moving(1), moving(3)]),
}


def _motion_files(root: Path, pred: list[np.ndarray], gt: list[np.ndarray]) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {"pred": [], "gt": []}
    (root / "music").mkdir(parents=True)
    for role, arrays in (("pred", pred), ("gt", gt)):
        (root / role).mkdir()
        for i, a in enumerate(arrays):
            files[role].append(root / role / f"c{i}.npy")
            np.save(files[role][-1], a)
            np.save(root / "music" / f"c{i}.npy", np.arange(0.0, 4.0, 0.5))  # beat times, s
    return files


@pytest.mark.parametrize("case", list(MOTION_CASES))
@pytest.mark.parametrize("preset", [p for p in PRESETS if PRESETS[p].representation == "joints3d"])
def test_motion_scores_are_finite_or_undefined_with_a_reason(tmp_path, preset, case):
    pred, gt = MOTION_CASES[case]
    files = _motion_files(tmp_path, pred, gt)
    with np.errstate(all="ignore"):
        result, _ = evaluate_motion_files(files, preset=get_preset(preset), music=tmp_path / "music", fps=FPS, up_axis="y")
    assert_defined_or_explained(result["scores"])
    scores = result["scores"]
    if case == "one-clip" and "fid_k" in scores:
        assert scores["fid_k"]["value"] is None and "needs at least 2 sequences" in scores["fid_k"]["undefined_reason"]
        assert scores["div_k"]["value"] is None and "needs at least 2 sequences, found 1" in scores["div_k"]["undefined_reason"]
    if case == "identical-clips" and "fid_k" in scores:
        assert scores["div_k"]["value"] == pytest.approx(0.0, abs=1e-6)
        # 0 — but for the legacy presets, which divide zero-spread GT dimensions by ε (as their references): then a
        # finite value dominated by those dimensions, with a warning that says so
        fid = scores["fid_k"]
        assert abs(fid["value"]) < 1e-6 or "divides them by ε" in fid["details"]["warning"]
    if case == "constant-motion" and "bas" in scores:  # no motion beats: undefined, or the reference's value for it
        bas, empty = scores["bas"], PRESETS[preset].bas_empty
        assert (bas["value"], "no motion beats" in (bas["undefined_reason"] or "")) == ((None, True) if empty is None else (empty, False))
    if case == "constant-motion" and "pfc" in scores:
        assert scores["pfc"]["value"] is None and "root never accelerates" in scores["pfc"]["undefined_reason"]
    if case == "overflowing-one":  # skipped with the reason; the others are scored
        skipped = result["inputs"]["skipped"]
        assert [Path(s["file"]).name for s in skipped] == ["c2.npy"] and "features overflow" in skipped[0]["reason"]
    # what a benchmark record would hold: every score valid under the record schema
    validate({"schema_version": 2, "kind": "macedance-result", "method": {"name": "m"},
              "task": {"name": "custom:t", "version": 0, "preset": preset, "preset_hash": "", "main_score": "fid_k"},
              "scores": {k: record_score(v) for k, v in scores.items()}})


@pytest.mark.parametrize("case", ["one-clip", "two-clips", "identical-clips", "constant-motion"])
def test_2d_motion_scores_are_finite_or_undefined_with_a_reason(tmp_path, case):
    still = np.repeat(keypoints(0)[:1], 64, 0)
    pred, gt = {"one-clip": ([keypoints(0)], [keypoints(1)]), "two-clips": ([keypoints(0), keypoints(2)], [keypoints(1), keypoints(3)]),
                "identical-clips": ([keypoints(0)] * 3, [keypoints(0)] * 3), "constant-motion": ([still] * 3, [still] * 3)}[case]
    files = _motion_files(tmp_path, pred, gt)
    result, _ = evaluate_motion_files(files, preset=get_preset("mace-video2d"), music=tmp_path / "music", fps=16.0)
    assert_defined_or_explained(result["scores"])


@pytest.mark.parametrize("case", ["one-clip", "constant-motion", "overflowing-one"])
def test_eval_motion_json_is_strict_and_a_valid_record(tmp_path, case):
    """The CLI's ``--json`` file: strict JSON, and (as a schema-1 record) accepted by ``board validate``."""
    pred, gt = MOTION_CASES[case]
    _motion_files(tmp_path, pred, gt)
    out = tmp_path / "result.json"
    r = runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--music",
                            str(tmp_path / "music"), "--fps", "30", "--up-axis", "y", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert_defined_or_explained(strict_load(out)["scores"])
    assert load_record(out)["migrated_from"] == 1
    assert runner.invoke(app, ["board", "validate", str(out)]).exit_code == 0


# ----- video ----------------------------------------------------------------------------------------------------------
def _noise(seed: int, frames: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, 32, 32, 3), dtype=np.uint8)


ZEROS = np.zeros((8, 32, 32, 3), np.uint8)
VIDEO_CASES = {
    "one-pair": ([_noise(1)], [_noise(2)]),
    "two-pairs": ([_noise(1), _noise(3)], [_noise(2), _noise(4)]),
    "identical": ([_noise(1)] * 2, [_noise(1)] * 2),
    "all-zero": ([ZEROS] * 2, [ZEROS] * 2),
    "zero-vs-noise": ([ZEROS] * 2, [_noise(2), _noise(4)]),
    "one-frame": ([ZEROS[:1]], [ZEROS[:1]]),
}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("preset", ["clean", "disco-legacy"])
@pytest.mark.parametrize("case", list(VIDEO_CASES))
def test_video_scores_are_finite_or_undefined_with_a_reason(tmp_path, case, preset):
    """The metrics that need no weights (SSIM, PSNR, L1, temporal flickering) through ``eval video --json``."""
    for role, videos in zip(("pred", "gt"), VIDEO_CASES[case], strict=True):
        for i, v in enumerate(videos):
            write_video(tmp_path / role / f"c{i}.mp4", list(v), 16.0, crf=0)
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--preset", preset,
                            "--metrics", "ssim,psnr,l1,temporal-flickering", "--json", str(out)])
    assert r.exit_code == 0, r.output
    scores = strict_load(out)["scores"]
    assert_defined_or_explained(scores)
    if case in ("identical", "all-zero", "one-frame"):
        assert scores["l1"]["value"] == 0.0 and scores["ssim"]["value"] == pytest.approx(1.0)
        if preset == "clean":  # infinite PSNR: undefined, with why
            assert scores["psnr"]["value"] is None and "identical videos (PSNR = ∞)" in scores["psnr"]["undefined_reason"]
        else:  # DisCo's convention for identical frames: 100 dB
            assert scores["psnr"]["value"] == 100.0
    if case == "one-frame":
        assert scores["temporal-flickering"]["value"] is None and "≥ 2 frames" in scores["temporal-flickering"]["undefined_reason"]


def test_evaluate_videos_result_is_strict_json_for_a_set_against_itself(tmp_path):
    for role in ("pred", "gt"):
        write_video(tmp_path / role / "c0.mp4", list(ZEROS), 16.0)
    result = evaluate_videos(tmp_path / "pred", tmp_path / "gt", metrics=("ssim", "psnr", "l1"))
    write_json(tmp_path / "r.json", result, strict=True)
    assert_defined_or_explained(strict_load(tmp_path / "r.json")["scores"])


FEATURE_CASES = {
    "one-row": (np.ones((1, 8)), np.ones((3, 8)), "needs ≥ 2 videos per set (1, 3)"),
    "two-rows": (np.random.default_rng(0).normal(size=(2, 8)), np.random.default_rng(1).normal(size=(2, 8)), None),
    "identical": (np.random.default_rng(0).normal(size=(4, 8)),) * 2 + (None,),
    "constant": (np.ones((4, 8)), np.ones((4, 8)), None),
    "zeros": (np.zeros((4, 8)), np.zeros((4, 8)), None),
    # rows: finite statistics, an infinite distance ("not finite"); moments: Σxxᵀ overflows ("non-finite statistics")
    "overflowing-mean": (np.full((4, 8), 1e200), np.zeros((4, 8)), "finite"),
    "overflowing-spread": (np.random.default_rng(0).normal(size=(4, 8)) * 1e200, np.zeros((4, 8)), "non-finite statistics"),
    "nan-features": (np.full((4, 8), np.nan), np.zeros((4, 8)), "non-finite statistics"),
}


@pytest.mark.parametrize("method", ["sqrtm", "eigh"])
@pytest.mark.parametrize("case", list(FEATURE_CASES))
def test_frechet_scores_of_degenerate_feature_sets(case, method):
    """FVD, FID, FID-VID and cd-FVD are Fréchet distances of network features (the networks need weights): the
    distance itself on small fake feature sets, as rows and as running moments (cd-FVD's biased covariance)."""
    pred, gt, reason = FEATURE_CASES[case]
    moments = []
    for x in (pred, gt):
        m = Moments()
        with np.errstate(all="ignore"):
            m.add(x)
        moments.append(m)
    with np.errstate(all="ignore"):
        scores = [frechet_score(pred, gt, "videos", {}, method=method), frechet_score(*moments, "videos", {}, ddof=0, eps=0.0, method=method)]
    for s in scores:
        assert_defined_or_explained({"x": s.to_dict()})
        if reason is None:
            assert s.value is not None and s.value > -1e-6
        else:
            assert s.value is None and reason in s.reason
    if case in ("identical", "constant", "zeros"):  # 0 up to round-off (sqrtm's is larger: why eigh exists)
        assert abs(scores[0].value) < (1e-6 if method == "sqrtm" else 1e-12) * max(1.0, float(np.trace(np.cov(gt, rowvar=False))))
    assert fvd_from_features(pred[:1], gt).value is None  # FVD of one video


def test_a_score_never_writes_nan_or_infinity():
    """The last line of defence, for a computation that gives a non-finite value: undefined with the value in the
    reason; non-finite numbers in details and intervals become null."""
    s = Score(float("nan"), None, 3, {"left": float("inf"), "per": [1.0, float("-inf")]}, ci95=(0.0, float("nan")))
    d = s.to_dict(("value", "undefined_reason", "n", "details", "ci95"))
    assert d == {"value": None, "undefined_reason": "the computation gave nan (not a finite number)", "n": 3,
                 "details": {"left": None, "per": [1.0, None]}, "ci95": None}
    assert Score(np.float32("inf")).to_dict()["undefined_reason"] == "the computation gave inf (not a finite number)"
    assert Score(2.5, None, 1, None).to_dict() == {"value": 2.5, "undefined_reason": None, "n": 1}


def test_strict_json_writer_refuses_nan_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="r.json: not written: NaN or Infinity"):
        write_json(tmp_path / "r.json", {"scores": {"x": float("nan")}}, strict=True)
    assert not list(tmp_path.iterdir())
    write_json(tmp_path / "ok.json", {"x": 1.0}, strict=True)
    assert strict_load(tmp_path / "ok.json") == {"x": 1.0}
