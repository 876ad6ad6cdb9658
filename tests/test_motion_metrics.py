"""Behaviour of the motion metrics beyond parity: the clean preset's fixes, undefined scores,
degenerate inputs, streaming/merge, and the directory evaluator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from macedance.datasets.synthetic import synthetic_motion
from macedance.errors import MaceDanceError, ValidationError
from macedance.metrics.motion.beat_align import beat_align_score
from macedance.metrics.motion.diversity import average_pairwise_distance
from macedance.metrics.motion.evaluate import evaluate_motion_dirs
from macedance.metrics.motion.frechet import frechet_distance
from macedance.metrics.motion.kinetic import kinetic_features_3d
from macedance.metrics.motion.motion_metrics import MotionMetrics, SkipSequence, extract_features
from macedance.metrics.motion.pfc import pfc_per_sequence
from macedance.metrics.motion.presets import PRESETS, get_preset


def _joints(seed: int, seconds: float = 3.0, fps: float = 30.0) -> np.ndarray:
    return synthetic_motion(seconds=seconds, fps=fps, seed=seed).joints()


def test_one_score_type_writes_each_file_kind_in_its_key_order():
    """Motion results, video results (FVD's own order, without details when undefined) and records keep their layouts."""
    from macedance.benchmark.records import RECORD_KEYS, record_score
    from macedance.metrics import Score
    from macedance.metrics.video.frechet_scores import FVD_KEYS
    from macedance.metrics.video.metric import VIDEO_KEYS

    motion = {"value": 1.5, "undefined_reason": None, "n": 3, "details": {"eps_retry": False}}
    video = {"value": None, "n": 0, "undefined_reason": "no matched pair", "details": {}}
    fvd = {"value": None, "undefined_reason": "needs ≥ 2 videos per set (1 generated, 4 real)", "n": 1}
    for d, keys in ((motion, ("value", "undefined_reason", "n", "details")), (video, VIDEO_KEYS), (fvd, FVD_KEYS)):
        assert list(Score.from_dict(d).to_dict(keys).items()) == list(d.items())
    assert list(Score(1.5, None, 3).to_dict().items()) == [("value", 1.5), ("undefined_reason", None), ("n", 3), ("details", {})]
    assert list(record_score(motion, [1.0, 2.0]).items()) == [("value", 1.5), ("ci95", [1.0, 2.0]), ("n", 3), ("undefined_reason", None)]
    assert RECORD_KEYS == ("value", "ci95", "n", "undefined_reason") and record_score(video)["ci95"] is None


def test_presets_are_frozen_hashable_and_distinct():
    hashes = {p.hash for p in PRESETS.values()}
    assert len(hashes) == len(PRESETS)
    clean = get_preset("clean")
    with pytest.raises(dataclasses.FrozenInstanceError):
        clean.fps = 10  # type: ignore[misc]
    assert clean.with_changes(fid_eps=1e-5).hash != clean.hash
    with pytest.raises(ValidationError, match="preset: expected one of"):
        get_preset("nope")


def test_accel_bug_makes_static_energy_depend_on_position():
    static = np.ones((20, 24, 3)) * 2.0
    legacy = kinetic_features_3d(static, frame_time=1 / 60, accel_bug=True, dtype=np.float64)
    fixed = kinetic_features_3d(static, frame_time=1 / 60, accel_bug=False, dtype=np.float64)
    assert legacy[2] == pytest.approx((60**2 - 60) * np.linalg.norm([2, 2, 2]))  # (1/dt² − 1/dt)·‖p‖
    assert np.allclose(fixed, 0)


def test_clean_kinetic_is_translation_invariant_and_fps_consistent():
    clean = get_preset("clean").with_changes(zero_start=False)
    j = _joints(1)
    a = extract_features(j, 30, preset=clean).kinetic
    b = extract_features(j + [5.0, 0.0, -3.0], 30, preset=clean).kinetic
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)  # float64 differences of shifted positions: ~1e-15 × |shift| on any CPU
    j60 = _joints(1, fps=60)
    k60 = extract_features(j60, 60, preset=clean).kinetic
    h30, h60 = a[0::3], k60[0::3]  # horizontal kinetic energy in (m/s)² at both rates
    assert np.median(np.abs(h60 / h30 - 1)) < 0.1


def test_clean_bas_sigma_in_seconds_is_fps_independent():
    clean = get_preset("clean")
    j30, j60 = _joints(2, 6, 30), _joints(2, 6, 60)
    beats = np.arange(0.25, 6, 0.5)
    b30 = extract_features(j30, 30, preset=clean, beat_times=beats).bas
    b60 = extract_features(j60, 60, preset=clean, beat_times=beats).bas
    assert b30 == pytest.approx(b60, abs=0.08)  # not round-off: the envelope's minima move by up to a frame between 30 and 60 fps


def test_bas_directions_and_undefined():
    music, motion = np.array([10, 20, 30]), np.array([10, 22])
    m2m = beat_align_score(music, motion, sigma=3.0, direction="music_to_motion")
    assert m2m == pytest.approx((1 + np.exp(-4 / 18) + np.exp(-64 / 18)) / 3)
    assert beat_align_score(music, motion, sigma=3.0, direction="motion_to_music") == pytest.approx((1 + np.exp(-4 / 18)) / 2, rel=1e-6)
    assert beat_align_score(music, np.array([]), sigma=3.0) is None
    assert beat_align_score(np.array([]), motion, sigma=3.0) is None
    assert beat_align_score(np.array([]), motion, sigma=3.0, empty=0.0) == 0.0


def test_frechet_eigh_equals_sqrtm_and_is_exact_when_rank_deficient():
    """The eigendecomposition form equals scipy's sqrtm with full-rank covariances; with fewer samples
    than dimensions it stays real and gives 0 for a set against itself, where sqrtm loses digits."""
    from macedance.metrics.motion.frechet import gaussian_stats

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 64)), rng.normal(size=(300, 64)) @ rng.normal(size=(64, 64)) * 0.3 + 0.2
    full = [frechet_distance(*gaussian_stats(a), *gaussian_stats(b), method=m) for m in ("sqrtm", "eigh")]
    assert full[1].value == pytest.approx(full[0].value, rel=1e-10) and not full[1].singular  # float64 LAPACK, well conditioned: ~1e-13
    few = rng.normal(size=(12, 256))
    stats = gaussian_stats(few)
    exact = frechet_distance(*stats, *stats, method="eigh")
    assert exact.singular and abs(exact.value) < 1e-9 * np.trace(stats[1])
    other = gaussian_stats(rng.normal(size=(12, 256)) + 0.1)
    pair = [frechet_distance(*stats, *other, method=m).value for m in ("sqrtm", "eigh")]
    assert pair[1] == pytest.approx(pair[0], rel=1e-4)  # rank 11 of 256: sqrtm itself loses ~1e-6 here (the point of eigh)
    with pytest.raises(ValueError, match="sqrtm' or 'eigh"):
        frechet_distance(*stats, *other, method="svd")


def test_frechet_known_values_and_undefined_fid():
    rng = np.random.default_rng(0)
    eye = np.eye(3)
    assert frechet_distance(np.zeros(3), eye, np.zeros(3), eye).value == pytest.approx(0, abs=1e-12)
    assert frechet_distance(np.zeros(3), eye, np.ones(3), 4 * eye).value == pytest.approx(3 + 3 + 12 - 2 * 6)
    for method in ("sqrtm", "eigh"):
        assert frechet_distance(np.zeros(3), eye, np.ones(3), 4 * eye, method=method).value == pytest.approx(6)
    x = rng.normal(size=(50, 4))
    assert average_pairwise_distance(x) == pytest.approx(np.mean([np.linalg.norm(x[i] - x[j]) for i in range(50) for j in range(i + 1, 50)]))
    m = MotionMetrics(get_preset("clean"))
    m.update(extract_features(_joints(0), 30, preset=get_preset("clean")), "pred")
    m.update(extract_features(_joints(1), 30, preset=get_preset("clean")), "gt")
    scores = m.compute()
    assert scores["fid_k"].value is None and "at least 2 sequences" in scores["fid_k"].reason
    assert scores["div_k"].value is None
    assert scores["bas"].value is None and "no music beats" in scores["bas"].reason


def test_clean_zero_spread_dimensions_are_left_unscaled():
    clean = get_preset("clean")
    m = MotionMetrics(clean)
    for i in range(4):
        f = extract_features(_joints(i), 30, preset=clean)
        m.update(f, "pred")
        g = extract_features(_joints(10 + i), 30, preset=clean)
        g.geometric[:3] = 0.5  # constant in the GT pool
        m.update(g, "gt")
    fid_g = m.compute()["fid_g"]
    assert fid_g.value is not None and fid_g.value < 1e3
    assert fid_g.details["zero_spread_gt_dims"][:3] == [0, 1, 2] and "left unscaled" in fid_g.details["warning"]


def test_pfc_static_root_is_undefined():
    still = np.zeros((10, 24, 3))
    assert np.isnan(pfc_per_sequence(still)[0])
    clean = get_preset("clean")
    f = extract_features(np.zeros((30, 24, 3)), 30, preset=clean)
    assert f.pfc is None


@pytest.mark.parametrize("data, reason", [
    (np.zeros((2, 24, 3)), "needs at least 3"),
    (np.full((20, 24, 3), np.nan), "NaN/Inf"),
    (np.zeros((20, 17, 3)), "at least 24 SMPL joints, found 17"),
    (np.zeros((20, 24)), "expected (T, J, 3)"),
])
def test_bad_sequences_are_skipped_with_reason(data, reason):
    with pytest.raises(SkipSequence, match=reason.replace("(", r"\(").replace(")", r"\)")):
        extract_features(data, 30, preset=get_preset("clean"))


def test_merge_equals_single_pass():
    clean = get_preset("clean")
    feats = [(extract_features(_joints(i), 30, preset=clean, name=f"s{i}"), "pred" if i % 2 else "gt") for i in range(8)]
    one, a, b = MotionMetrics(clean), MotionMetrics(clean), MotionMetrics(clean)
    for k, (f, role) in enumerate(feats):
        one.update(f, role)
        (a if k < 5 else b).update(f, role)
    s1, s2 = one.compute(), a.merge(b).compute()
    for key in s1:
        # the same float64 features, sorted by name before every set metric: identical up to BLAS threading (~1e-15)
        assert s1[key].value == pytest.approx(s2[key].value, rel=1e-12, abs=1e-12) if s1[key].value is not None else s2[key].value is None
    with pytest.raises(ValidationError):
        a.merge(MotionMetrics(get_preset("bailando-aistpp")))


def _write_set(folder, seeds, fmt="npz", fps=30.0):
    folder.mkdir(parents=True)
    for s in seeds:
        m = synthetic_motion(seconds=3, fps=fps, seed=s)
        if fmt == "npz":
            m.save(folder / f"clip{s:02d}.npz")
        elif fmt == "npy":
            np.save(folder / f"clip{s:02d}.npy", m.joints().reshape(m.num_frames, 72))
        else:
            np.savetxt(folder / f"clip{s:02d}.csv", m.joints().reshape(m.num_frames, 72), delimiter=",")


def test_directory_evaluation_with_mixed_formats_music_and_skips(tmp_path):
    _write_set(tmp_path / "pred", range(4), "npy")
    _write_set(tmp_path / "gt", range(10, 16), "npz")
    (tmp_path / "pred" / "broken.npy").write_bytes(b"not numpy")
    np.save(tmp_path / "pred" / "short.npy", np.zeros((2, 72)))
    music = tmp_path / "music"
    music.mkdir()
    for s in range(4):
        np.save(music / f"clip{s:02d}.npy", np.arange(0.25, 3, 0.5))
    np.savez(music / "clip10.npz", beats=np.arange(0.25, 3, 0.5))
    (music / "clip11.txt").write_text("0.5\n1.0\n1.5\n")
    res = evaluate_motion_dirs(tmp_path / "pred", tmp_path / "gt", preset=get_preset("clean"), music=music, fps=30, up_axis="y")
    assert res["inputs"]["evaluated"] == {"pred": 4, "gt": 6}
    skipped = {s["file"].split("/")[-1]: s["reason"] for s in res["inputs"]["skipped"]}
    assert "unreadable" in skipped["broken.npy"] or "not a plain" in skipped["broken.npy"]
    assert "needs at least 3" in skipped["short.npy"]
    sc = res["scores"]
    assert all(sc[k]["value"] is not None for k in ("fid_k", "fid_g", "div_k", "div_g", "bas", "pfc"))
    assert sc["bas_gt"]["n"] == 2 and "clip12" in sc["bas_gt"]["details"]["undefined"]
    assert res["preset"]["hash"] == get_preset("clean").hash


def test_directory_evaluation_errors(tmp_path):
    _write_set(tmp_path / "pred", range(3), "npy")
    _write_set(tmp_path / "gt", range(3), "csv")
    with pytest.raises(ValidationError, match="fps/up_axis"):
        evaluate_motion_dirs(tmp_path / "pred", tmp_path / "gt", preset=get_preset("clean"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MaceDanceError, match="no motion files"):
        evaluate_motion_dirs(tmp_path / "empty", tmp_path / "gt", preset=get_preset("clean"), fps=30, up_axis="y")
    with pytest.raises(MaceDanceError, match="no usable pred"):
        bad = tmp_path / "bad"
        bad.mkdir()
        np.save(bad / "x.npy", np.zeros((5, 51)))  # 17 joints
        evaluate_motion_dirs(bad, tmp_path / "gt", preset=get_preset("clean"), fps=30, up_axis="y")


def test_bailando_crops_predictions_but_not_the_gt_pool():
    p = get_preset("bailando-aistpp")
    j = _joints(3, seconds=22, fps=60)  # 1320 frames
    pred_full = extract_features(j, 60, preset=p, role="pred").kinetic
    pred_crop = extract_features(j[:1200], 60, preset=p, role="pred").kinetic
    gt_full = extract_features(j, 60, preset=p, role="gt").kinetic
    np.testing.assert_array_equal(pred_full, pred_crop)
    assert not np.allclose(gt_full, pred_crop)


def test_fact_drops_seed_frames_of_predictions_only():
    p = get_preset("fact-aistpp")
    j = _joints(4, seconds=4, fps=60)
    np.testing.assert_array_equal(extract_features(j, 60, preset=p, role="pred").kinetic,
                                  extract_features(j[120:], 60, preset=p, role="gt").kinetic)


def test_edge_pfc_is_the_mean_over_5s_clips():
    p = get_preset("edge-aistpp")
    j = _joints(5, seconds=12, fps=30)  # 360 frames → 150-frame windows at 0, 75, 150
    f = extract_features(j, 30, preset=p, up_axis="y")
    zup = np.stack([j[..., 0], -j[..., 2], j[..., 1]], -1)
    expected = [pfc_per_sequence(zup[s : s + 150])[0] for s in (0, 75, 150)]
    np.testing.assert_allclose(f.pfc_windows, expected, rtol=1e-12)
    m = MotionMetrics(p)
    m.update(f, "pred")
    assert m.compute()["pfc"].value == pytest.approx(np.mean(f.pfc_windows) * 1e4)


def test_every_choice_changes_the_hash():
    clean = get_preset("clean")
    assert hash(clean) == hash(get_preset("clean"))  # usable as a dict key
    for name, value in (("bas_music_limit", "none"), ("beat_fps", 16.0), ("bas_joints", 22), ("fid_eps", 1e-5)):
        assert clean.with_changes(**{name: value}).hash != clean.hash, name
    assert clean.with_changes(description="renamed").hash == clean.hash
