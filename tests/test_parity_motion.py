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

from macedance.metrics.motion.motion_metrics import MotionMetrics, extract_features
from macedance.metrics.motion.presets import get_preset

from conftest import SHARED_DATA

PARITY = Path(__file__).parent / "parity"
JOINTS = SHARED_DATA / "aistpp-joints"
KEYPOINTS = SHARED_DATA / "aistpp-keypoints2d"
# 1e-6 relative, and why it holds on AVX2 and AVX-512 CPUs with any thread count: the features are computed in the
# reference's dtype with the reference's operation order (float64, or float32 where the reference sums in float32:
# FACT's envelopes, MACE's torch normalisation), over ≤ 150 frames; the set metrics add float64 covariances and
# scipy's sqrtm (LAPACK/BLAS: thread- and kernel-dependent only at ~1e-15). Measured against the references (run on
# an AVX2 EPYC): ≤ 2.2e-16 except FACT's float32 summation (6.7e-8), the same on an AVX-512 Xeon with 1 and 2 threads.
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
            f = extract_features(joints, fps, preset=preset, up_axis="z", beat_times=beats, name=path.name, role=role)
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
            f = extract_features(np.load(KEYPOINTS / role / f"{stem}.npy"), 16.0, preset=preset, up_axis="y", beat_times=beats, name=stem, role=role)
            metrics.update(f, role)
            feats[(role, stem)] = f
    _check("mace-video2d", feats, metrics)


def test_legacy_zero_spread_warning_names_dimensions():
    """GT manual dims 4 and 5 never fire in the fixture: legacy normalisation explodes, and says so."""
    _, metrics = _run_3d("bailando-aistpp")
    fid_g = metrics.compute()["fid_g"]
    assert fid_g.details["zero_spread_gt_dims"][:2] == [4, 5]
    assert "zero spread in dimension(s) [4, 5" in fid_g.details["warning"]


# ----- the GT pool of each preset, from whole folders as a user passes them -----------------------------------
def _folders(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """The parity fixture as folders (pred, gt, music with the fixture's beat files by stem). Stems never match
    between the sets ("predicted_…" vs "true_…"): every prediction lacks a GT file of its name and vice versa."""
    fps = get_preset(name).fps or 30.0
    music = tmp_path / "music"
    music.mkdir()
    for role in ("pred", "gt"):
        (tmp_path / role).mkdir()
        for i, path in enumerate(sorted((JOINTS / role).glob("*.csv"))):
            (tmp_path / role / path.name).write_bytes(path.read_bytes())
            np.save(music / f"{path.stem}.npy", np.arange(3 + 2 * i, 150, 15) / fps)
    return tmp_path / "pred", tmp_path / "gt", music


@pytest.mark.parametrize("name", ["bailando-aistpp", "fact-aistpp", "lodge-finedance", "edge-aistpp"])
def test_3d_presets_pool_every_file_of_each_folder(name: str, tmp_path: Path) -> None:
    """Bailando (metrics_new.quantized_metrics), mint (calculate_fid_scores) and LODGE (metrics_finedance) load every
    feature file of each folder, paired by nothing; EDGE scores every prediction. So from whole folders with no name
    in common, the directory evaluation gives the reference numbers, with all 7 GT files in the pool. LODGE's
    calc_and_save_feats also skips files whose name starts with 'M' (in both folders): such files are left out."""
    from macedance.metrics.motion.evaluate import evaluate_motion_dirs

    preset = get_preset(name)
    pred, gt, music = _folders(tmp_path, name)
    if name == "lodge-finedance":
        for role in (pred, gt):
            (role / "M_mirrored.csv").write_bytes((JOINTS / "gt" / min(p.name for p in (JOINTS / "gt").glob("*.csv"))).read_bytes())
    res = evaluate_motion_dirs(pred, gt, preset=preset, music=music, fps=preset.fps or 30.0, up_axis="z")
    for key, value in _expected(name)["metrics"].items():
        _close(res["scores"][key]["value"], value, f"{name} {key}")
    pool = res["inputs"]["gt_pool"]
    assert pool["pairing"] == "none" and len(pool["gt_used"]) == 7 and res["inputs"]["evaluated"] == {"pred": 6, "gt": 7}
    left = {(Path(x["file"]).name, x["set"]) for x in pool["left_out"]}
    assert left == ({("M_mirrored.csv", "pred"), ("M_mirrored.csv", "gt")} if name == "lodge-finedance" else set())


def test_mace_video2d_pools_only_pairs_matched_by_name(tmp_path: Path) -> None:
    """The official calculate_metric.py evaluates sorted(stems(GT) ∩ stems(Pred) ∩ stems(audio)) and drops a sample
    whole when one of its loads fails. The fixture's GT folder holds a GT-only clip (gJS…slice4): the directory
    evaluation must ignore it (1093ac1 put it into the GT pool: other FID_k, FID_g, Div_gt and BAS_gt). Added here:
    a prediction without GT, a pair without music, and a pair whose prediction is too short to read — all left
    out, with the official numbers unchanged."""
    from macedance.metrics.motion.evaluate import evaluate_motion_dirs

    preset = get_preset("mace-video2d")
    res = evaluate_motion_dirs(KEYPOINTS / "pred", KEYPOINTS / "gt", preset=preset, music=KEYPOINTS / "music", fps=16.0)
    for key, value in _expected("mace-video2d")["metrics"].items():
        _close(res["scores"][key]["value"], value, f"mace-video2d {key}")
    pool = res["inputs"]["gt_pool"]
    assert [Path(p).stem for p in pool["gt_used"]] == sorted(_expected("mace-video2d")["per_file"]["gt"])  # the 6 official samples
    assert [(Path(x["file"]).stem, x["set"]) for x in pool["left_out"]] == [("gJS_sBM_cAll_d01_mJS3_ch02_slice4", "gt")]
    assert "no prediction named gJS_sBM_cAll_d01_mJS3_ch02_slice4" in pool["left_out"][0]["reason"]

    pred, gt, music = tmp_path / "pred", tmp_path / "gt", tmp_path / "music"
    for src, dst in ((KEYPOINTS / "pred", pred), (KEYPOINTS / "gt", gt), (KEYPOINTS / "music", music)):
        dst.mkdir()
        for f in src.iterdir():
            (dst / f.name).write_bytes(f.read_bytes())
    extra = np.load(KEYPOINTS / "gt" / "gJS_sBM_cAll_d01_mJS3_ch02_slice4.npy")
    np.save(pred / "pred_only.npy", extra)  # a prediction without GT
    np.save(pred / "no_music.npy", extra)  # a pair without music
    np.save(gt / "no_music.npy", extra)
    np.save(pred / "too_short.npy", extra[:40])  # fewer than 64 frames: unreadable for the preset, so is its pair
    np.save(gt / "too_short.npy", extra)
    (music / "too_short.wav").write_bytes((KEYPOINTS / "music" / "groundTruthMatch.wav").read_bytes())
    res = evaluate_motion_dirs(pred, gt, preset=preset, music=music, fps=16.0)
    for key, value in _expected("mace-video2d")["metrics"].items():
        _close(res["scores"][key]["value"], value, f"mace-video2d {key} (extra files)")
    left = {(Path(x["file"]).stem, x["set"]): x["reason"] for x in res["inputs"]["gt_pool"]["left_out"]}
    assert set(left) == {("gJS_sBM_cAll_d01_mJS3_ch02_slice4", "gt"), ("pred_only", "pred"), ("no_music", "pred"), ("no_music", "gt"),
                         ("too_short", "gt")}
    assert "no ground truth named pred_only" in left[("pred_only", "pred")] and "no music named no_music" in left[("no_music", "gt")]
    assert "prediction 'too_short' is missing or could not be read" in left[("too_short", "gt")]
    assert [s["file"] for s in res["inputs"]["skipped"]] == [str(pred / "too_short.npy")]
