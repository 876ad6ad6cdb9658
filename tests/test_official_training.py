"""`train motion --method mace-dance|edge` trains the released module trees and writes official.pt in the released
layout, which our released-checkpoint reader (and the official test.py, for released sizes) loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from macedance.cli import app
from macedance.methods.official.checkpoint import read_released_checkpoint
from macedance.models.official.adapters import OfficialEdgeNet, OfficialMaceNet
from macedance.training.motion import build_model, load_checkpoint, motion_configs

from conftest import make_dance_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_dance_dataset(tmp_path_factory.mktemp("dance"), 3, 6.0)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def test_method_configs_follow_the_released_code():
    expert, diffusion, train = motion_configs("mace-dance", tiny=True)
    assert expert.network == "mace-official" and diffusion.gft_uncond_beta == "same" and diffusion.cond_drop == 0.0
    expert, diffusion, train = motion_configs("edge", tiny=True, train={"window": 90})
    assert expert.network == "edge-official" and expert.seq_len == 90 and diffusion.cond_drop == 0.25 and expert.guidance == "cfg"
    assert motion_configs("mace-dance-v0", tiny=True)[0].network == "macedance"


@pytest.mark.parametrize("method, released, net", [("mace-dance", "mace-dance-official", OfficialMaceNet),
                                                   ("edge", "edge-official", OfficialEdgeNet)])
def test_trained_run_exports_the_released_layout(dataset, tmp_path, method, released, net):
    data, music = dataset
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", "motion", "--data", str(data), "--music", str(music), "--out", str(run), "--method", method,
                                 "--tiny", "--steps", "2"])
    assert r.exit_code == 0, r.output
    state = load_checkpoint(run)
    model, diffusion, _ = build_model(state)
    assert isinstance(model, net)
    # official.pt: the decoder's own keys (no prefix), model and EMA weights, the normaliser the run used
    for weights, key in (("model", "model"), ("ema", "ema")):
        ckpt = read_released_checkpoint(run / "official.pt", weights=weights)
        expected = {k.removeprefix("decoder."): v for k, v in state[key].items()}
        assert ckpt.state_dict.keys() == expected.keys()
        assert all(torch.equal(ckpt.state_dict[k], expected[k]) for k in expected)
    assert ckpt.recorded["num_heads"] == 2 and torch.equal(ckpt.normalizer.scale, diffusion.norm.scale)
    # Our run and the released-checkpoint path give the same motion for the same features, genre row, weights (EMA)
    # and seed: the same sampler code and noise. Genre row 0 is AIST++'s "Break" in the run's vocabulary and "Dai"
    # in the released one.
    from macedance.music.analysis import analyze_files
    from macedance.music.presets import get_music_preset
    from macedance.schema import load_motion

    analyze_files([music / "s1.wav"], tmp_path / "feats", preset=get_music_preset("clean"))
    feats = tmp_path / "feats" / "s1.npz"
    r = CliRunner().invoke(app, ["generate", "motion", "--ckpt", str(run), "--music", str(feats), "--out", str(tmp_path / "a.npz"),
                                 "--seconds", "4", "--seed", "3", "--genre", "Break"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["generate", "motion", "--method", released, "--ckpt", str(run / "official.pt"), "--music", str(feats),
                                 "--out", str(tmp_path / "b.npz"), "--seconds", "4", "--seed", "3", "--weights", "ema", "--genre", "Dai"])
    assert r.exit_code == 0, r.output
    a, b = load_motion(tmp_path / "a.npz"), load_motion(tmp_path / "b.npz")
    assert a.num_frames == b.num_frames == 120
    # the same operations on the same tensors in one process: bit for bit
    np.testing.assert_array_equal(a.poses, b.poses)
    np.testing.assert_array_equal(a.trans, b.trans)
