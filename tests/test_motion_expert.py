"""Motion Expert, diffusion, training/resume, generation, baselines (CPU, tiny configurations)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from macedance.cli import app
from macedance.datasets.synthetic import synthetic_motion
from macedance.models.diffusion import Diffusion, DiffusionConfig, cosine_alphas_cumprod
from macedance.models.mamba import BiMamba, Mamba, selective_scan, selective_scan_reference
from macedance.models.motion_expert import ExpertConfig, MotionExpert
from macedance.models.representation import Normalizer, motion_to_rep, rep_to_motion
from macedance.music.synth import beat_times, drum_track
from macedance.training.motion import TrainConfig, build_model, load_checkpoint, train_motion

from conftest import make_dance_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four 8-s synthetic dances with drum tracks at their tempo."""
    return make_dance_dataset(tmp_path_factory.mktemp("dance"), 4, 8.0)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def test_parallel_selective_scan_equals_sequential():
    g = torch.Generator().manual_seed(0)
    B, L, E, N = 2, 300, 8, 4
    x, C, Bm = torch.randn(B, L, E, generator=g), torch.randn(B, L, N, generator=g), torch.randn(B, L, N, generator=g)
    delta = torch.rand(B, L, E, generator=g) * 0.3
    A, D = -torch.rand(E, N, generator=g) * 3, torch.randn(E, generator=g)
    ref = selective_scan_reference(x, delta, A, Bm, C, D)
    for chunk in (7, 64, 1000):
        out = selective_scan(x, delta, A, Bm, C, D, chunk=chunk)
        # float32, 300 steps in ⌈log2 300⌉ = 9 scan levels vs 300 sequential ones; both are ~2.4e-7 (relative to the
        # max) from a float64 scan, measured ≤ 3e-7 apart: 1e-4 leaves 300× for other kernels (exp, einsum over N = 4)
        assert ((out - ref).abs().max() / ref.abs().max()) < 1e-4


def test_mamba_parameters_match_mamba_ssm_layout():
    m = Mamba(64, d_state=16, d_conv=4, expand=2)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes == {"A_log": (128, 16), "D": (128,), "in_proj.weight": (256, 64), "conv1d.weight": (128, 1, 4),
                      "conv1d.bias": (128,), "x_proj.weight": (36, 128), "dt_proj.weight": (128, 4),
                      "dt_proj.bias": (128,), "out_proj.weight": (64, 128)}
    torch.manual_seed(0)  # the margin below depends on the initialisation
    bi = BiMamba(16, 4)
    x = torch.randn(1, 10, 16)
    # bidirectional: the output at t depends on later inputs too
    y1 = bi(x)
    x2 = x.clone()
    x2[:, -1, 0] += 1  # (a constant added to all features would vanish in the LayerNorm)
    # A causal model's t = 0 output would be bit-identical (row-wise kernels; rerunning bi(x) gives 0 difference);
    # the later input moves it by 3.5e-6, 66× allclose's 1e-8 + 1e-5·|y| at its largest (≥ 15× for seeds 0–5),
    # while float32 kernel differences are ~1e-8 here.
    assert not torch.allclose(bi(x2)[:, 0], y1[:, 0])


@pytest.mark.parametrize("mixer", ["bimamba", "mamba", "transformer"])
@pytest.mark.parametrize("guidance", ["gft", "cfg"])
def test_shapes(mixer, guidance):
    m = MotionExpert(ExpertConfig.tiny(mixer=mixer, guidance=guidance))
    out = m(torch.randn(2, 40, 151), torch.tensor([1, 999]), torch.randn(2, 40, 35), torch.tensor([0, 16]),
            torch.rand(2), torch.tensor([True, False]))
    assert out.shape == (2, 40, 151)


def test_gft_target_arithmetic_and_stop_gradient():
    d = Diffusion(DiffusionConfig(), Normalizer(-torch.ones(151), torch.ones(151)))
    c = torch.full((2, 3, 151), 2.0, requires_grad=True)
    u = torch.full((2, 3, 151), -1.0, requires_grad=True)
    beta = torch.tensor([0.25, 1.0])
    x = d.gft_target(c, u, beta)
    # dyadic inputs (2, −1, 0.25): every float32 product and sum here is exact (measured 0 difference)
    assert torch.allclose(x[0], torch.full((3, 151), 0.25 * 2 - 0.75)) and torch.allclose(x[1], c[1])
    x.sum().backward()
    assert u.grad is None and torch.allclose(c.grad[0], torch.full((3, 151), 0.25))
    ab = cosine_alphas_cumprod(1000)
    # float64 schedule: ab[0] = 0.99996, ab[-1] = 2.4e-9, smallest step 2.4e-6 ≫ its ulp: margins far above round-off
    assert ab[0] > 0.999 and ab[-1] < 1e-4 and (ab[1:] < ab[:-1]).all()


def test_representation_round_trip():
    m = synthetic_motion(seconds=2, fps=60, seed=3)
    rep = motion_to_rep(m)
    assert rep.shape == (60, 151)
    back = rep_to_motion(rep)
    # the float32 representation (a cast, the same on every CPU): ≤ 6e-8 relative per value, through FK measured
    # 3.3e-8 m; 1e-5 m leaves 300×
    np.testing.assert_allclose(back.joints(), m.resample(30).to_up_axis("z").joints(), atol=1e-5)


def _train(data, music, run, steps, stop_after=None, resume=False, **kw):
    cfg = TrainConfig(steps=steps, batch=4, window=60, checkpoint_every=5, log_every=1, seed=0)
    return train_motion(data, run, expert=ExpertConfig.tiny(**kw), diffusion_cfg=DiffusionConfig(), train=cfg, music_dir=music, resume=resume, stop_after=stop_after)


def test_loss_decreases(dataset, tmp_path):
    data, music = dataset
    _train(data, music, tmp_path / "run", 120)
    rows = list(csv.DictReader((tmp_path / "run" / "loss.csv").open()))
    first = np.mean([float(r["loss"]) for r in rows[:15]])
    last = np.mean([float(r["loss"]) for r in rows[-15:]])
    assert last < 0.7 * first, (first, last)  # measured ratio 0.16 (1 and 2 threads): float32 training noise is far smaller
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000


def test_resume_matches_uninterrupted(dataset, tmp_path):
    data, music = dataset
    _train(data, music, tmp_path / "full", 12)
    _train(data, music, tmp_path / "cut", 12, stop_after=5)  # killed after the step-5 checkpoint
    _train(data, music, tmp_path / "cut", 12, resume=True)
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "cut")
    assert a["step"] == b["step"] == 12
    # Both runs execute in this process with the same thread count: the same float32 kernels and reduction splits,
    # and the checkpoint restores exact bits, so they agree bit for bit (measured 0 with 1 and 2 threads, AVX-512
    # and forced-AVX2 kernels). rtol 1e-5 would still cover a changed reduction split: 12 Adam steps × ~1e-7.
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-5, atol=1e-6)
    steps = [int(r["step"]) for r in csv.DictReader((tmp_path / "cut" / "loss.csv").open())]
    assert steps == list(range(1, 13))
    with pytest.raises(Exception, match="`resume`"):
        _train(data, music, tmp_path / "full", 12)


def test_checkpoint_round_trip_and_deterministic_sampling(dataset, tmp_path):
    data, music = dataset
    _train(data, music, tmp_path / "run", 5)
    state = load_checkpoint(tmp_path / "run")  # weights_only=True
    model, diffusion, vocab = build_model(state)
    model2, _, _ = build_model(torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True))
    m = torch.randn(1, 64, 35)
    g = torch.tensor([16])
    s1 = diffusion.sample(model, m, g, torch.Generator().manual_seed(7))
    s2 = diffusion.sample(model2, m, g, torch.Generator().manual_seed(7))
    s3 = diffusion.sample(model, m, g, torch.Generator().manual_seed(8))
    # s1/s2: equal weights, seed, process and thread count → the same kernels, bit for bit; s3 (another seed)
    # differs by up to 1.3, far beyond allclose's tolerance
    assert torch.equal(s1, s2) and not torch.allclose(s1, s3)
    assert "Break" in vocab


def test_long_generation_and_masked_editing(dataset, tmp_path):
    data, music = dataset
    _train(data, music, tmp_path / "run", 3)
    model, diffusion, _ = build_model(load_checkpoint(tmp_path / "run"))
    m = torch.randn(1, 1100, 35)
    known = torch.rand(1, 1100, 151) * 2 - 1
    mask = torch.zeros(1, 1100, 1, dtype=torch.bool)
    mask[:, :30] = True  # keep the first second, in-between the rest
    mask[:, -30:] = True
    out = diffusion.sample(model, m, torch.tensor([16]), torch.Generator().manual_seed(0), known, mask)
    assert out.shape == (1, 1100, 151)
    assert torch.equal(out[:, :30], known[:, :30]) and torch.equal(out[:, -30:], known[:, -30:])  # copied by the mask: exact


@pytest.mark.parametrize("method", ["mace-dance", "edge", "mace-dance-v0", "ablation-cfg", "retrieval", "random-clip", "mean-pose"])
def test_cli_train_and_generate(dataset, tmp_path, method):
    data, music = dataset
    runner = CliRunner()
    r = runner.invoke(app, ["train", "motion", "--data", str(data), "--music", str(music), "--out", str(tmp_path / "run"),
                            "--method", method, "--tiny", "--steps", "3"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["generate", "motion", "--ckpt", str(tmp_path / "run"), "--music", str(music / "s1.wav"),
                            "--out", str(tmp_path / "g.npz"), "--seconds", "6", "--render", str(tmp_path / "g.mp4")])
    assert r.exit_code == 0, r.output
    from macedance.io.audio import load_audio
    from macedance.schema import load_motion

    motion = load_motion(tmp_path / "g.npz")
    assert motion.num_frames == 180 and motion.fps == 30 and motion.meta["generator"] == method
    assert abs(load_audio(tmp_path / "g.mp4").duration - 6.0) < 0.1  # music muxed into the video (AAC padding, not round-off)


def test_cli_errors(dataset, tmp_path):
    data, music = dataset
    runner = CliRunner()
    r = runner.invoke(app, ["generate", "motion", "--ckpt", str(tmp_path / "none"), "--music", str(music / "s1.wav"),
                            "--out", str(tmp_path / "g.npz")])
    assert r.exit_code == 2 and "no checkpoint" in r.stderr
    r = runner.invoke(app, ["train", "motion", "--data", str(data), "--out", str(tmp_path / "r"), "--method", "nope"])
    assert r.exit_code == 2 and "--method" in r.stderr
    r = runner.invoke(app, ["train", "motion", "--data", str(data), "--out", str(tmp_path / "r"), "--tiny", "--steps", "2"])
    assert r.exit_code == 2 and "no usable training sequence" in r.stderr  # no --music


def test_generate_1024_frames_from_a_music_file_and_render(dataset, tmp_path):
    data, music = dataset
    _train(data, music, tmp_path / "run", 3)
    song = tmp_path / "song.wav"
    sf.write(song, drum_track(beat_times(120, 35.0, start=0.0), 35.0, sr=22050), 22050)
    r = CliRunner().invoke(app, ["generate", "motion", "--ckpt", str(tmp_path / "run"), "--music", str(song),
                                 "--seconds", "34.13", "--out", str(tmp_path / "long.npz"),
                                 "--render", str(tmp_path / "long.mp4")])
    assert r.exit_code == 0, r.output
    from macedance.schema import load_motion

    assert load_motion(tmp_path / "long.npz").num_frames == 1024  # round(34.13 × 30) on Python floats: the same on every CPU
    import av

    with av.open(str(tmp_path / "long.mp4")) as c:
        assert c.streams.video[0].frames in (0, 1024) and len(c.streams.audio) == 1
        assert sum(1 for _ in c.decode(video=0)) == 1024
