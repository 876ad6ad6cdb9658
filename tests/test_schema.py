import zipfile

import numpy as np
import pytest

from macedance.errors import DataFormatError, InputNotFoundError, SchemaVersionError, ValidationError
from macedance.motion.rotations import axis_angle_to_matrix
from macedance.schema import Clip, Keypoints2D, Motion, Music
from macedance.schema.npz import SCHEMA_VERSION

from conftest import random_axis_angle


def _motion(rng, T=8, **kw):
    return Motion(random_axis_angle(rng, (T, 24)), rng.normal(size=(T, 3)), 30.0, **kw)


@pytest.mark.parametrize(
    "poses, trans, fps, field, found",
    [
        (np.zeros((5, 22, 3)), np.zeros((5, 3)), 30, "Motion.poses", "shape (5, 22, 3)"),
        (np.zeros((0, 24, 3)), np.zeros((0, 3)), 30, "Motion.poses", "empty"),
        (np.zeros((5, 24, 3)), np.zeros((4, 3)), 30, "Motion.trans", "4 frames"),
        (np.zeros((5, 24, 3)), np.zeros((5, 2)), 30, "Motion.trans", "shape (5, 2)"),
        (np.zeros((5, 24, 3)), np.zeros((5, 3)), 0, "Motion.fps", "0.0"),
        (np.zeros((5, 24, 3)), np.zeros((5, 3)), -30, "Motion.fps", "-30.0"),
        (np.zeros((5, 24, 3)), np.zeros((5, 3)), float("nan"), "Motion.fps", "nan"),
        (np.full((5, 24, 3), np.nan), np.zeros((5, 3)), 30, "Motion.poses", "NaN first at index (0, 0, 0)"),
        (np.zeros((5, 24, 3)), np.array([[0, 0, np.inf]] * 5), 30, "Motion.trans", "Inf"),
        (np.array([["a"] * 3] * 24), np.zeros((5, 3)), 30, "Motion.poses", "dtype <U1"),
    ],
)
def test_motion_validation_names_field_expected_and_found(poses, trans, fps, field, found):
    with pytest.raises(ValidationError) as info:
        Motion(poses, trans, fps)
    msg = str(info.value)
    assert msg.startswith(field + ": expected ") and found in msg
    assert info.value.field == field


def test_motion_up_axis_and_meta_validation():
    with pytest.raises(ValidationError, match="Motion.up_axis: expected one of 'y', 'z', found 'x'"):
        Motion(np.zeros((2, 24, 3)), np.zeros((2, 3)), 30, "x")
    with pytest.raises(ValidationError, match="Motion.meta"):
        Motion(np.zeros((2, 24, 3)), np.zeros((2, 3)), 30, meta={"a": 1})


def test_motion_rotmat_validation(rng):
    R = axis_angle_to_matrix(random_axis_angle(rng, (4, 24)))
    m = Motion.from_rotmat(R, np.zeros((4, 3)), 30)
    np.testing.assert_allclose(m.rotmat, R, atol=1e-12)  # float64 matrix → axis-angle → matrix: measured 7e-16
    bad = R.copy()
    bad[2, 5] *= 1.01  # scaled: not orthonormal (error 0.02, vs ~1e-15 for valid rotations)
    with pytest.raises(ValidationError, match=r"Motion.rotmat: expected orthonormal .* first at frame 2 joint 5"):
        Motion.from_rotmat(bad, np.zeros((4, 3)), 30)
    reflect = R.copy()
    reflect[1, 0] = -reflect[1, 0]  # det −1
    with pytest.raises(ValidationError, match="frame 1 joint 0"):
        Motion.from_rotmat(reflect, np.zeros((4, 3)), 30)
    with pytest.raises(ValidationError, match=r"shape \(T, 24, 3, 3\)"):
        Motion.from_rotmat(R[..., :2], np.zeros((4, 3)), 30)


def test_motion_rot6d_round_trip_and_degenerate(rng):
    m = _motion(rng)
    back = Motion.from_rot6d(m.rot6d, m.trans, m.fps)
    np.testing.assert_allclose(back.rotmat, m.rotmat, atol=1e-12)  # float64 Gram–Schmidt round trip: measured 7e-16
    with pytest.raises(ValidationError, match="degenerate"):
        Motion.from_rot6d(np.zeros((2, 24, 6)), np.zeros((2, 3)), 30)


def test_motion_is_immutable(rng):
    m = _motion(rng)
    with pytest.raises(ValueError):
        m.poses[0, 0, 0] = 1.0


def test_motion_npz_round_trip(tmp_path, rng):
    m = _motion(rng, up_axis="z", betas=np.arange(10.0), meta={"source": "x.pkl"})
    path = m.save(tmp_path / "m.npz")
    back = Motion.load(path)
    np.testing.assert_array_equal(back.poses, m.poses)  # .npz stores the float64 bytes: exact
    np.testing.assert_array_equal(back.trans, m.trans)
    np.testing.assert_array_equal(back.betas, m.betas)
    assert (back.fps, back.up_axis, back.meta) == (30.0, "z", {"source": "x.pkl"})
    with np.load(path, allow_pickle=False) as z:
        assert int(z["schema_version"]) == SCHEMA_VERSION and str(z["kind"]) == "motion"
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


def test_npz_errors(tmp_path, rng):
    m = _motion(rng)
    with pytest.raises(InputNotFoundError):
        Motion.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "newer.npz", schema_version=SCHEMA_VERSION + 1, kind="motion")
    with pytest.raises(SchemaVersionError, match="schema_version 2 is not supported"):
        Motion.load(tmp_path / "newer.npz")
    np.savez(tmp_path / "plain.npz", poses=m.poses)
    with pytest.raises(DataFormatError, match="no 'schema_version' key"):
        Motion.load(tmp_path / "plain.npz")
    np.savez(tmp_path / "obj.npz", schema_version=1, kind="motion", poses=np.array([None, {}], dtype=object))
    with pytest.raises(DataFormatError, match="never loaded"):
        Motion.load(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(DataFormatError, match="not a readable .npz"):
        Motion.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "nan.npz", schema_version=1, kind="motion", poses=np.full((2, 24, 3), np.nan),
             trans=np.zeros((2, 3)), fps=30.0, up_axis="y")
    with pytest.raises(ValidationError, match=r"nan\.npz: Motion\.poses: expected finite values"):
        Motion.load(tmp_path / "nan.npz")
    kp = Keypoints2D(np.ones((3, 17, 3)), "coco17", (640, 480), 30)
    kp.save(tmp_path / "kp.npz")
    with pytest.raises(DataFormatError, match="expected a motion file, found kind 'keypoints2d'"):
        Motion.load(tmp_path / "kp.npz")
    with pytest.raises(ValidationError, match="ending in .npz"):
        m.save(tmp_path / "m.npy")
    assert zipfile.is_zipfile(tmp_path / "kp.npz")


def test_keypoints(tmp_path):
    data = np.random.default_rng(0).uniform(0, 1, size=(5, 25, 3))
    kp = Keypoints2D(data, "vitpose25", (1280, 720), 30.0, meta={"backend": "test"})
    assert kp.index("neck") == 5 and kp.index("hip") == 14
    back = Keypoints2D.load(kp.save(tmp_path / "k.npz"))
    np.testing.assert_array_equal(back.data, kp.data)  # stored bytes: exact
    assert (back.skeleton, back.image_size, back.fps, back.meta) == ("vitpose25", (1280, 720), 30.0, {"backend": "test"})
    assert kp[1:3].num_frames == 2
    assert Keypoints2D(np.zeros((1, 33, 3)), "mediapipe33", (10, 10), 25).index("left_heel") == 29
    with pytest.raises(ValidationError, match="Keypoints2D.skeleton: expected one of 'coco17'"):
        Keypoints2D(data, "openpose18", (1280, 720), 30)
    with pytest.raises(ValidationError, match=r"shape \(T, 17, 3\) for skeleton coco17, found shape \(5, 25, 3\)"):
        Keypoints2D(data, "coco17", (1280, 720), 30)
    with pytest.raises(ValidationError, match="confidences"):
        Keypoints2D(data - 2, "vitpose25", (1280, 720), 30)
    with pytest.raises(ValidationError, match="image_size"):
        Keypoints2D(data, "vitpose25", (0, 720), 30)
    with pytest.raises(ValidationError, match="keypoint name"):
        kp.index("tail")


def test_music_and_clip():
    Music("a.wav", 44100, 3.5)
    with pytest.raises(ValidationError, match="Music.sample_rate"):
        Music("a.wav", 0, 3.5)
    with pytest.raises(ValidationError, match="Music.duration"):
        Music("a.wav", 16000, 0)
    clip = Clip("gBR_x_0", "video.mp4", 1.0, 6.0, motion_path="m/x.npz", genre="Break", split="train",
                provenance={"tool": "x"})
    assert clip.duration == 5.0
    assert Clip.from_dict(clip.to_dict()) == clip
    with pytest.raises(ValidationError, match="Clip.start/end"):
        Clip("a", "v", 5.0, 5.0)
    with pytest.raises(ValidationError, match="Clip.split: expected one of 'train', 'val', 'test', found 'dev'"):
        Clip("a", "v", 0, 1, split="dev")
    with pytest.raises(ValidationError, match="Clip.id"):
        Clip("../etc", "v", 0, 1)
    with pytest.raises(ValidationError, match="unknown keys"):
        Clip.from_dict(clip.to_dict() | {"extra": 1})


def test_sha256_file_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    import hashlib
    import os

    from macedance import fileio

    f = tmp_path / "a.bin"
    f.write_bytes(b"one")
    assert fileio.sha256_file(f) == hashlib.sha256(b"one").hexdigest()
    reads = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: reads.append(a[0]) or real_open(*a, **k))
    assert fileio.sha256_file(f) == hashlib.sha256(b"one").hexdigest() and reads == []  # remembered: not read again
    f.write_bytes(b"two")  # same size, new content and modification time
    os.utime(f, ns=(1, 2))
    assert fileio.sha256_file(f) == hashlib.sha256(b"two").hexdigest() and len(reads) == 1
