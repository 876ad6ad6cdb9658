"""VBench subject / background consistency and motion smoothness, and cd-FVD: parity with the reference
code on random weights imported through `macedance weights import`, the safe CLIP archive reader, the
full-size key layouts, and `macedance eval video` end to end.

Expected numbers (tests/parity/vbench_random.json, *_features_random.npz, vit_layouts.json) come from
VBench@45e79ec's own scoring functions with DINO@7c446df, CLIP@d05afc4 (clip.load's CPU path) and
VBench's AMT-S, and from content-debiased-fvd@a1e037a (VideoMAE-v2 + FeatureStats), run outside this
project on the frames and weights of tests/vbench_fixtures.py.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from macedance.cli import app
from macedance.errors import DataFormatError, UnsafePickleError
from macedance.weights import load_weights, manifest

from vbench_fixtures import (
    TINY_CLIP,
    TINY_CLIP_L,
    TINY_DINO,
    TINY_MUSIQ,
    TINY_VIDEOMAE,
    aesthetic_videos,
    amt_videos,
    consistency_videos,
    imaging_videos,
    moving_frames,
    openai_clip_shapes,
    random_weights,
    torchscript_archive,
)

PARITY = Path(__file__).parent / "parity"
REF = json.loads((PARITY / "vbench_random.json").read_text())
VIDEOS = consistency_videos()
runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))


def _shapes(module_cls, **cfg):
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in module_cls(**cfg).state_dict().items()}


def _import(name: str, path: Path) -> None:
    r = runner.invoke(app, ["weights", "import", name, str(path)])
    assert r.exit_code == 0, r.output


def _dino(tmp_path: Path) -> Path:
    from macedance.metrics.video.vit import DinoViT

    src = tmp_path / "dino_vit_tiny.pth"
    torch.save(random_weights(_shapes(DinoViT, **TINY_DINO), seed=11), src)
    return src


def _clip(tmp_path: Path) -> Path:
    extra = {"input_resolution": torch.tensor(224), "context_length": torch.tensor(4), "vocab_size": torch.tensor(16)}
    return Path(torchscript_archive(random_weights(openai_clip_shapes(TINY_CLIP), seed=12), str(tmp_path / "ViT-tiny.pt"), extra))


def _clip_l(tmp_path: Path) -> Path:
    extra = {"input_resolution": torch.tensor(224), "context_length": torch.tensor(4), "vocab_size": torch.tensor(16)}
    return Path(torchscript_archive(random_weights(openai_clip_shapes(TINY_CLIP_L), seed=21), str(tmp_path / "ViT-tiny-L.pt"), extra))


def _aesthetic_head(tmp_path: Path) -> Path:
    """The oracle's head: random_weights with |w| ≈ 10 and bias ≈ 5 (scores ~5 ± 0.4 before VBench's /10)."""
    rw = random_weights({"weight": (1, 768), "bias": (1,)}, seed=22)
    src = tmp_path / "sa_0_4_vit_l_14_linear.pth"
    torch.save({"weight": rw["weight"] * 10, "bias": rw["bias"] + 5}, src)
    return src


def _amt(tmp_path: Path) -> Path:
    from macedance.metrics.video.amt import AMTS

    src = tmp_path / "amt-s.pth"
    torch.save({"state_dict": random_weights(_shapes(AMTS), seed=13)}, src)
    return src


def _videomae(tmp_path: Path) -> Path:
    from macedance.metrics.video.videomae import VideoMAEv2

    src = tmp_path / "vit_g_tiny.pth"
    torch.save({"module": random_weights(_shapes(VideoMAEv2, **TINY_VIDEOMAE), seed=14)}, src)
    return src


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("metric", ["subject-consistency", "background-consistency"])
def test_consistency_equals_vbench_on_random_weights(tmp_path, metric):
    """Features within 1e-5 (DINO: attention kernels and batching differ in float32 round-off; CLIP: bitwise),
    per-video and pooled scores within 1e-6 relative."""
    from macedance.metrics.video.consistency import clip_transform, dino_transform, pooled, video_consistency
    from macedance.metrics.video.networks import load_network

    name, key, feats_file = (("dino-vitb16", "subject_consistency", "dino") if metric == "subject-consistency"
                             else ("clip-vit-b32", "background_consistency", "clip"))
    _import(name, _dino(tmp_path) if name == "dino-vitb16" else _clip(tmp_path))
    model, _, info = load_network(name, "cpu")
    assert info["architecture_published"] is False and info["weights_verification"].startswith("structure")
    expected = np.load(PARITY / f"{feats_file}_features_random.npz")
    prep = dino_transform if feats_file == "dino" else clip_transform
    rows = []
    for i, (stem, frames) in enumerate(VIDEOS.items()):
        with torch.no_grad():
            f = model(prep(frames)).numpy()
        np.testing.assert_allclose(f, expected[stem], rtol=0, atol=1e-5 * np.abs(expected[stem]).max())
        rows.append(video_consistency(model, [frames[:5], frames[5:]], transform=feats_file))  # streamed in two chunks
        # cosine similarities of unit float32 features averaged over frames: continuous in the features, whose round-off
        # (kernels, threads; ≤ 1e-6 of the largest value) moves the score by ~1e-7
        assert _rel(rows[-1][0] / rows[-1][1], REF[key]["per_video"][i]) < 1e-6
    assert _rel(pooled(rows), REF[key]["overall"]) < 1e-6


FLIP_MARGIN = 0.03  # grey levels; see the test below


def _near_boundary(pred: np.ndarray, margin: float) -> int:
    """Interpolated values (not clamped to 0 or 255) within ``margin`` grey levels of an integer: the only ones
    whose uint8 truncation a perturbation smaller than ``margin`` can change."""
    inside = pred[(pred > 0) & (pred < 255)]
    return int(np.sum(np.abs(inside - np.rint(inside)) < margin))


def test_aesthetic_quality_equals_vbench_on_random_weights(tmp_path):
    """VBench's ``laion_aesthetic`` (tests/parity/vbench_aesthetic_random.json: VBench@45e79ec with CLIP@d05afc4's
    ``clip.load`` on the CPU, a tiny ViT with ViT-L/14's 768-d output, a random LAION head, 9-, 6- and 40-frame videos:
    frames go in batches of 32). The port runs the same ops (CLIP's float16-rounded weights in float32, the same
    bicubic resize, batches and L2 normalisation): bit-identical here. Bound 1e-5 relative: on another CPU's kernels
    the unit features move by ~2e-6 (ten float32 matmuls of width ≤ 512); even aligned with the head (|w| ≈ 10) that
    moves a score by ≤ 10 · 2e-6 / 10 = 2e-6 absolute on scores ~0.5, i.e. ≤ 4e-6 relative."""
    from macedance.metrics.video.networks import load_network
    from macedance.metrics.video.vbench import AESTHETIC_BATCH, aesthetic_head, aesthetic_quality

    ref = json.loads((PARITY / "vbench_aesthetic_random.json").read_text())
    r = runner.invoke(app, ["weights", "import", "laion-aesthetic-l14", str(tmp_path / "missing.pth")])
    assert r.exit_code == 2
    _import("clip-vit-l14", _clip_l(tmp_path))
    _import("laion-aesthetic-l14", _aesthetic_head(tmp_path))
    model, _, info = load_network("clip-vit-l14", "cpu")
    head, _, _ = aesthetic_head("cpu")
    assert info["architecture"] == {**TINY_CLIP_L, "heads": 2} and info["architecture_published"] is False
    per = {}
    for stem, frames in aesthetic_videos().items():
        batches = [frames[i : i + AESTHETIC_BATCH] for i in range(0, len(frames), AESTHETIC_BATCH)]
        per[stem] = aesthetic_quality(model, head, batches)
        assert _rel(per[stem], ref["per_video"][stem]) < 1e-5, (stem, per[stem], ref["per_video"][stem])
    assert _rel(float(np.mean(list(per.values()))), ref["aesthetic_quality"]) < 1e-5
    assert aesthetic_quality(model, head, []) is None
    torch.save({"weight": torch.zeros(2, 768), "bias": torch.zeros(2)}, tmp_path / "two.pth")
    r = runner.invoke(app, ["weights", "import", "laion-aesthetic-l14", str(tmp_path / "two.pth")])
    assert r.exit_code == 2 and "weight" in r.stderr


def _musiq(tmp_path: Path) -> Path:
    """The oracle's tiny MUSIQ weights (head bias + 50: scores ~50, SPAQ's 0–100 scale), in pyiqa's ``params`` wrapper."""
    from macedance.metrics.video.musiq import MUSIQ

    cfg = {k: v for k, v in TINY_MUSIQ.items()}
    shapes = _shapes(MUSIQ, **cfg)
    state = random_weights(shapes, seed=31)
    state["head.bias"] = state["head.bias"] + 50
    src = tmp_path / "musiq_spaq_ckpt-358bb6af.pth"
    torch.save({"params": state}, src)
    return src


def test_imaging_quality_equals_vbench_on_random_weights(tmp_path):
    """VBench's ``technical_quality`` (tests/parity/vbench_imaging_random.json: VBench@45e79ec, "longer" mode, with
    pyiqa@01ae427's MUSIQ at tiny transformer sizes — stem, 32-px patches, scales 224/384/original, hashed 10×10
    positions as released) on a 60×80 video and a 300×600 one (resized to 256×512). Same ops in the same order:
    bit-identical here. 1e-6 relative holds on other kernels: the head's output before its +50 bias is O(1) and moves
    by ~1e-6 of that under another summation order, ~2e-8 of the ~50 score."""
    from macedance.metrics.video.networks import load_network
    from macedance.metrics.video.vbench import imaging_quality

    ref = json.loads((PARITY / "vbench_imaging_random.json").read_text())
    _import("musiq-spaq", _musiq(tmp_path))
    model, _, info = load_network("musiq-spaq", "cpu")
    assert info["architecture"]["hidden"] == 48 and info["architecture_published"] is False
    per = {stem: imaging_quality(model, list(frames)) for stem, frames in imaging_videos().items()}
    for stem, v in per.items():
        assert _rel(v, ref["per_video"][stem]) < 1e-6, (stem, v, ref["per_video"][stem])
    assert _rel(sum(per.values()) / len(per) / 100.0, ref["imaging_quality"]) < 1e-6
    assert imaging_quality(model, []) is None


@pytest.mark.parametrize("metric, weights", [("aesthetic-quality", ("clip-vit-l14", "laion-aesthetic-l14")),
                                             ("imaging-quality", ("musiq-spaq",))])
def test_eval_video_quality_cli(tmp_path, metric, weights):
    """``eval video --metrics aesthetic-quality|imaging-quality``: a missing weight names its import command; the
    record holds the generated and ground-truth values (VBench's 0–1 scale; the random weights give ~0.4–0.5), the
    per-video values and the weights' sha256."""
    makers = {"clip-vit-l14": _clip_l, "laion-aesthetic-l14": _aesthetic_head, "musiq-spaq": _musiq}
    _write(tmp_path / "gt", range(10, 12))
    _write(tmp_path / "pred", range(20, 22))
    args = ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--metrics", metric]
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and f"macedance weights import {weights[0]} FILE" in r.stderr
    for name in weights:
        _import(name, makers[name](tmp_path))
    out = tmp_path / "r.json"
    r = runner.invoke(app, args + ["--json", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())["scores"][metric]
    d = s["details"]
    assert s["n"] == 2 and set(d["per_video"]) == {"clip0", "clip1"} and len(d["gt_per_video"]) == 2
    # the set value and the per-video values come from the same float64 numbers (two of them; imaging divides by 100
    # before or after the mean): they differ by at most an ulp or two of float64, no thread or CPU dependence
    assert s["value"] == pytest.approx(np.mean(list(d["per_video"].values())), rel=1e-12)
    assert 0.3 < s["value"] < 0.7 and 0.3 < d["gt_value"] < 0.7 and len(d["weights_sha256"]) == 64


def test_musiq_full_size_layout_and_refusals(tmp_path):
    """The full-size network (hidden 384, 14 blocks, 6 heads, 3 scales, SPAQ's one-value head) builds from its own
    state dict's sizes: 248 tensors, 27,125,825 parameters — the keys and shapes of pyiqa@01ae427's
    ``MUSIQ(pretrained=False)``, compared outside the project (/work/oracle/pyiqa); a checkpoint of another
    network is refused."""
    from macedance.metrics.video.musiq import MUSIQ, musiq_config

    with torch.device("meta"):
        full = MUSIQ()
    state = full.state_dict()
    assert musiq_config(state) == {"hidden": 384, "mlp_dim": 1152, "layers": 14, "scales": 3, "grid": 10, "classes": 1, "heads": 6}
    assert len(state) == 248 and sum(v.numel() for v in state.values()) == 27_125_825
    torch.save({"params": {"conv_root.weight": torch.zeros(64, 3, 7, 7)}}, tmp_path / "bad.pth")
    r = runner.invoke(app, ["weights", "import", "musiq-spaq", str(tmp_path / "bad.pth")])
    assert r.exit_code == 2 and "MUSIQ" in r.stderr


def test_motion_smoothness_equals_vbench_on_random_weights(tmp_path):
    """AMT-S at full size (random weights, 120×136 frames padded to 128×144), one pair per forward pass as VBench.

    Exact in float64: the network and frames cast to float64, every per-video score equals VBench's run the same
    way (tests/parity/vbench_random.json "motion_smoothness_float64") to 1e-12 relative. Why this holds on any CPU
    and thread count: float64 round-off in the network is ~1e-10 grey levels, and the test checks that no
    interpolated value lies within 1e-6 of a grey level, so the uint8 truncation cannot flip.

    In float32 (what VBench and `eval video` run) the truncation turns kernel-dependent round-off into whole grey
    levels: the interpolated values differ by up to 0.009 grey levels between oneDNN and ATen convolutions, 1 and 2
    threads, batch 1 and 2 (measured on an AVX-512 Xeon; VBench's own float32 code gives our numbers bit for bit
    there, and 8 flips away on the AVX2 EPYC that produced the reference). So the float32 score must equal
    VBench's up to the pixels within FLIP_MARGIN = 0.03 grey levels (3× the largest measured round-off) of a
    grey level, each worth 1 / (255 · 3HW · pairs); that bound is itself below 1.5e-4 relative. Small frames are
    refused."""
    from macedance.metrics.video.consistency import interpolated_frames, motion_smoothness
    from macedance.metrics.video.networks import load_network

    _import("amt-s", _amt(tmp_path))
    model, _, info = load_network("amt-s", "cpu")
    assert info["architecture_published"] is True
    videos = amt_videos()
    ours = [motion_smoothness(model, iter(v), batch=1) for v in videos.values()]
    bounds = []
    for v, a, b in zip(videos.values(), ours, REF["motion_smoothness"]["per_video"], strict=True):
        preds = [p for p, _ in interpolated_frames(model, iter(v), batch=1)]
        bound = sum(_near_boundary(p, FLIP_MARGIN) for p in preds) / (255.0 * sum(p.size for p in preds))
        assert abs(a - b) <= bound < 1.5e-4 * b
        assert abs(motion_smoothness(model, iter(v), batch=2) - a) <= bound  # batched passes: other round-off
        bounds.append(bound)
    assert abs(float(np.mean(ours)) - REF["motion_smoothness"]["overall"]) <= float(np.mean(bounds))

    model64 = copy.deepcopy(model).double()
    ref64 = REF["motion_smoothness_float64"]["per_video"]
    for v, b in zip(videos.values(), ref64, strict=True):
        assert _rel(motion_smoothness(model64, iter(v), batch=1, dtype=torch.float64), b) < 1e-12
        for p, _ in interpolated_frames(model64, iter(v), batch=2, dtype=torch.float64):
            assert _near_boundary(p, 1e-6) == 0
        assert _rel(motion_smoothness(model64, iter(v), batch=2, dtype=torch.float64), b) < 1e-12

    assert motion_smoothness(model, iter(VIDEOS["v0"][:2])) is None  # needs ≥ 3 frames
    with pytest.raises(DataFormatError, match="larger than 112×112"):
        motion_smoothness(model, iter(VIDEOS["v0"]))  # 60×80: AMT's correlation pyramid degenerates (NaN in VBench)


def test_cd_fvd_equals_cd_fvd_package_on_random_weights(tmp_path):
    """VideoMAE-v2 features (reduced ViT, cd-fvd's preprocessing) within 1e-5; the Fréchet distance from
    cd-fvd's FeatureStats (biased covariance, no ε) within 1e-9 on 300 vs 260 feature rows."""
    from macedance.metrics.motion.frechet import Moments, frechet_distance
    from macedance.metrics.video.networks import load_network
    from macedance.metrics.video.videomae import preprocess

    _import("videomae-v2-g-ssv2", _videomae(tmp_path))
    model, _, _ = load_network("videomae-v2-g-ssv2", "cpu")
    expected = np.load(PARITY / "videomae_features_random.npz")
    real = np.stack([moving_frames(seed=20 + i, t=16, h=48, w=64) for i in range(3)])
    with torch.no_grad():
        f = model(torch.stack([preprocess(v) for v in real])).numpy()
    np.testing.assert_allclose(f, expected["real"], rtol=0, atol=1e-5 * np.abs(expected["real"]).max())
    rng = np.random.default_rng(5)
    a = rng.normal(size=(300, 24)).astype(np.float32)
    b = (rng.normal(size=(260, 24)) * 1.3 + 0.2).astype(np.float32)
    ma, mb = Moments(), Moments()
    for i in range(0, 300, 16):
        ma.add(a[i:i + 16])
    mb.add(b)
    value = frechet_distance(*mb.stats(ddof=0), *ma.stats(ddof=0), eps=0.0).value
    assert _rel(value, REF["cd_fvd"]["fvd_stats_300_vs_260"]) < 1e-9  # float64 moments of the same rows; streaming sums ~1e-15


def test_full_size_key_layouts_equal_the_reference_networks():
    """DINO ViT-B/16, CLIP ViT-B/32 (image tower, renamed), AMT-S and VideoMAE-v2 ViT-g/14 at full size (meta
    device): every key and shape equals the reference model's state dict."""
    from macedance.metrics.video.amt import AMTS
    from macedance.metrics.video.videomae import VideoMAEv2
    from macedance.metrics.video.vit import ClipVisual, DinoViT, clip_state_from_openai

    ref = json.loads((PARITY / "vit_layouts.json").read_text())
    ref_clip = clip_state_from_openai({k: tuple(v) for k, v in ref["clip_vit_b32"].items()})
    for ours, theirs in ((DinoViT, ref["dino_vitb16"]), (ClipVisual, ref_clip), (AMTS, ref["amt_s"]), (VideoMAEv2, ref["videomae_v2_g"])):
        assert _shapes(ours) == {k: tuple(v) for k, v in theirs.items()}, ours.__name__


def test_clip_archive_is_read_without_running_it(tmp_path):
    """OpenAI's CLIP file is a TorchScript archive: its tensors are read by the restricted unpickler, equal to
    torch.jit.load's; a data.pkl naming any other global is refused before anything runs."""
    from macedance.safe_pickle import load_torch_archive

    src = _clip(tmp_path)
    ours = load_torch_archive(src.read_bytes(), str(src))
    theirs = torch.jit.load(str(src)).state_dict()
    assert set(ours) == set(theirs) and all(torch.equal(ours[k], theirs[k]) for k in theirs)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("evil/data.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")  # os.system("echo pwned")
    with pytest.raises(UnsafePickleError, match="os.system"):
        load_torch_archive(buf.getvalue(), "evil.pt")
    (tmp_path / "evil.pt").write_bytes(buf.getvalue())
    r = runner.invoke(app, ["weights", "import", "clip-vit-b32", str(tmp_path / "evil.pt")])
    assert r.exit_code == 2 and "refused to load" in r.stderr and "os.system" in r.stderr
    r = runner.invoke(app, ["weights", "import", "clip-vit-b32", str(src)])
    assert r.exit_code == 0, r.output
    assert manifest("clip-vit-b32")["verification"].endswith("not the published file (its sha256 differs)")
    state = load_weights("clip-vit-b32")
    assert torch.equal(state["proj"], state["proj"].half().float())  # clip.load's float16 rounding
    wrong = tmp_path / "wrong.pt"
    torch.save({"visual.conv1.weight": torch.zeros(8, 3, 32, 32)}, wrong)
    r = runner.invoke(app, ["weights", "import", "clip-vit-b32", str(wrong)])
    assert r.exit_code == 2 and "not the CLIP ViT image encoder's state dict" in r.stderr


def _write(folder: Path, seeds: range, t: int = 3) -> None:
    from macedance.io.video import write_video

    folder.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        write_video(folder / f"clip{s % 10}.mkv", list(moving_frames(seed=s, t=t, h=120, w=136)), 8)


def test_eval_video_vbench_and_cd_fvd_cli(tmp_path):
    """Missing weights name the import command; the record holds the generated and the ground-truth values,
    per-video scores and the architecture; a second run is served from the per-video cache."""
    _write(tmp_path / "gt", range(10, 12))
    _write(tmp_path / "pred", range(20, 22))
    args = ["eval", "video", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt")]
    r = runner.invoke(app, args + ["--metrics", "subject-consistency"])
    assert r.exit_code == 2 and "macedance weights import dino-vitb16 FILE" in r.stderr
    for name, make in (("dino-vitb16", _dino), ("clip-vit-b32", _clip), ("amt-s", _amt), ("videomae-v2-g-ssv2", _videomae)):
        _import(name, make(tmp_path))
    out = tmp_path / "r.json"
    metrics = "subject-consistency,background-consistency,motion-smoothness,cd-fvd"
    r = runner.invoke(app, args + ["--metrics", metrics, "--json", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.read_text())
    for m in ("subject-consistency", "background-consistency", "motion-smoothness"):
        s = rec["scores"][m]
        assert 0 < s["value"] <= 1 and 0 < s["details"]["gt_value"] <= 1 and s["n"] == 2, (m, s)
        assert set(s["details"]["per_video"]) == {"clip0", "clip1"} and len(s["details"]["gt_per_video"]) == 2
    sc = rec["scores"]["subject-consistency"]["details"]
    pooled = np.sum([[v * 2, 2] for v in sc["per_video"].values()], axis=0)  # 3 frames: 2 pairs each
    assert rec["scores"]["subject-consistency"]["value"] == pytest.approx(pooled[0] / pooled[1], rel=1e-12)
    assert sc["architecture"] == TINY_DINO and sc["architecture_published"] is False
    cd = rec["scores"]["cd-fvd"]
    assert cd["value"] > 0 and cd["n"] == 2 and cd["details"]["resampling"].startswith("none")
    r = runner.invoke(app, args[:3] + [str(tmp_path / "gt")] + args[4:] + ["--metrics", "cd-fvd", "--json", str(out)])
    assert r.exit_code == 0 and abs(json.loads(out.read_text())["scores"]["cd-fvd"]["value"]) < 1e-6  # a set against itself
    cache = list((tmp_path / "cache" / "video-features").rglob("*.npz"))
    r = runner.invoke(app, args + ["--metrics", metrics, "--json", str(out)])
    assert r.exit_code == 0 and list((tmp_path / "cache" / "video-features").rglob("*.npz")) == cache
    assert json.loads(out.read_text())["scores"] == rec["scores"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_vbench_networks_batched_on_cuda_match_the_cpu(tmp_path):
    """DINO, CLIP (frame batches) and AMT-S (32 pairs per pass) on CUDA give the CPU's scores up to float32
    round-off; the evaluation runs there end to end."""
    from macedance.metrics.video.consistency import motion_smoothness, video_consistency
    from macedance.metrics.video.networks import load_network

    for name, make in (("dino-vitb16", _dino), ("clip-vit-b32", _clip), ("amt-s", _amt)):
        _import(name, make(tmp_path))
    for name, transform in (("dino-vitb16", "dino"), ("clip-vit-b32", "clip")):
        cpu, gpu = (load_network(name, d)[0] for d in ("cpu", "cuda"))
        for frames in VIDEOS.values():
            a, b = video_consistency(cpu, [frames], transform=transform), video_consistency(gpu, [frames], transform=transform, device="cuda")
            assert b[1] == a[1] and abs(b[0] - a[0]) < 1e-4 * a[1]
    cpu, gpu = (load_network("amt-s", d)[0] for d in ("cpu", "cuda"))
    for frames in amt_videos().values():
        assert abs(motion_smoothness(gpu, iter(frames), device="cuda", batch=32) - motion_smoothness(cpu, iter(frames))) < 1e-3
