"""``fact-official`` as a method: the released TF checkpoint (the tiny bundle the original code saved, see
test_official_fact.py) with its sizes read from the tensors, the ground-truth seed, the official array, ``weights
import``, ``generate motion`` and ``bench run``."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from macedance.cli import app
from macedance.errors import DataFormatError, ValidationError
from macedance.io.motion_formats import read_motion_file
from macedance.io.motion_layouts import fact_motion
from macedance.io.tf_checkpoint import is_model_variable, read_tf_checkpoint, tf_variable_paths
from macedance.methods.official import fact as fact_method
from macedance.methods.official.fact import ReleasedFACT, fact_seed, infer_fact_config
from macedance.models.official.fact import fact_generate
from macedance.schema import Joints3D, Motion, load_generated

from conftest import parity_arrays, random_axis_angle, tiny_aistpp

pytestmark = pytest.mark.usefixtures("one_torch_thread")
runner = CliRunner()
CKPT = str(Path(__file__).parent / "parity" / "fact_tiny_ckpt")


@pytest.fixture(autouse=True)
def _env(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setattr(fact_method, "RELEASED_HEADS", 2)  # the tiny model's head count (the released one has 10)


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    path = tmp_path_factory.mktemp("music") / "song.npy"
    np.save(path, np.random.default_rng(2).normal(size=(40, 35)).astype(np.float32))
    return path


def _motion(frames=20, seed=0):
    rng = np.random.default_rng(seed)
    return Motion(random_axis_angle(rng, (frames, 24), 0.5), rng.normal(scale=0.1, size=(frames, 3)), 60.0, "y")


def test_sizes_come_from_the_tensors():
    record = json.loads(str(parity_arrays("fact_official_tiny")["record_json"]))["tiny"]
    cfg = infer_fact_config(tf_variable_paths(read_tf_checkpoint(CKPT, keep=is_model_variable)), num_heads=2, source=CKPT)
    assert (cfg.motion_length, cfg.audio_length, cfg.cross.hidden_size, cfg.cross.intermediate_size) == (
        record["motion_length"], record["audio_length"], record["hidden"], record["intermediate"])
    assert (cfg.motion.num_hidden_layers, cfg.audio.num_hidden_layers, cfg.cross.num_hidden_layers) == (
        record["motion_layers"], record["audio_layers"], record["cross_layers"])
    with pytest.raises(DataFormatError, match="not a FACT checkpoint"):
        infer_fact_config({}, source="x")


def test_generation_is_the_official_eval(music):
    m = ReleasedFACT(CKPT)
    gt = _motion()
    out, arrays = m.generate_file(music, seconds=None, seed=0, genre=None, seed_motion=gt)
    seed = fact_seed(gt, 8)
    assert np.array_equal(seed[:, :6], np.zeros((8, 6))) and np.allclose(seed[:, 6:9], gt.trans[:8])
    gen = fact_generate(m.model, motion_seed=torch.from_numpy(seed[None]), audio=torch.from_numpy(np.load(music)[None]), steps=40)
    expected = np.concatenate([seed, gen[0].numpy()])  # evaluator: concat([motion_input, outputs])
    assert len(expected) == 8 + 40 - 12 + 1 and np.array_equal(arrays["npy"], expected)
    ref = fact_motion(expected, source="x")
    assert out.fps == 60.0 and out.up_axis == "y" and np.array_equal(out.poses, ref.poses) and np.array_equal(out.trans, ref.trans)
    assert np.allclose(out.rotmat[:8], gt.rotmat[:8], atol=1e-6)  # the seed frames come first (float32 matrices)
    short = m.generate(music, seconds=1.0, seed=0, genre=None, seed_motion=gt)  # 60 frames asked, 37 possible
    assert short.num_frames == 37 and short.meta["frames_short_of_request"] == "23"
    with pytest.raises(ValidationError, match="seed motion"):
        m.generate(music, seconds=None, seed=0, genre=None)
    with pytest.raises(ValidationError, match="joint positions only"):
        m.generate(music, seconds=None, seed=0, genre=None, seed_motion=Joints3D(np.zeros((20, 24, 3)), 60.0))
    with pytest.raises(ValidationError, match="at least 8 frames"):
        m.generate(music, seconds=None, seed=0, genre=None, seed_motion=_motion(frames=4))


def test_weights_import_cli_and_official_array(music, tmp_path):
    gt = _motion().save(tmp_path / "gt.npz")
    r = runner.invoke(app, ["weights", "import", "fact", f"{CKPT}/ckpt-1.index"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["generate", "motion", "--method", "fact-official", "--music", str(music), "--seed-motion", str(gt),
                            "--out", str(tmp_path / "a.npy")])
    assert r.exit_code == 0, r.output
    direct = ReleasedFACT(CKPT).generate_file(music, seconds=None, seed=0, genre=None, seed_motion=load_generated(gt))[1]["npy"]
    assert np.array_equal(np.load(tmp_path / "a.npy"), direct)  # the converted weights are the checkpoint's
    assert read_motion_file(tmp_path / "a.npy").format == "fact"
    r = runner.invoke(app, ["generate", "motion", "--method", "fact-official", "--music", str(music), "--seed-motion", str(gt),
                            "--out", str(tmp_path / "a.pkl")])
    assert r.exit_code == 2 and "a .npy file" in r.output
    r = runner.invoke(app, ["generate", "motion", "--method", "fact-official", "--music", str(music), "--first-tokens", "demo",
                            "--out", str(tmp_path / "b.npz")])
    assert r.exit_code == 2 and "--first-tokens: expected only with --method bailando-official" in r.output


def test_bench_run(tmp_path):
    from macedance.benchmark.records import load_record
    data, audio = tiny_aistpp(tmp_path, seconds=2)
    r = runner.invoke(app, ["bench", "run", "--task", "madata-motion", "--method", "fact-official", "--ckpt", CKPT,
                            "--data", str(data), "--music", str(audio), "--out", str(tmp_path / "res"), "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    rec = load_record(next((tmp_path / "res").glob("*.json")))
    assert rec["method"]["licence"].startswith("code: Apache-2.0") and "motion-seed" in rec["method"]["capabilities"]
    assert list(rec["method"]["weights"]) == ["fact_tiny_ckpt"] and not rec["dataset"]["skipped"]
    outputs = sorted((tmp_path / "res").rglob("outputs/*.npz"))
    assert len(outputs) == 2 and all(load_generated(p).meta["seed_frames"] == "8" for p in outputs)
