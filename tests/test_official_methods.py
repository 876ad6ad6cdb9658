"""Released methods through the CLI and the benchmark: `generate motion --method`, `bench methods`, `bench run`,
`weights import` of released checkpoints (fixtures: the original code's own checkpoints, see test_official_mace.py)."""

import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from macedance.cli import app

PARITY = Path(__file__).parent / "parity"
MACE, EDGE = PARITY / "mace_official_tiny.pt", PARITY / "edge_official_tiny.pt"
pytestmark = pytest.mark.usefixtures("one_torch_thread")




@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_generate_motion_with_released_checkpoints(tmp_path, cache):
    feats = tmp_path / "song.npy"
    np.save(feats, np.random.default_rng(0).standard_normal((64, 35)).astype(np.float32))
    r = CliRunner().invoke(app, ["generate", "motion", "--method", "mace-dance-official", "--ckpt", str(MACE), "--music", str(feats),
                                 "--out", str(tmp_path / "m.pkl"), "--genre", "Popping", "--seconds", "2"])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "m.pkl", "rb") as f:
        d = pickle.load(f)
    assert d["smpl_poses"].shape == (60, 72) and d["full_pose"].shape == (60, 24, 3)
    r = CliRunner().invoke(app, ["generate", "motion", "--method", "edge-official", "--ckpt", str(EDGE), "--music", str(feats),
                                 "--out", str(tmp_path / "e.npz")])
    assert r.exit_code == 0, r.output
    from macedance.schema import load_motion

    assert load_motion(tmp_path / "e.npz").num_frames == 64  # windows of 20 frames at stride 10 covering all 64 (the last padded)
    r = CliRunner().invoke(app, ["generate", "motion", "--method", "mace-dance-official", "--ckpt", str(MACE), "--music", str(feats),
                                 "--out", str(tmp_path / "x.pkl"), "--weights", "best"])
    assert r.exit_code != 0 and "--weights" in r.output and "model, ema" in r.output
    r = CliRunner().invoke(app, ["generate", "motion", "--method", "mace-dance-official", "--music", str(feats), "--out", str(tmp_path / "x.pkl")])
    assert r.exit_code != 0 and "weights import mace-dance-motion" in r.output


def test_weights_import_records_sha256_and_serves_the_method(tmp_path, cache):
    """`macedance weights import` calls import_weights (the CLI's name lookup of these entries: test_video's pinned list)."""
    import hashlib

    import macedance.methods.official.weights  # noqa: F401  (declares the entries)
    from macedance.errors import DataFormatError
    from macedance.methods.official.released import build_released
    from macedance.weights import import_weights, manifest

    import_weights("mace-dance-motion", MACE)
    m = manifest("mace-dance-motion")
    assert m["source_sha256"] == hashlib.sha256(MACE.read_bytes()).hexdigest()
    feats = tmp_path / "song.npy"
    np.save(feats, np.zeros((40, 35), np.float32))
    a = build_released("mace-dance-official", None, num_heads=2).generate(feats, seconds=None, seed=1, genre=None)
    b = build_released("mace-dance-official", MACE, num_heads=2).generate(feats, seconds=None, seed=1, genre=None)
    np.testing.assert_array_equal(a.poses, b.poses)  # the converted file holds the same tensors
    cut = tmp_path / "cut.pt"
    cut.write_bytes(EDGE.read_bytes()[:1000])
    with pytest.raises(DataFormatError, match="cut.pt") as info:
        import_weights("edge", cut)
    assert "\n" not in str(info.value)
    with pytest.raises(DataFormatError, match="EDGE DanceDecoder"):  # the wrong method's checkpoint
        import_weights("edge", MACE)


def test_bench_methods_lists_released_metadata():
    r = CliRunner().invoke(app, ["bench", "methods"])
    assert r.exit_code == 0, r.output
    for text in ("mace-dance-official", "edge-official", "Released checkpoints", "cc-by-4.0", "Jukebox", "8f92d12", "17c3428"):
        assert text in r.output


def test_train_refuses_a_released_method(tmp_path):
    r = CliRunner().invoke(app, ["train", "motion", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--method", "edge-official"])
    assert r.exit_code != 0 and "trainable" in r.output


def test_speed_options_reach_the_sampler(tmp_path):
    feats = tmp_path / "song.npy"
    np.save(feats, np.zeros((40, 35), np.float32))
    r = CliRunner().invoke(app, ["generate", "motion", "--method", "mace-dance-official", "--ckpt", str(MACE), "--music", str(feats),
                                 "--out", str(tmp_path / "m.npz"), "--cuda-graph"])
    assert r.exit_code != 0 and "--cuda-graph" in r.output and "CUDA" in r.output  # validated by the sampler on CPU
    r = CliRunner().invoke(app, ["generate", "motion", "--method", "mace-dance-official", "--ckpt", str(MACE), "--music", str(feats),
                                 "--out", str(tmp_path / "m.npz"), "--compile", "fastest"])
    assert r.exit_code != 0 and "--compile" in r.output
