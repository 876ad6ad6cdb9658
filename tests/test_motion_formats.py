"""Published methods' native motion files: detection, reading (round trips to 1e-6), forcing a format, the errors,
the benchmark's folder method, and `eval motion` on a folder of EDGE pickles.

Files are written here exactly as the original code writes them (plain ``pickle.dump`` of numpy arrays, ``np.save``,
scipy rotation matrices), and ``tests/parity/formats`` holds files written by the original EDGE, FineDance and LODGE
code (see the README there)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from macedance.cli import app
from macedance.datasets.synthetic import synthetic_motion
from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError, UnsafePickleError, ValidationError
from macedance.io.motion_formats import MOTION_FORMATS, detect_format, find_clip_file, read_motion, read_motion_file
from macedance.methods.registry import FolderMethod
from macedance.motion.skeleton import SMPL_PARENTS, builtin_skeleton
from macedance.safe_pickle import safe_load_pickle

FIXTURES = Path(__file__).parent / "parity" / "formats"
runner = CliRunner()


def _edge_fk(aa: np.ndarray, root: np.ndarray) -> np.ndarray:
    """EDGE's ``SMPLSkeleton.forward`` (vis.py): pelvis at ``root``, each joint = parent + parent's world rotation · offset;
    the offsets are EDGE's ``smpl_offsets`` (the built-in skeleton's bones)."""
    offsets = builtin_skeleton().offsets
    pos = np.zeros(aa.shape[:2] + (3,))
    world: list[Rotation] = []
    for j, p in enumerate(SMPL_PARENTS):
        r = Rotation.from_rotvec(np.array(aa[:, j]))
        if p < 0:
            pos[:, 0], rot = root, r
        else:
            pos[:, j], rot = pos[:, p] + world[p].apply(offsets[j]), world[p] * r
        world.append(rot)
    return pos


def _motion(seed: int = 0, fps: float = 30.0, up: str = "y"):
    m = synthetic_motion(seconds=1.0, fps=fps, seed=seed)
    return m.to_up_axis(up)


def _pkl(path: Path, data: dict) -> Path:
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return path


def _rot6d(aa: np.ndarray) -> np.ndarray:
    """pytorch3d ``matrix_to_rotation_6d``: the first two rows of each matrix."""
    return Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix()[:, :2, :].reshape(aa.shape[:-1] + (6,))


def _edge_pkl(path: Path, m) -> Path:
    pelvis = m.joints()[:, 0]
    return _pkl(path, {"smpl_poses": m.poses.reshape(-1, 72), "smpl_trans": pelvis, "full_pose": _edge_fk(m.poses, pelvis)})


# ----- files written by the original code ------------------------------------------------------------------------------
def test_real_edge_output_joints_equal_its_full_pose():
    path = FIXTURES / "edge_test_gBR_sBM_cAll_d04_mBR0_ch01.pkl"
    raw = safe_load_pickle(path)
    f = read_motion_file(path)
    assert (f.format, f.fps, f.up_axis, f.motion.num_frames) == ("edge", 30.0, "z", 40)
    np.testing.assert_array_equal(f.motion.poses.reshape(-1, 72), raw["smpl_poses"])
    np.testing.assert_allclose(f.positions(), raw["full_pose"], atol=2e-6)  # EDGE's float32 FK
    np.testing.assert_allclose(f.positions()[:, 0], raw["smpl_trans"], atol=1e-6)  # EDGE's pelvis is at smpl_trans


@pytest.mark.parametrize(("name", "cols"), [("finedance_319.npy", slice(None)), ("lodge_139.npy", slice(None)),
                                             ("finedance_319.npy", slice(4, None))])  # the 315 layout: FineDance's motion/*.npy
def test_real_finedance_and_lodge_arrays(tmp_path, name, cols):
    path = tmp_path / "x.npy"
    np.save(path, np.load(FIXTURES / name)[:, cols])
    inputs = np.load(FIXTURES / "finedance_inputs.npz")
    f = read_motion_file(path)
    assert (f.format, f.fps, f.up_axis) == ("finedance", 30.0, "y")
    expected = Rotation.from_rotvec(inputs["axis_angle"][:, :22].reshape(-1, 3).astype(np.float64)).as_matrix().reshape(-1, 22, 3, 3)
    np.testing.assert_allclose(f.motion.rotmat[:, :22], expected, atol=1e-6)
    # SMPL's hand joints are written as the 6D (1,0,0, 0,1,0): Gram–Schmidt of exact unit vectors gives the identity
    # bit for bit (no rounding anywhere, on any CPU); the root is a float32 → float64 copy of the file: exact too
    np.testing.assert_allclose(f.motion.rotmat[:, 22:], np.broadcast_to(np.eye(3), (24, 2, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(f.motion.trans, inputs["root"], atol=1e-7)


def test_real_finedance_generator_pickle():
    path = FIXTURES / "finedance_test_063.pkl"
    raw = safe_load_pickle(path)
    f = read_motion_file(path)
    assert (f.format, f.fps, f.up_axis, f.motion.num_frames) == ("finedance-pkl", 30.0, "y", 18)
    # the reader copies the pickle's axis-angles and translation (float32 → float64, no arithmetic): exact on any CPU
    np.testing.assert_allclose(f.motion.poses[:, :22], raw["smpl_poses"].reshape(18, 52, 3)[:, :22], atol=1e-7)
    np.testing.assert_allclose(f.motion.trans, raw["smpl_trans"], atol=1e-7)


# ----- round trips: a known motion written in each layout reads back equal ----------------------------------------------
# The round trips run in float64 with elementwise operations and per-frame 3×3 products (numpy loops, no threaded BLAS
# reductions): differences are a few ulp of metre-scale values (~1e-15), the same on any CPU and thread count, so 1e-9
# (positions, rotations) and 1e-12 (copied values: translations, axis-angles) leave 10³–10⁶ of room.
def test_edge_round_trip_in_z_up(tmp_path):
    m = _motion(1, up="z")
    path = _edge_pkl(tmp_path / "a.pkl", m)
    f = read_motion_file(path)
    assert (f.format, f.fps, f.up_axis) == ("edge", 30.0, "z")
    np.testing.assert_allclose(f.positions(), safe_load_pickle(path)["full_pose"], atol=1e-9)  # our FK = EDGE's FK
    np.testing.assert_allclose(f.positions(), m.joints(), atol=1e-9)
    np.testing.assert_allclose(f.motion.trans, m.trans, atol=1e-12)
    # another rest skeleton still puts the pelvis at smpl_trans
    skel = builtin_skeleton()
    other = type(skel)(skel.joints * 1.1, name="bigger")
    np.testing.assert_allclose(read_motion_file(path, skeleton=other).positions(other)[:, 0], m.joints()[:, 0], atol=1e-9)


@pytest.mark.parametrize("width", [319, 315, 139, 135])
def test_finedance_round_trip(tmp_path, width):
    m = _motion(2)
    T = m.num_frames
    joints = 52 if width in (315, 319) else 22
    aa = np.concatenate([m.poses[:, :22], np.random.default_rng(0).uniform(-0.5, 0.5, (T, joints - 22, 3))], 1)
    cols = [m.trans, _rot6d(aa).reshape(T, -1)]
    if width in (139, 319):
        cols.insert(0, np.ones((T, 4)))
    np.save(tmp_path / "a.npy", np.concatenate(cols, 1))
    f = read_motion_file(tmp_path / "a.npy")
    assert f.format == "finedance" and (f.fps, f.up_axis) == (30.0, "y")
    np.testing.assert_allclose(f.motion.rotmat[:, :22], m.rotmat[:, :22], atol=1e-9)
    np.testing.assert_allclose(f.positions()[:, :22], m.joints()[:, :22], atol=1e-9)  # the hands are leaves: 22, 23 follow the wrists


@pytest.mark.parametrize("shape", ["flat", "joints"])
def test_finedance_pickle_round_trip(tmp_path, shape):
    m = _motion(3)
    aa = np.concatenate([m.poses[:, :22], np.zeros((m.num_frames, 30, 3))], 1)
    _pkl(tmp_path / "a.pkl", {"smpl_poses": aa.reshape(m.num_frames, -1) if shape == "flat" else aa, "smpl_trans": m.trans})
    f = read_motion_file(tmp_path / "a.pkl")
    assert f.format == "finedance-pkl"
    np.testing.assert_allclose(f.motion.poses[:, :22], m.poses[:, :22], atol=1e-12)
    _pkl(tmp_path / "b.pkl", {"smpl_poses": m.poses[:, :22].reshape(m.num_frames, 66), "smpl_trans": m.trans})  # LODGE: 22 joints
    assert read_motion_file(tmp_path / "b.pkl").format == "finedance-pkl"


@pytest.mark.parametrize("scaling", [None, 93.5])
def test_aistpp_pickle_with_and_without_scaling(tmp_path, scaling):
    m = _motion(4, fps=60.0)
    data = {"smpl_poses": m.poses.reshape(-1, 72), "smpl_trans": m.trans * (scaling or 1.0)}
    if scaling:
        data["smpl_scaling"] = np.array([scaling])
    f = read_motion_file(_pkl(tmp_path / "a.pkl", data))
    assert (f.format, f.fps, f.up_axis) == ("aistpp", 60.0, "y")
    np.testing.assert_allclose(f.motion.trans, m.trans, atol=1e-12)
    np.testing.assert_allclose(f.positions(), m.joints(), atol=1e-9)
    # Bailando++ writes smpl_poses as (T, 24, 3)
    _pkl(tmp_path / "b.pkl", {"smpl_poses": m.poses, "smpl_trans": m.trans})
    np.testing.assert_allclose(read_motion_file(tmp_path / "b.pkl").positions(), m.joints(), atol=1e-9)


def test_fact_array(tmp_path):
    m = _motion(5, fps=60.0)
    R = Rotation.from_rotvec(np.array(m.poses).reshape(-1, 3)).as_matrix().reshape(m.num_frames, -1)  # mint tools/preprocessing.py
    arr = np.concatenate([np.zeros((m.num_frames, 6)), m.trans, R], 1)  # inputs_util.py pads 6 columns in front
    np.save(tmp_path / "a.npy", arr)
    f = read_motion_file(tmp_path / "a.npy")
    assert (f.format, f.fps, f.up_axis) == ("fact", 60.0, "y")
    np.testing.assert_allclose(f.positions(), m.joints(), atol=1e-9)
    arr[:, 9:] += np.random.default_rng(1).normal(0, 1e-3, arr[:, 9:].shape)  # network output: not exactly rotations
    np.save(tmp_path / "b.npy", arr)
    np.testing.assert_allclose(read_motion_file(tmp_path / "b.npy").positions(), m.joints(), atol=2e-2)


def test_smplx_npz_layouts(tmp_path):
    m = _motion(6, up="z")
    T = m.num_frames
    extra = np.random.default_rng(2).uniform(-0.3, 0.3, (T, 33, 3))  # jaw, eyes, fingers
    np.savez(tmp_path / "amass.npz", poses=np.concatenate([m.poses[:, :22], extra], 1).reshape(T, 165), trans=m.trans,
             mocap_frame_rate=np.array(120.0), betas=np.zeros(16), gender=np.array("neutral"))
    f = read_motion_file(tmp_path / "amass.npz")
    assert (f.format, f.fps, f.up_axis) == ("smplx", 120.0, "z")  # stored rate wins, AMASS is z-up
    np.testing.assert_allclose(f.motion.poses[:, :22], m.poses[:, :22], atol=1e-12)
    np.testing.assert_allclose(f.positions()[:, :22], m.joints()[:, :22], atol=1e-9)
    np.savez(tmp_path / "split.npz", global_orient=m.poses[:, 0], body_pose=m.poses[:, 1:22].reshape(T, 63), transl=m.trans)
    with pytest.raises(ValidationError, match="split.npz: fps: expected a frame rate"):
        read_motion_file(tmp_path / "split.npz")
    f = read_motion_file(tmp_path / "split.npz", fps=30)
    assert (f.format, f.fps, f.up_axis) == ("smplx", 30.0, "y")
    np.testing.assert_allclose(f.motion.poses[:, :22], m.poses[:, :22], atol=1e-12)


def test_our_files_and_plain_joints_as_before(tmp_path):
    m = _motion(7)
    m.save(tmp_path / "a.npz")
    f = read_motion_file(tmp_path / "a.npz", fps=99, up_axis="z")  # stored values win
    assert (f.format, f.fps, f.up_axis) == ("macedance", 30.0, "y")
    np.save(tmp_path / "j.npy", m.joints().reshape(m.num_frames, 72))
    with pytest.raises(ValidationError, match="fps/up_axis"):
        read_motion_file(tmp_path / "j.npy")
    f = read_motion_file(tmp_path / "j.npy", fps=30, up_axis="y")
    assert f.format == "joints" and np.allclose(f.positions(), m.joints())


# ----- detection, forcing, overrides, errors --------------------------------------------------------------------------
def test_detection_and_forcing(tmp_path):
    m = _motion(8, up="z")
    _pkl(tmp_path / "nofull.pkl", {"smpl_poses": m.poses.reshape(-1, 72), "smpl_trans": m.joints()[:, 0]})
    assert detect_format(tmp_path / "nofull.pkl") == "aistpp"  # without full_pose an EDGE pickle looks like AIST++
    f = read_motion_file(tmp_path / "nofull.pkl", motion_format="edge")
    assert (f.format, f.fps, f.up_axis) == ("edge", 30.0, "z")
    np.testing.assert_allclose(f.positions(), m.joints(), atol=1e-9)
    g = read_motion_file(tmp_path / "nofull.pkl", fps=24, up_axis="y")  # overrides of the documented rate and up axis
    assert (g.format, g.fps, g.up_axis) == ("aistpp", 24.0, "y")
    np.save(tmp_path / "w225.npy", np.zeros((10, 225)))
    assert detect_format(tmp_path / "w225.npy") == "fact"
    assert read_motion_file(tmp_path / "w225.npy", motion_format="joints", fps=30, up_axis="y").positions().shape == (10, 75, 3)
    with pytest.raises(DataFormatError, match=r"w225.npy: format edge reads \.pkl files, not \.npy"):
        read_motion_file(tmp_path / "w225.npy", motion_format="edge")
    with pytest.raises(ValidationError, match="motion_format: expected one of"):
        read_motion_file(tmp_path / "w225.npy", motion_format="bvh")


def test_error_messages_name_the_file_the_key_and_the_layouts(tmp_path):
    _pkl(tmp_path / "odd.pkl", {"pos": np.zeros((5, 3)), "q": np.zeros((5, 72))})
    with pytest.raises(DataFormatError) as e:
        read_motion_file(tmp_path / "odd.pkl")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{tmp_path / 'odd.pkl'}: unknown motion layout")
    assert "'pos': (5, 3)" in msg and "edge (EDGE, MACE-Dance, POPDG): {smpl_poses (T,72)" in msg and "finedance-pkl" in msg and "aistpp" in msg
    _pkl(tmp_path / "bad.pkl", {"smpl_poses": np.zeros((10, 70)), "smpl_trans": np.zeros((10, 3)), "full_pose": np.zeros((10, 24, 3))})
    with pytest.raises(ValidationError, match=r"bad.pkl: smpl_poses: expected shape \(N, 72\) or \(N, 24, 3\), found shape \(10, 70\)"):
        read_motion_file(tmp_path / "bad.pkl")
    _pkl(tmp_path / "short.pkl", {"smpl_poses": np.zeros((10, 72)), "smpl_trans": np.zeros((9, 3)), "full_pose": np.zeros((10, 24, 3))})
    with pytest.raises(ValidationError, match=r"short.pkl: smpl_trans: expected 10 frames \(as the rotations\), found 9 frames"):
        read_motion_file(tmp_path / "short.pkl")
    _pkl(tmp_path / "full.pkl", {"smpl_poses": np.zeros((10, 72)), "smpl_trans": np.zeros((10, 3)), "full_pose": np.zeros((10, 22, 3))})
    with pytest.raises(ValidationError, match=r"full.pkl: full_pose: expected numeric shape \(10, 24, 3\)"):
        read_motion_file(tmp_path / "full.pkl")
    _pkl(tmp_path / "forced.pkl", {"smpl_poses": np.zeros((10, 72))})
    with pytest.raises(DataFormatError, match=r"forced.pkl: missing key\(s\) \['smpl_trans'\]"):
        read_motion_file(tmp_path / "forced.pkl", motion_format="edge")
    np.save(tmp_path / "obj.npy", np.array({"positions": np.zeros((5, 72))}, dtype=object), allow_pickle=True)
    with pytest.raises(DataFormatError, match="obj.npy: an np.save'd dict; the only pickled layout read is Bailando's"):
        read_motion_file(tmp_path / "obj.npy")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"smpl_poses": Evil()}))
    with pytest.raises(UnsafePickleError, match="refused"):
        read_motion_file(tmp_path / "evil.pkl")


# ----- output folders: file names and the benchmark's folder method --------------------------------------------------
def test_clip_file_names(tmp_path):
    (tmp_path / "a.pkl").write_bytes(b"")
    (tmp_path / "test_b.pkl").write_bytes(b"")
    (tmp_path / "test_x_b.pkl").write_bytes(b"")  # the label has no underscore: this is clip x_b
    assert find_clip_file(tmp_path, "a") == tmp_path / "a.pkl"
    assert find_clip_file(tmp_path, "b") == tmp_path / "test_b.pkl"
    assert find_clip_file(tmp_path, "x_b") == tmp_path / "test_x_b.pkl"
    with pytest.raises(InputNotFoundError, match="no output for clip c"):
        find_clip_file(tmp_path, "c")
    (tmp_path / "a.npz").write_bytes(b"")
    with pytest.raises(MaceDanceError, match=r"several outputs for clip a \(a.npz, a.pkl\)"):
        find_clip_file(tmp_path, "a")


def test_folder_method_reads_native_outputs(tmp_path):
    m = _motion(9, up="z")
    _edge_pkl(tmp_path / "test_clip1.pkl", m)
    np.save(tmp_path / "clip2.npy", m.joints().reshape(m.num_frames, 72))
    method = FolderMethod(tmp_path)
    got = method.generate(Path("music.wav"), None, 0, None, "clip1")
    assert (got.fps, got.up_axis, got.meta["source_format"]) == (30.0, "z", "edge")
    # float64 FK of the same float64 rotations, per-frame 3×3 products in numpy loops (no threaded BLAS reduction):
    # a few ulp of metre-scale positions (~1e-15) on any CPU and thread count, as the round trips above
    np.testing.assert_allclose(got.joints(), m.joints(), atol=1e-9)  # float64 FK, no BLAS reduction: ~1e-15 on any CPU/threads
    with pytest.raises(DataFormatError, match="clip2.npy: holds joint positions only"):
        method.generate(Path("music.wav"), None, 0, None, "clip2")
    forced = FolderMethod(tmp_path, motion_format="aistpp")
    assert forced.meta.version != method.meta.version  # the benchmark's cache is not reused across formats
    assert forced.generate(Path("music.wav"), None, 0, None, "clip1").fps == 60.0


# ----- the command line ------------------------------------------------------------------------------------------------
def test_eval_motion_on_edge_pickles_equals_the_same_motions_as_npz(tmp_path):
    music = tmp_path / "music"
    for d in ("edge", "npz", "gt", "music"):
        (tmp_path / d).mkdir()
    for s in range(4):
        m = synthetic_motion(seconds=3.0, fps=30.0, seed=s).to_up_axis("z")
        _edge_pkl(tmp_path / "edge" / f"test_clip{s}.pkl", m)  # EDGE's long-mode name: <label>_<song>.pkl
        m.save(tmp_path / "npz" / f"clip{s}.npz")
        np.save(music / f"clip{s}.npy", np.arange(0.25, 3.0, 0.5))
    for s in range(10, 15):
        synthetic_motion(seconds=3.0, fps=30.0, seed=s).save(tmp_path / "gt" / f"g{s}.npz")
    scores = {}
    for d in ("edge", "npz"):
        out = tmp_path / f"{d}.json"
        r = runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / d), "--gt", str(tmp_path / "gt"), "--music", str(music),
                                "--json", str(out)])
        assert r.exit_code == 0, r.output
        rec = json.loads(out.read_text())
        assert rec["inputs"]["evaluated"] == {"pred": 4, "gt": 5} and not rec["inputs"]["skipped"]
        scores[d] = {k: v["value"] for k, v in rec["scores"].items()}
    assert scores["edge"]["bas"] is not None  # the music of test_clip0.pkl is clip0.npy
    assert scores["edge"].keys() == scores["npz"].keys()
    for k, v in scores["npz"].items():
        # the inputs differ only by float64 rounding of the pelvis offset (~1e-16 m); FID's matrix square root can
        # amplify that on ill-conditioned 4-sample covariances and BLAS builds differ: 1e-6 relative bounds it anywhere
        assert scores["edge"][k] == (None if v is None else pytest.approx(v, rel=1e-6, abs=1e-9)), k


def test_cli_format_option(tmp_path):
    import typer.main

    cmd = typer.main.get_command(app)
    helps = [next(p.help for p in cmd.commands[g].commands[c].params if p.name == "motion_format") for g, c in (("eval", "motion"), ("bench", "run"))]
    assert all(f in helps[0] for f in MOTION_FORMATS) and all(f in helps[1] for f in MOTION_FORMATS if f != "joints")
    (tmp_path / "p").mkdir()
    _pkl(tmp_path / "p" / "odd.pkl", {"pos": np.zeros((5, 3))})
    r = runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / "p"), "--gt", str(tmp_path / "p"), "--format", "bvh"])
    assert r.exit_code == 2 and "--format: expected one of 'auto'" in r.stderr
    r = runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / "p"), "--gt", str(tmp_path / "p")])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:") and f"{tmp_path / 'p' / 'odd.pkl'}: unknown motion layout" in lines[0]
    r = runner.invoke(app, ["bench", "run", "--task", "madata-motion", "--method", "mace-dance", "--data", str(tmp_path), "--format", "edge"])
    assert r.exit_code == 2 and "--format: expected auto unless --method folder" in r.stderr


def test_read_motion_refuses_joint_arrays(tmp_path):
    np.save(tmp_path / "j.npy", np.zeros((5, 72)))
    with pytest.raises(DataFormatError, match="joint positions only"):
        read_motion(tmp_path / "j.npy")
