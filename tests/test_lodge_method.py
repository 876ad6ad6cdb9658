"""``lodge-official`` as a method: the LODGE folder layout (two stage checkpoints and ``Normalizer.pth``), the music
cut to whole windows, genres, the official (T, 139) array, ``weights import``, ``generate motion`` and ``bench run
--task finedance-motion`` (tiny random networks of the released structure; the port is proven equal to the original
code in test_official_lodge.py)."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from macedance.cli import app
from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError
from macedance.io.motion_formats import read_motion_file
from macedance.io.motion_layouts import finedance_motion
from macedance.methods.official import lodge as lodge_method
from macedance.methods.official.lodge import FILES, ReleasedLodge
from macedance.models.official.ddim import Noise
from macedance.models.official.lodge import LodgeGlobalConfig, LodgeGlobalDecoder, LodgeLocalConfig, LodgeLocalDecoder, lodge_genre_id
from macedance.models.official.lodge_sampling import lodge_generate
from macedance.models.official.normalizer import MinMaxNormalizer
from macedance.schema import Motion, load_generated

pytestmark = pytest.mark.usefixtures("one_torch_thread")
runner = CliRunner()
TINY = dict(latent_dim=16, ff_size=32, num_layers=2, num_heads=2)


@pytest.fixture(autouse=True)
def _env(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setattr(lodge_method, "RELEASED_HEADS", 2)  # the tiny networks' head count (released: 8)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A LODGE folder: Lightning-layout checkpoints (``state_dict`` with ``DanceDecoder.`` and the EMA copy) and a
    normaliser fitted on plausible 139-d motion (contacts, root, 6D), all from seeded random numbers."""
    root = tmp_path_factory.mktemp("lodge")
    torch.manual_seed(0)
    for part, net in (("global", LodgeGlobalDecoder(LodgeGlobalConfig(**TINY))), ("local", LodgeLocalDecoder(LodgeLocalConfig(**TINY)))):
        sd = net.state_dict()
        state = {**{f"DanceDecoder.{k}": v for k, v in sd.items()}, **{f"diffusion.master_model.{k}": v for k, v in sd.items()}}
        (root / FILES[part]).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": state, "epoch": 1, "global_step": 1, "pytorch-lightning_version": "1.9.5"}, root / FILES[part])
    data = torch.randn(500, 139, generator=torch.Generator().manual_seed(1)) * 0.3
    data[:, 5] += 0.9  # root height
    (root / FILES["normalizer"]).parent.mkdir(parents=True)
    torch.save(MinMaxNormalizer.fit(data).state_dict(), root / FILES["normalizer"])
    return root


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    path = tmp_path_factory.mktemp("music") / "song.npy"
    np.save(path, np.random.default_rng(3).normal(size=(1300, 35)).astype(np.float32))
    return path


def test_generation_is_infer_lodge(release, music):
    m = ReleasedLodge(release, rng="official")
    out, arrays = m.generate_file(music, seconds=None, seed=5, genre="Popping")
    direct = lodge_generate(m.global_model, m.local_model, torch.from_numpy(np.load(music)), genre=lodge_genre_id("Popping"),
                            normalizer=m.normalizer, noise=Noise(seed=5, mode="official"))
    assert np.array_equal(arrays["npy"], direct.motion.numpy()) and arrays["npy"].shape == (1280, 139)  # ⌊1300/256⌋ windows
    ref = finedance_motion(arrays["npy"], source="x")
    assert isinstance(out, Motion) and out.fps == 30.0 and out.up_axis == "y" and np.array_equal(out.poses, ref.poses)
    assert out.meta["genre"] == "Popping" and out.meta["windows"] == "5"
    cut = m.generate(music, seconds=1024 / 30, seed=5, genre="gPO")  # the music cut to one global window; AIST++ genre mapped
    one = lodge_generate(m.global_model, m.local_model, torch.from_numpy(np.load(music)[:1024]), genre=1, normalizer=m.normalizer,
                         noise=Noise(seed=5))
    assert cut.num_frames == 1024 and np.array_equal(cut.poses, finedance_motion(one.motion.numpy(), source="x").poses)


def test_errors_name_the_files(release, music, tmp_path):
    for part in ("global", "local"):
        (tmp_path / "partial" / FILES[part]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "partial" / FILES[part]).write_bytes((release / FILES[part]).read_bytes())
    with pytest.raises(InputNotFoundError, match="Normalizer.pth: not found .LODGE's normalizer file; or `macedance weights import lodge-normalizer"):
        ReleasedLodge(tmp_path / "partial")
    swapped = tmp_path / "swapped"
    for part, other in (("global", "local"), ("local", "global"), ("normalizer", "normalizer")):
        (swapped / FILES[part]).parent.mkdir(parents=True, exist_ok=True)
        (swapped / FILES[part]).write_bytes((release / FILES[other]).read_bytes())
    with pytest.raises(DataFormatError, match="expected the global and the local stage, found local and global"):
        ReleasedLodge(swapped)
    m = ReleasedLodge(release)
    with pytest.raises(MaceDanceError, match="LODGE needs 51.20 s for 44.00 s of dance"):
        m.generate(music, seconds=44.0, seed=0, genre=None)


def test_weights_import_and_cli(release, music, tmp_path):
    for part in ("global", "local", "normalizer"):
        r = runner.invoke(app, ["weights", "import", f"lodge-{part}", str(release / FILES[part])])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["weights", "import", "lodge-global", str(release / FILES["local"])])
    assert r.exit_code == 2 and "a LODGE local-stage checkpoint, not the global stage" in " ".join(r.output.split())
    r = runner.invoke(app, ["generate", "motion", "--method", "lodge-official", "--music", str(music), "--genre", "Jazz",
                            "--seconds", "34.1333", "--out", str(tmp_path / "a.npy")])
    assert r.exit_code == 0, r.output
    direct = ReleasedLodge(release).generate_file(music, seconds=1024 / 30, seed=0, genre="Jazz")[1]["npy"]
    assert np.array_equal(np.load(tmp_path / "a.npy"), direct)  # the imported weights are the folder's
    assert read_motion_file(tmp_path / "a.npy").format == "finedance"


def test_bench_run_finedance_motion(release, tmp_path):
    import soundfile as sf

    from macedance.benchmark.records import load_record
    from macedance.datasets import import_finedance
    from macedance.datasets.synthetic import synthetic_motion, write_finedance_npy
    from macedance.music.synth import beat_times, drum_track

    src, audio = tmp_path / "motion", tmp_path / "music"
    audio.mkdir()
    for i, seq in enumerate(("001", "063", "120")):  # 063 and 120 are in FineDance's cross-genre test split
        write_finedance_npy(synthetic_motion(seconds=35, fps=30, bpm=100 + 10 * i, seed=i), src / f"{seq}.npy")
        sf.write(audio / f"{seq}.wav", drum_track(beat_times(100 + 10 * i, 35.0, start=0.0), 35.0, sr=22050), 22050)
    import_finedance(src, tmp_path / "data")
    r = runner.invoke(app, ["bench", "run", "--task", "finedance-motion", "--method", "lodge-official", "--ckpt", str(release),
                            "--data", str(tmp_path / "data"), "--music", str(audio), "--out", str(tmp_path / "res"), "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    rec = load_record(next((tmp_path / "res").glob("*.json")))
    assert not rec["dataset"]["skipped"] and rec["scores"]["fid_k"]["value"] is not None
    assert "none stated (no LICENSE file)" in rec["method"]["licence"] and len(rec["method"]["weights"]) == 3
    outputs = sorted((tmp_path / "res").rglob("outputs/*.npz"))
    assert len(outputs) == 2 and all(load_generated(p).num_frames == 1024 for p in outputs)
