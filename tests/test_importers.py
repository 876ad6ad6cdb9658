import json
import os
import pickle

import numpy as np
import pytest

from macedance.datasets import import_aistpp, import_finedance, read_aistpp_motion, read_clips, read_finedance_motion
from macedance.datasets.importers.aistpp import parse_sequence_name
from macedance.datasets.importers.finedance import finedance_split
from macedance.datasets.synthetic import synthetic_motion, write_aistpp_pkl, write_finedance_npy
from macedance.errors import DataFormatError, InputNotFoundError, UnsafePickleError, ValidationError
from macedance.motion.rotations import axis_angle_to_matrix
from macedance.schema import Motion, load_motion

from conftest import random_axis_angle


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/macedance-pwned",))


def _aist_pickle(path, poses, trans, scaling):
    """An AIST++ motion file exactly as distributed: dict of float arrays, pickled."""
    with open(path, "wb") as f:
        pickle.dump({"smpl_loss": 0.0021, "smpl_poses": poses, "smpl_scaling": np.array([scaling]),
                     "smpl_trans": trans}, f)


def test_read_aistpp_divides_translation_by_scaling(tmp_path, rng):
    poses = random_axis_angle(rng, (20, 24)).reshape(20, 72).astype(np.float32)
    trans = rng.normal(size=(20, 3)) * 90
    _aist_pickle(tmp_path / "gBR_sBM_cAll_d04_mBR0_ch01.pkl", poses, trans, 92.5)
    m = read_aistpp_motion(tmp_path / "gBR_sBM_cAll_d04_mBR0_ch01.pkl")
    assert (m.fps, m.up_axis, m.num_frames) == (60.0, "y", 20)
    # the reader makes the same correctly rounded float64 division (IEEE on every CPU): measured bit-identical
    np.testing.assert_allclose(m.trans, trans / 92.5, rtol=1e-15)
    # the same float64 Rodrigues of the same float32 poses: ~1e-16 (measured bit-identical)
    np.testing.assert_allclose(m.rotmat, axis_angle_to_matrix(poses.reshape(20, 24, 3).astype(np.float64)), atol=1e-12)


def test_aistpp_name_parsing():
    assert parse_sequence_name("gJB_sFM_cAll_d09_mJB5_ch10") == {
        "genre": "Ballet Jazz", "music_id": "mJB5", "dancer": "d09", "situation": "advanced"}
    assert parse_sequence_name("whatever") == {}


def test_aistpp_directory_import_rejects_bad_files_and_continues(tmp_path):
    src = tmp_path / "aist_plusplus_final" / "motions"
    src.mkdir(parents=True)
    good = ["gBR_sBM_cAll_d04_mBR0_ch01", "gPO_sBM_cAll_d10_mPO1_ch02", "gHO_sFM_cAll_d20_mHO5_ch13"]
    for i, name in enumerate(good):
        write_aistpp_pkl(synthetic_motion(seconds=1.0, fps=60, seed=i), src / f"{name}.pkl", scaling=90 + i)
    (src / "gKR_sBM_cAll_d28_mKR0_ch01.pkl").write_bytes(pickle.dumps({"smpl_poses": _Evil()}))
    (src / "gLO_sBM_cAll_d13_mLO0_ch01.pkl").write_bytes(b"\x80\x04\x95")
    _aist_pickle(src / "gWA_sBM_cAll_d25_mWA0_ch01.pkl", np.zeros((5, 69)), np.zeros((5, 3)), 1.0)
    (src / "gJS_sBM_cAll_d01_mJS0_ch01.pkl").write_bytes(pickle.dumps({"smpl_poses": np.zeros((5, 72))}))
    _aist_pickle(src / "gMH_sBM_cAll_d22_mMH0_ch01.pkl", np.zeros((5, 72)), np.zeros((5, 3)), 0.0)
    # official lists beside the motions folder
    root = src.parent
    (root / "ignore_list.txt").write_text("gHO_sFM_cAll_d20_mHO5_ch13\n")
    (root / "splits").mkdir()
    (root / "splits" / "crossmodal_train.txt").write_text("gBR_sBM_cAll_d04_mBR0_ch01\n")
    (root / "splits" / "crossmodal_test.txt").write_text("gPO_sBM_cAll_d10_mPO1_ch02\n")

    out = tmp_path / "out"
    report = import_aistpp(src, out)
    assert not os.path.exists("/tmp/macedance-pwned")
    assert sorted(report.converted) == sorted(good[:2])
    reasons = {r["file"]: r["reason"] for r in report.rejected}
    assert len(reasons) == 6
    assert "refused to load" in reasons["gKR_sBM_cAll_d28_mKR0_ch01.pkl"] and "posix.system" in reasons["gKR_sBM_cAll_d28_mKR0_ch01.pkl"]
    assert "not a readable pickle" in reasons["gLO_sBM_cAll_d13_mLO0_ch01.pkl"]
    assert "smpl_poses: expected shape (N, 72) or (N, 24, 3), found shape (5, 69)" in reasons["gWA_sBM_cAll_d25_mWA0_ch01.pkl"]
    assert "missing key(s) ['smpl_trans', 'smpl_scaling']" in reasons["gJS_sBM_cAll_d01_mJS0_ch01.pkl"]
    assert "smpl_scaling: expected one positive number" in reasons["gMH_sBM_cAll_d22_mMH0_ch01.pkl"]
    assert "ignore_list" in reasons["gHO_sFM_cAll_d20_mHO5_ch13.pkl"]

    clips = {c.id: c for c in read_clips(out / "clips.jsonl")}
    assert set(clips) == set(good[:2])
    c = clips["gBR_sBM_cAll_d04_mBR0_ch01"]
    assert (c.genre, c.split, c.start, c.end) == ("Break", "train", 0.0, 1.0)
    assert clips["gPO_sBM_cAll_d10_mPO1_ch02"].split == "test"
    m = load_motion(out / c.motion_path)
    # trans × 90 / 90 and float64 FK: ~1e-16 m (measured 6e-17); 1e-12 leaves 1e4× for other kernels
    np.testing.assert_allclose(m.joints(), synthetic_motion(seconds=1.0, fps=60, seed=0).joints(), atol=1e-12)
    assert m.meta["dataset"] == "aistpp" and len(m.meta["source_sha256"]) == 64 and m.meta["music_id"] == "mBR0"
    rep = json.loads((out / "import_report.json").read_text())
    assert rep["counts"] == {"converted": 2, "up_to_date": 0, "rejected": 6}

    # resume: nothing converted again; a changed source is converted again; --overwrite redoes all
    again = import_aistpp(src, out)
    assert again.converted == [] and sorted(again.up_to_date) == sorted(good[:2])
    assert len(read_clips(out / "clips.jsonl")) == 2
    write_aistpp_pkl(synthetic_motion(seconds=1.0, fps=60, seed=9), src / f"{good[0]}.pkl")
    assert import_aistpp(src, out).converted == [good[0]]
    assert sorted(import_aistpp(src, out, overwrite=True).converted) == sorted(good[:2])


def test_aistpp_import_options_resample_and_up_axis(tmp_path):
    src = tmp_path / "src"
    m60 = synthetic_motion(seconds=1.0, fps=60, seed=3)
    write_aistpp_pkl(m60, src / "gBR_sBM_cAll_d04_mBR0_ch01.pkl")
    report = import_aistpp(src, tmp_path / "out", fps=30, up_axis="z")
    m = load_motion(tmp_path / "out" / report.clips[0].motion_path)
    assert (m.fps, m.up_axis, m.num_frames) == (30.0, "z", 30)
    expected = m60.to_up_axis("z").joints()[::2]
    np.testing.assert_allclose(m.joints(), expected, atol=1e-9)  # float64 slerp at fraction 0 and FK: measured 6e-16 m
    # changing options re-converts instead of reusing
    assert import_aistpp(src, tmp_path / "out", fps=None).converted == ["gBR_sBM_cAll_d04_mBR0_ch01"]


def test_aistpp_errors_for_missing_or_empty_source(tmp_path):
    with pytest.raises(InputNotFoundError, match="source folder not found"):
        import_aistpp(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputNotFoundError, match="no AIST\\+\\+ .pkl"):
        import_aistpp(tmp_path / "empty", tmp_path / "out")
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(UnsafePickleError):
        read_aistpp_motion(tmp_path / "evil.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataFormatError, match="expected a dict"):
        read_aistpp_motion(tmp_path / "list.pkl")


def _finedance_array(rng, T, contacts=False):
    """A FineDance array built independently: trans + 52 × (first two rows of R)."""
    aa = random_axis_angle(rng, (T, 52))
    R = axis_angle_to_matrix(aa)
    six = np.concatenate([R[..., 0, :], R[..., 1, :]], axis=-1)  # pytorch3d matrix_to_rotation_6d
    arr = np.concatenate([rng.normal(size=(T, 3)), six.reshape(T, 312)], axis=1)
    if contacts:
        arr = np.concatenate([rng.integers(0, 2, size=(T, 4)).astype(float), arr], axis=1)
    return aa, arr


@pytest.mark.parametrize("contacts", [False, True])
def test_read_finedance(tmp_path, rng, contacts):
    aa, arr = _finedance_array(rng, 12, contacts)
    np.save(tmp_path / "001.npy", arr)
    m = read_finedance_motion(tmp_path / "001.npy")
    assert (m.fps, m.up_axis, m.num_frames) == (30.0, "y", 12)
    # float64 Gram–Schmidt of the 6D rows: ~1e-15 (measured 9e-16); the hand joints are set to the identity
    # (exact), and trans is copied (exact)
    np.testing.assert_allclose(m.rotmat[:, :22], axis_angle_to_matrix(aa[:, :22]), atol=1e-12)
    np.testing.assert_allclose(m.rotmat[:, 22:], np.broadcast_to(np.eye(3), (12, 2, 3, 3)), atol=1e-15)
    np.testing.assert_array_equal(m.trans, arr[:, 4:7] if contacts else arr[:, :3])


def test_finedance_writer_round_trip(tmp_path):
    m = synthetic_motion(seconds=1.0, fps=30, seed=4)
    for contacts in (False, True):
        write_finedance_npy(m, tmp_path / "x.npy", with_contacts=contacts)
        back = read_finedance_motion(tmp_path / "x.npy")
        np.testing.assert_allclose(back.joints(), m.joints(), atol=1e-5)  # float32 on disk (a cast, CPU-independent): measured 1.8e-8 m


def test_finedance_directory_import(tmp_path, rng):
    src = tmp_path / "motion"
    src.mkdir()
    for seq in ("001", "063", "116", "120"):
        np.save(src / f"{seq}.npy", _finedance_array(rng, 30)[1].astype(np.float32))
    np.save(src / "002.npy", np.zeros((30, 300)))
    np.save(src / "003.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(src / "004.npy", np.zeros((30, 315)))  # all-zero 6D: degenerate rotations
    report = import_finedance(src, tmp_path / "out")
    assert sorted(report.converted) == ["001", "063", "120"]
    reasons = {r["file"]: r["reason"] for r in report.rejected}
    assert "excluded by the FineDance cross_genre split" in reasons["116.npy"]
    assert "expected shape (T, 315) or (T, 319), found shape (30, 300)" in reasons["002.npy"]
    assert "never unpickled" in reasons["003.npy"]
    assert "degenerate" in reasons["004.npy"]
    splits = {c.id: c.split for c in report.clips}
    assert splits == {"001": "train", "063": "test", "120": "test"}  # test list wins over ignore list
    none = import_finedance(src, tmp_path / "out2", split="none")
    assert {c.split for c in none.clips} == {None} and "116" in none.converted
    with pytest.raises(ValidationError, match="split: expected"):
        import_finedance(src, tmp_path / "out3", split="random")


def test_finedance_split_schemes():
    assert finedance_split("001", "cross_dancer") == "test"
    assert finedance_split("115", "cross_dancer") == "val"
    assert finedance_split("159", "cross_dancer") == "ignore"
    assert finedance_split("050", "cross_dancer") == "train"
    assert finedance_split("050", "none") is None


def test_imported_motion_is_valid_motion(tmp_path):
    write_aistpp_pkl(synthetic_motion(seconds=0.5, seed=1), tmp_path / "src" / "a.pkl")
    report = import_aistpp(tmp_path / "src", tmp_path / "out")
    assert isinstance(load_motion(tmp_path / "out" / report.clips[0].motion_path), Motion)
    assert report.clips[0].genre is None  # name does not follow the AIST++ pattern
