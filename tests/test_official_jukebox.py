"""The Jukebox port (macedance.models.official.jukebox) and EDGE's Jukebox features (macedance.music.jukebox) against
the original code.

Fixtures (tests/parity/jukebox_official_tiny*, jukebox_layout.json) were made by running the ORIGINAL code outside
the project: jukemirlib @ 98223a6 (``load_audio``, ``get_z``, ``get_cond``, ``get_activations_custom``, ``extract``)
with the Jukebox fork it installs (rodrigo-castellon/jukebox @ 6b44861: ``make_vqvae``, ``make_prior`` with
``hparams.vqvae`` / ``hparams.prior_5b``), unmodified, on CPU, 1 thread. The tiny models keep the released structure
(3 levels, hop 128, attn_order 2, blocks of 64 tokens, fp16 Conv1D weights as ``make_prior`` converts them, labels
with 5 genre words) at small sizes (VQ-VAE width 8, depth 2, 64 codes of 16; prior width 32, 2 heads, 6 blocks,
n_ctx 1024), with seeded random weights; their state dicts were saved by ``torch.save`` in the legacy (non-zip) format
of the released files. Inputs: a 2.5-s test tone written as 16-bit WAV at 44.1 kHz and at 22.05 kHz (resampled by
``librosa.load``'s soxr_hq, as ours); outputs of blocks 3 and 6 before and after the 30-fps FFT resampling. The
layout file is the full-size models' keys, shapes and dtypes, built as ``jukemirlib.setup_models`` builds them (on the
meta device). How it was run: docs/published-methods.md (Parity).

Tolerances: tokens are compared exactly — the nearest code wins by at least 3.4e-5 of the distances' scale (recorded
by the oracle), ~500× float32 rounding at these sizes, so no CPU or thread count flips one. Activations and features:
1e-5 relative to each array's scale; the port calls the same torch ops in the same order (the same ``addmm``,
``matmul``, mask and softmax sequence on the same block-padded tensors), so here they are bit-identical; the bound
leaves room for other BLAS/FFT kernels' summation order (~1e-7 per op over 6 blocks and one FFT).
"""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from macedance.errors import DataFormatError, MaceDanceError
from macedance.io.audio import load_audio
from macedance.models.official.jukebox import (
    JukeboxPriorConfig,
    JukeboxTopPrior,
    JukeboxVQVAE,
    JukeboxVQVAEConfig,
    jukebox_features,
    peak_normalised,
)

from conftest import close_to as close
from conftest import parity_arrays

PARITY = Path(__file__).parent / "parity"
VQ_FILE, PRIOR_FILE = PARITY / "jukebox_official_tiny_vqvae.pth.tar", PARITY / "jukebox_official_tiny_prior.pth.tar"
TINY_VQ = JukeboxVQVAEConfig(emb_width=16, l_bins=64, width=8, depth=2)
TINY_PRIOR = JukeboxPriorConfig(n_ctx=1024, width=32, depth=6, heads=2, blocks=16, bins=64, y_bins=(8, 16))
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tone(sr: int, seconds: float) -> np.ndarray:
    """The oracle's test tone (make_fixtures.py)."""
    n = int(round(sr * seconds))
    tt = np.arange(n) / sr
    y = 0.5 * np.sin(2 * np.pi * 220 * tt) + 0.3 * np.sin(2 * np.pi * 331 * tt + 0.5) * (1 + np.sin(2 * np.pi * 2 * tt))
    y += 0.2 * np.sign(np.sin(2 * np.pi * 4 * tt)) * np.sin(2 * np.pi * 1760 * tt)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def tone_wav(folder: Path, sr: int, name: str = "tone") -> Path:
    path = folder / f"{name}.wav"
    sf.write(path, tone(sr, 2.5), sr)  # 16-bit PCM, as EDGE's slice_audio writes its slices
    return path


@pytest.fixture(scope="module")
def fx():
    return parity_arrays("jukebox_official_tiny")


@pytest.fixture(scope="module")
def nets():
    vq = torch.load(VQ_FILE, map_location="cpu", weights_only=True)["model"]
    pr = torch.load(PRIOR_FILE, map_location="cpu", weights_only=True)["model"]
    vqvae = JukeboxVQVAE(TINY_VQ)
    vqvae.load_state_dict({k: v for k, v in vq.items() if not k.startswith("decoders.")}, strict=True)
    priors = {}
    for layers in (3, 6):
        prior = JukeboxTopPrior(TINY_PRIOR, layers=layers)
        keep = prior.state_dict().keys()
        prior.load_state_dict({k: v for k, v in pr.items() if k in keep}, strict=True)  # the rest: later blocks, x_out
        priors[layers] = prior.eval()
    return vqvae.eval(), priors


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jukebox-audio")
    return {tag: load_audio(tone_wav(folder, sr), 44100).samples for tag, sr in (("a44", 44100), ("a22", 22050))}


def test_full_size_layout_matches_the_released_models():
    """Every key and shape the released files hold (except the decoders and the token head, which extraction never
    uses) is built by the port, with the Conv1D weights in float16 as released."""
    layout = json.loads((PARITY / "jukebox_layout.json").read_text())
    with torch.device("meta"):
        ours = {"vqvae": JukeboxVQVAE().state_dict(), "prior": JukeboxTopPrior().state_dict()}
    for part, skipped in (("vqvae", ("decoders.",)), ("prior", ("prior.x_out.",))):
        ref = {k: v for k, v in layout[part].items() if not k.startswith(skipped)}
        assert sorted(ours[part]) == sorted(ref)
        assert all(list(ours[part][k].shape) == ref[k][0] for k in ref)
    assert len(layout["prior"]) - len(ours["prior"]) == 1 and len([k for k in layout["vqvae"] if k.startswith("decoders.")]) > 0
    fp16 = {k for k, (_, dtype) in layout["prior"].items() if dtype == "float16"}
    assert fp16 == {k for k in layout["prior"] if k.endswith(".w")} and len(fp16) == 72 * 4
    assert sum(int(np.prod(s)) for s, _ in layout["prior"].values()) == 5_060_452_800


def test_tokens_conditioning_and_block_outputs_equal_the_original(fx, nets, audio):
    vqvae, priors = nets
    for tag in ("a44", "a22"):
        x = peak_normalised(audio[tag])
        np.testing.assert_array_equal(x[:4096], fx[f"{tag}_audio_head"])  # our loader + soxr = librosa.load(sr=44100)
        tokens = vqvae.encode_top(torch.from_numpy(x[None]))
        np.testing.assert_array_equal(tokens.numpy(), fx[f"{tag}_tokens"])
    y_cond, x_cond = priors[6].y_emb(priors[6].labels())
    close(y_cond.detach().numpy(), fx["y_cond"])
    close(x_cond.detach().numpy(), fx["x_cond"])
    tokens = torch.from_numpy(fx["a44_tokens"])
    for layers, prior in priors.items():
        close(prior.activations(tokens).numpy(), fx[f"a44_raw{layers}"])


def test_features_equal_jukemirlib_extract(fx, nets, audio):
    vqvae, priors = nets
    for tag in ("a44", "a22"):
        for layers, prior in priors.items():
            feats = jukebox_features(audio[tag], vqvae=vqvae, prior=prior, fps=30)
            assert feats.shape == (75, 32) and feats.dtype == np.float32
            close(feats, fx[f"{tag}_feat{layers}"])


@pytest.fixture
def tiny_released(tmp_path, monkeypatch):
    """The tiny files standing in for the released ones: the import checks run against the tiny sizes."""
    import macedance.music.jukebox as mj

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(mj, "released_configs", lambda: (TINY_VQ, TINY_PRIOR))
    monkeypatch.setattr(mj, "EDGE_LAYER", 6)
    mj._LOADED.clear()
    yield mj
    mj._LOADED.clear()


def test_import_load_and_cache(fx, tiny_released, tmp_path):
    from macedance.weights import import_weights, manifest, weights_file

    mj = tiny_released
    with pytest.raises(MaceDanceError, match="jukebox-vqvae FILE"):
        mj.load_jukebox()
    import_weights("jukebox-vqvae", VQ_FILE)
    import_weights("jukebox-prior", PRIOR_FILE)
    assert manifest("jukebox-prior")["verification"] == "structure (keys and shapes); no published sha256"
    stored = torch.load(weights_file("jukebox-prior"), weights_only=True)["model"]
    assert "prior.x_out.weight" not in stored and stored["prior.transformer._attn_mods.0.attn.c_attn.w"].dtype == torch.float16
    ex = mj.load_jukebox()
    assert ex.layer == 6 and mj.load_jukebox() is not ex and mj.load_jukebox().prior is ex.prior  # loaded once
    samples = load_audio(tone_wav(tmp_path, 44100), 44100).samples
    close(ex.features(samples), fx["a44_feat6"])
    entries = list((tmp_path / "cache" / "jukebox").rglob("*.npz"))
    assert len(entries) == 1
    np.testing.assert_array_equal(ex.features(samples), np.load(entries[0])["features"])  # served from the cache
    assert "jukebox layer 6" in ex.describe()


def test_import_rejects_wrong_and_broken_files(tiny_released, tmp_path):
    from macedance.weights import import_weights

    with pytest.raises(DataFormatError, match="no `decoders"):
        import_weights("jukebox-vqvae", PRIOR_FILE)
    with pytest.raises(DataFormatError, match="not the Jukebox 5B top-level prior"):
        import_weights("jukebox-prior", VQ_FILE)
    broken = tmp_path / "prior_level_2.pth.tar"
    broken.write_bytes(PRIOR_FILE.read_bytes()[:5000])
    with pytest.raises(DataFormatError, match="not a readable Jukebox checkpoint") as info:
        import_weights("jukebox-prior", broken)
    assert "\n" not in str(info.value)


def test_released_sizes_reject_the_tiny_files(tmp_path, monkeypatch):
    from macedance.weights import import_weights

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataFormatError, match=r"missing \['prior.transformer._attn_mods.10"):  # 6 blocks, not 72
        import_weights("jukebox-prior", PRIOR_FILE)
    with pytest.raises(DataFormatError, match=r"VQ-VAE's state dict \(missing \['encoders.0.level_blocks.0.model.0.1.model.4"):  # depth 2·2, not 4·2
        import_weights("jukebox-vqvae", VQ_FILE)


def test_edge_windows_and_feature_cache_from_audio(fx, tiny_released, tmp_path):
    """EDGE's slicing (16-bit WAV slices at the native rate) → Jukebox features per window, as test.py computes them;
    the `data jukebox` writer stores them in EDGE's cache layout, which edge_windows reads back."""
    from macedance.methods.official.edge import edge_windows, music_feature_source, write_feature_cache
    from macedance.weights import import_weights

    import_weights("jukebox-vqvae", VQ_FILE)
    import_weights("jukebox-prior", PRIOR_FILE)
    wav = tone_wav(tmp_path, 44100, "song")
    windows, frames = edge_windows(wav, dim=32, window=75)
    assert windows.shape == (1, 75, 32) and frames == 75
    close(windows[0], fx["a44_feat6"])
    assert music_feature_source(wav, dim=32).startswith("jukebox layer 6 per window (jukebox-vqvae ")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt ")
    done, failed = write_feature_cache([wav, bad], tmp_path / "feats", dim=32, window=75)
    assert done == [("song", 1)] and [f for f, _ in failed] == [str(bad)]
    cached, _ = edge_windows(tmp_path / "feats" / "song", dim=32, window=75)
    np.testing.assert_array_equal(cached, windows)


def test_missing_jukebox_weights_name_the_commands(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from macedance.cli import app
    from macedance.methods.official.edge import edge_windows
    from macedance.weights import MissingWeightsError

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    wav = tone_wav(tmp_path, 44100)
    with pytest.raises(MissingWeightsError, match=r"Jukebox features; .*weights import jukebox-vqvae FILE.* or give the features precomputed"):
        edge_windows(wav, dim=4800)
    with pytest.raises(MaceDanceError, match="takes 512-d music features, which macedance does not compute"):
        edge_windows(wav, dim=512)
    result = CliRunner().invoke(app, ["data", "jukebox", str(wav), str(tmp_path / "out")])
    assert result.exit_code != 0 and "macedance weights import jukebox-vqvae FILE" in result.output
