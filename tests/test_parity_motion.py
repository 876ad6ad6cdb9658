"""Parity of the legacy motion-metric presets with the original reference code.

Expected numbers in ``tests/parity/expected_<preset>.json`` were produced by running each original
repository's own metric code (repository and commit recorded in the file, run outside this project)
on the fixture below; agreement is required to 1e-6 relative.

Fixture (real AIST++ joints from ../shared/data, see its README): GT = the 7 CSVs of
``aistpp-joints/gt``, predictions = the 6 of ``aistpp-joints/pred`` (150 frames, 24 joints, z-up);
for the 3D presets they are declared at the preset's own frame rate (so nothing is resampled), and
the i-th file of a set (sorted by name) gets music beats at frames 3 + 2i, 18 + 2i, … (every 15).
The 2D preset uses ``aistpp-keypoints2d`` (vitpose25 keypoints at 16 fps and a click track).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA
from macedance.evaluators.motion import MotionMetrics, extract_features
from macedance.evaluators.presets import get_preset

PARITY = Path(__file__).parent / "parity"
JOINTS = SHARED_DATA / "aistpp-joints"
KEYPOINTS = SHARED_DATA / "aistpp-keypoints2d"
RTOL = 1e-6

pytestmark = pytest.mark.skipif(not JOINTS.is_dir(), reason="shared AIST++ fixture data not available")


def _expected(name: str) -> dict:
    return json.loads((PARITY / f"expected_{name}.json").read_text())


def _run_3d(name: str) -> tuple[dict, MotionMetrics]:
    preset = get_preset(name)
    fps = preset.fps or 30.0
    metrics = MotionMetrics(preset)
    feats = {}
    for role in ("pred", "gt"):
        for i, path in enumerate(sorted((JOINTS / role).glob("*.csv"))):
            joints = np.loadtxt(path, delimiter=",").reshape(150, 24, 3)
            beats = np.arange(3 + 2 * i, 150, 15) / fps
            f = extract_features(joints, fps, preset, "z", beats, path.name, role)
            metrics.update(f, role)
            feats[(role, path.name)] = f
    return feats, metrics


def _close(actual: float | None, expected: float | None, what: str) -> None:
    assert actual is not None and expected is not None, what
    assert actual == pytest.approx(expected, rel=RTOL, abs=1e-12), f"{what}: {actual!r} vs reference {expected!r}"


def _check(name: str, feats: dict, metrics: MotionMetrics) -> None:
    exp = _expected(name)
    for (role, fname), f in feats.items():
        ref = exp["per_file"][role][fname]
        if "kinetic" in ref:
            np.testing.assert_allclose(f.kinetic, ref["kinetic"], rtol=RTOL, atol=1e-9, err_msg=f"{fname} kinetic")
            np.testing.assert_allclose(f.geometric, ref["geometric"], rtol=RTOL, atol=1e-9, err_msg=f"{fname} geometric")
        if "bas" in ref:
            _close(f.bas, ref["bas"], f"{fname} BAS")
        if "pfc" in ref:
            _close(f.pfc, ref["pfc"], f"{fname} PFC")
        if "fsr" in ref:
            assert f.fsr == pytest.approx(tuple(ref["fsr"]), rel=RTOL) if None not in ref["fsr"] else f.fsr == (None, None)
    scores = metrics.compute()
    for key, value in exp["metrics"].items():
        _close(scores[key].value, value, f"{name} {key}")


@pytest.mark.parametrize("name", ["bailando-aistpp", "fact-aistpp", "lodge-finedance", "edge-aistpp"])
def test_3d_preset_parity(name):
    feats, metrics = _run_3d(name)
    _check(name, feats, metrics)


def test_mace_video2d_parity():
    from macedance.music.analysis import analyze_file
    from macedance.music.presets import get_music_preset

    preset = get_preset("mace-video2d")
    exp = _expected("mace-video2d")
    metrics, feats = MotionMetrics(preset), {}
    stems = sorted({p.stem for p in (KEYPOINTS / "pred").glob("*.npy")} & {p.stem for p in (KEYPOINTS / "gt").glob("*.npy")})
    assert len(stems) == 6
    for stem in stems:
        beats = analyze_file(KEYPOINTS / "music" / f"{stem}.wav", get_music_preset("mace-video2d"), use_cache=False)[0].beat_times
        idx = np.unique(np.floor(beats * 16).astype(int))
        assert idx[idx < 64].tolist() == exp["music_beats"][stem]
        for role in ("pred", "gt"):
            f = extract_features(np.load(KEYPOINTS / role / f"{stem}.npy"), 16.0, preset, "y", beats, stem, role)
            metrics.update(f, role)
            feats[(role, stem)] = f
    _check("mace-video2d", feats, metrics)


def test_legacy_zero_spread_warning_names_dimensions():
    """GT manual dims 4 and 5 never fire in the fixture: legacy normalisation explodes, and says so."""
    _, metrics = _run_3d("bailando-aistpp")
    fid_g = metrics.compute()["fid_g"]
    assert fid_g.details["zero_spread_gt_dims"][:2] == [4, 5]
    assert "zero spread in dimension(s) [4, 5" in fid_g.details["warning"]
