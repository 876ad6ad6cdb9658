"""``bailandopp-official`` as a method: the Bailando++ release folder, the SMPL output (nearest rotations of the decoded
matrices, root integrated) and ``write2motion``'s file, ``generate motion``, ``weights import`` and ``bench run`` (tiny
random weights of the parity fixture; the networks are proven equal to the original code in
test_official_bailandopp.py, the shared pipeline in test_bailando_method.py)."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from macedance.cli import app
from macedance.io.motion_formats import read_motion_file
from macedance.io.motion_layouts import closest_rotations
from macedance.methods.official.bailando import seed_positions
from macedance.methods.official.bailandopp import ReleasedBailandoPP
from macedance.models.official.bailandopp import (
    BailandoppGPTConfig,
    BailandoppVQVAEConfig,
    CrossCondGPT2MWAC,
    SepVQVAERmix,
    bailandopp_generate,
    pad_music,
)
from macedance.motion.rotations import matrix_to_axis_angle
from macedance.schema import Joints3D, Motion, load_generated

from bailando_release import fixture_state, write_release
from conftest import parity_arrays, tiny_aistpp

pytestmark = pytest.mark.usefixtures("one_torch_thread")
runner = CliRunner()
VQ_FILE = "experiments/sep_vqvae_root_mix_w_vel_acc/ckpt/epoch_500.pt"  # as the ++ config's vqvae_weight


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    fx = parity_arrays("bailandopp_official_tiny")
    record = json.loads(str(fx["config_json"]))
    vq = SepVQVAERmix(BailandoppVQVAEConfig.from_record(record["structure"]))
    vq.load_state_dict(fixture_state(fx, "vq"))
    gpt = CrossCondGPT2MWAC(BailandoppGPTConfig.from_record(record["structure_generate"]))
    gpt.load_state_dict(fixture_state(fx, "gpt"))
    return write_release(tmp_path_factory.mktemp("bailandopp"), vq.eval(), gpt.eval(), record, VQ_FILE)


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    path = tmp_path_factory.mktemp("music") / "song.npy"
    np.save(path, np.random.default_rng(4).normal(size=(100, 438)).astype(np.float32))
    return path


def _seed():
    t = np.arange(60)[:, None, None]
    return Joints3D(np.random.default_rng(6).normal(scale=0.2, size=(1, 24, 3)) + 0.01 * np.sin(t / 5.0), 60.0, "y")


def test_generation_is_the_official_eval_pipeline(release, music):
    m = ReleasedBailandoPP(release)
    assert m.music_preset == "bailando-0.8.1"
    seed = _seed()
    out, arrays = m.generate_file(music, seconds=None, seed=0, genre=None, seed_motion=seed)
    # by hand: GT first codes, load_test_data_aist's padding, eval() with the ++ networks, write2motion's projection
    up, down = m.vqvae.encode(seed_positions(seed))
    feats = torch.from_numpy(np.load(music)[None])
    _, _, dec = bailandopp_generate(m.vqvae, m.gpt, first_up=up[:, :1], first_down=down[:, :1], music=pad_music(feats))
    dec = dec[0].numpy()
    poses = matrix_to_axis_angle(closest_rotations(dec[:, 3:].reshape(-1, 24, 3, 3).astype(np.float64)))
    assert isinstance(out, Motion) and out.fps == 60.0 and out.up_axis == "y" and out.num_frames == len(dec) == 8 * (101 // 8)
    assert np.array_equal(out.trans, dec[:, :3].astype(np.float64)) and np.array_equal(out.poses, poses)
    assert np.array_equal(out.trans[0], [0, 0, 0])  # integrated from the velocity (global_vel)
    assert set(arrays) == {"smpl_poses", "smpl_trans"} and arrays["smpl_poses"].shape == (len(dec), 24, 3)
    assert out.meta["first_codes"] == f"{int(up[0, 0])}/{int(down[0, 0])}"
    cut = m.generate(music, seconds=0.5, seed=3, genre=None, seed_motion=seed)
    assert np.array_equal(cut.poses, out.poses[:30])


def test_cli_native_file_weights_import_and_errors(release, music, tmp_path):
    seed_file = _seed().save(tmp_path / "gt.npz")
    r = runner.invoke(app, ["generate", "motion", "--method", "bailandopp-official", "--ckpt", str(release), "--music", str(music),
                            "--seed-motion", str(seed_file), "--out", str(tmp_path / "a.pkl")])
    assert r.exit_code == 0, r.output
    f = read_motion_file(tmp_path / "a.pkl")  # write2motion's pickle: the AIST++ layout
    assert f.format == "aistpp" and f.fps == 60.0 and f.motion is not None and f.motion.num_frames == 96
    for name, rel in (("bailandopp-gpt", "experiments/actor_critic/ckpt/epoch_10.pt"), ("bailandopp-vqvae", VQ_FILE)):
        r = runner.invoke(app, ["weights", "import", name, str(release / rel)])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["weights", "import", "bailando-gpt", str(release / "experiments/actor_critic/ckpt/epoch_10.pt")])
    assert r.exit_code == 2 and "a Bailando++ GPT (it has a music_trans)" in " ".join(r.output.split())  # another network
    r = runner.invoke(app, ["generate", "motion", "--method", "bailandopp-official", "--music", str(music), "--seed-motion",
                            str(seed_file), "--out", str(tmp_path / "b.npz")])
    assert r.exit_code == 0, r.output
    assert np.array_equal(load_generated(tmp_path / "b.npz").poses, f.motion.poses.astype(np.float64))
    r = runner.invoke(app, ["generate", "motion", "--method", "bailandopp-official", "--ckpt", str(release), "--music",
                            str(music), "--first-tokens", "demo", "--out", str(tmp_path / "c.npz")])
    assert r.exit_code == 2 and "demo codes 423/12 within the vocabulary" in " ".join(r.output.split())  # tiny vocabulary


def test_bench_run(release, tmp_path):
    from macedance.benchmark.records import load_record
    data, audio = tiny_aistpp(tmp_path, seconds=3)
    r = runner.invoke(app, ["bench", "run", "--task", "madata-motion", "--method", "bailandopp-official", "--ckpt", str(release),
                            "--data", str(data), "--music", str(audio), "--out", str(tmp_path / "res"), "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    rec = load_record(next((tmp_path / "res").glob("*.json")))
    assert "non-commercial" in rec["method"]["licence"] and not rec["dataset"]["skipped"]
    assert rec["scores"]["fid_k"]["value"] is not None
    outputs = sorted((tmp_path / "res").rglob("outputs/*.npz"))
    assert len(outputs) == 2 and all(isinstance(load_generated(p), Motion) for p in outputs)
