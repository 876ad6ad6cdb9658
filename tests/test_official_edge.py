"""The EDGE port (macedance.models.official.edge / edge_sampling) against the original code.

Fixtures (tests/parity/edge_official_tiny.{pt,npz}) were made by running the ORIGINAL code outside the project:
Stanford-TML/EDGE@17c3428 ``model/model.py::DanceDecoder`` and ``model/diffusion.py::GaussianDiffusion`` (built as
``EDGE.py`` builds them: cosine schedule, x0 prediction, guidance weight 2), ``vis.py::SMPLSkeleton`` and
``dataset/quaternion.py``, with pytorch3d v0.7.2's pure-Python ``rotation_conversions.py`` as ``pytorch3d.transforms``,
on a model with latent 16, ff 32, 2 decoder layers, 2 heads, seq_len 20, 35-d music, random null embeddings, in eval
mode. The ``.pt`` is the original code's own ``torch.save`` of the ``EDGE.py`` checkpoint dict (model weights, EMA
weights = model + 0.01·randn — the outputs use the EMA weights, as EDGE's ``test.py`` does —, a fresh Adan state and a
pickled ``dataset.preprocess.Normalizer``). How it was run: docs/published-methods.md (Parity).

Tolerances: 1e-5 relative to each array's scale. The port calls the same torch operations in the same order as the
original (the same ``nn.MultiheadAttention`` calls with q = k ≠ v, the same rotary, FiLM and DDIM arithmetic, the
same pytorch3d v0.7.2 rotation formulas), so on CPU in float32 the network, the sampler, ``smpl_poses`` and
``smpl_trans`` come out bit-identical here; the bound leaves room for the summation order of other BLAS/attention
kernels (~1e-7 per op at these sizes). ``full_pose`` uses our forward kinematics (rotation matrices instead of
EDGE's quaternion chain): ~1e-6 absolute on joints of magnitude ~5.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from macedance.errors import DataFormatError, ValidationError
from macedance.methods.official.checkpoint import read_released_checkpoint
from macedance.models.official.ddim import Noise
from macedance.models.official.edge import EdgeConfig, EdgeDanceDecoder
from macedance.models.official.edge_sampling import edge_ddim_sample, edge_long_ddim_sample, long_guidance_weights, render_long, stitch_long

from conftest import close_to as close
from conftest import parity_arrays

PARITY = Path(__file__).parent / "parity"
CKPT = PARITY / "edge_official_tiny.pt"
HEADS = 2  # the fixture model's head count (not visible in the shapes)
pytestmark = pytest.mark.usefixtures("one_torch_thread")




@pytest.fixture(scope="module")
def fx():
    return parity_arrays("edge_official_tiny")


@pytest.fixture(scope="module")
def ckpt():
    return read_released_checkpoint(CKPT, weights="ema")


@pytest.fixture(scope="module")
def model(ckpt):
    m = EdgeDanceDecoder(EdgeConfig.from_state_dict(ckpt.state_dict, num_heads=HEADS))
    m.load_state_dict(ckpt.state_dict, strict=True)
    return m.eval()


def test_checkpoint_loads_strict_with_official_names_and_order(ckpt, model):
    assert set(ckpt.entries) == {"ema_state_dict", "model_state_dict", "optimizer_state_dict", "normalizer"}
    assert model.cfg == EdgeConfig(seq_len=20, latent_dim=16, ff_size=32, num_layers=2, num_heads=2, cond_feature_dim=35)
    assert list(model.state_dict()) == list(ckpt.state_dict)  # same keys in the same order (shared rotary buffer repeated)
    assert "cond_encoder.1.rotary.freqs" in ckpt.state_dict and "seqTransDecoder.stack.1.rotary.freqs" in ckpt.state_dict
    plain = read_released_checkpoint(CKPT, weights="model").state_dict
    assert not torch.equal(plain["final_layer.weight"], ckpt.state_dict["final_layer.weight"])


@pytest.mark.parametrize("cond_dim", [4800, 35])
def test_released_structure_equals_the_original(fx, cond_dim):
    ref = json.loads(str(fx["released_json"]))[str(cond_dim)]
    full = EdgeDanceDecoder(EdgeConfig(cond_feature_dim=cond_dim))
    assert [[k, list(v.shape)] for k, v in full.state_dict().items()] == ref["shapes"]
    assert sum(p.numel() for p in full.parameters()) == ref["parameters"]  # 49,464,471 with Jukebox features
    assert EdgeConfig.from_state_dict(full.state_dict()) == full.cfg


def test_seeded_initialisation_equals_the_original(fx):
    """Modules are built in the original order: the same seed gives the original's initial weights."""
    plain = read_released_checkpoint(CKPT, weights="model").state_dict
    torch.manual_seed(0)
    fresh = EdgeDanceDecoder(EdgeConfig.from_state_dict(plain, num_heads=HEADS)).state_dict()
    for k, v in fresh.items():
        expected = torch.as_tensor(fx["init_sd." + k]) if k.startswith("null_cond") else plain[k]
        assert torch.equal(v, expected), k


@pytest.mark.parametrize("keep, key", [(True, "fwd_keep"), (False, "fwd_drop")])
def test_forward_equals_the_original(fx, model, keep, key):
    x, cond, times = (torch.as_tensor(fx[k]) for k in ("fwd_x", "fwd_cond", "fwd_times"))
    with torch.no_grad():
        out = model(x, cond, times, keep=torch.full((2,), keep))
    close(out.numpy(), fx[key])
    # cond_drop_prob 0 and 1 draw no random numbers in the original (prob_mask_like's early returns)
    draws = json.loads(str(fx["draws_json"]))
    assert draws["forward_keep"] == draws["forward_drop"] == draws["guided_forward"] == []


def test_guided_forward_and_mixed_keep(fx, model):
    x, cond, times = (torch.as_tensor(fx[k]) for k in ("fwd_x", "fwd_cond", "fwd_times"))
    with torch.no_grad():
        close(model.guided_forward(x, cond, times, weight=2.0).numpy(), fx["fwd_guided"])
        mixed = model(x, cond, times, keep=torch.tensor([True, False]))
    close(mixed[0].numpy(), fx["fwd_keep"][0])
    close(mixed[1].numpy(), fx["fwd_drop"][1])


def test_non_rotary_variant_equals_the_original(fx):
    sd = {k.removeprefix("norot_sd."): torch.as_tensor(v) for k, v in fx.items() if k.startswith("norot_sd.")}
    cfg = EdgeConfig.from_state_dict(sd, num_heads=HEADS)
    assert not cfg.use_rotary
    m = EdgeDanceDecoder(cfg)
    m.load_state_dict(sd, strict=True)
    x, cond, times = (torch.as_tensor(fx[k]) for k in ("fwd_x", "fwd_cond", "fwd_times"))
    with torch.no_grad():
        for keep, key in ((True, "norot_keep"), (False, "norot_drop")):
            close(m.eval()(x, cond, times, keep=torch.full((2,), keep)).numpy(), fx[key])


class _Recording(Noise):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.draws: list[str] = []

    def randn(self, shape, *, device="cpu"):
        self.draws.append(f"randn({', '.join(map(str, shape))})")
        return super().randn(shape, device=device)


@pytest.mark.parametrize("tag, seed, key", [("long", 5, "long_ddim_sample"), ("one", 7, "long_ddim_sample_batch1")])
def test_long_ddim_sample_equals_the_original(fx, model, tag, seed, key):
    """B = 3 windows with the overlap copy and the guidance ramp; B = 1 takes the released ``ddim_sample`` branch."""
    noise = _Recording(seed=seed, mode="official")
    out = edge_long_ddim_sample(model, torch.as_tensor(fx[f"{tag}_cond"]), noise=noise)
    close(out.numpy(), fx[f"{tag}_sample"])
    # the same random draws in the same order (randn_like(x) draws what randn(x.shape) draws)
    assert noise.draws == [d.replace("randn_like", "randn") for d in json.loads(str(fx["draws_json"]))[key]]
    half = out.shape[1] // 2
    if tag == "long":  # the final x0 (t = 19) is not overwritten: the overlaps agree only approximately
        assert not torch.equal(out[1:, :half], out[:-1, half:])


def test_plain_ddim_sample_is_the_batch1_branch(fx, model):
    cond = torch.as_tensor(fx["one_cond"])
    direct = edge_ddim_sample(model, cond, noise=Noise(seed=7, mode="official"))
    assert torch.equal(direct, edge_long_ddim_sample(model, cond, noise=Noise(seed=7, mode="official")))


def test_guidance_ramp():
    w = long_guidance_weights(2.0, 50)
    assert len(w) == 50 and w[0] == 0.0 and w[-1] == 2.0 and w[24] == pytest.approx(24 * 4 / 49)
    assert all(b >= a for a, b in zip(w[:-1], w[1:], strict=True)) and max(w) == 2.0


@pytest.mark.parametrize("tag", ["long", "one"])
def test_long_render_equals_the_original_pkl(fx, ckpt, tag):
    """``render_sample(mode="long")``'s file: unnormalise, cross-fade/slerp the windows, FK."""
    out = render_long(torch.as_tensor(fx[f"{tag}_sample"]), normalizer=ckpt.normalizer)
    for k in ("smpl_poses", "smpl_trans", "full_pose"):
        close(out[k], fx[f"render_{tag}_{k}"])
    frames = 20 + 10 * (fx[f"{tag}_sample"].shape[0] - 1)
    assert out["smpl_poses"].shape == (frames, 72) and out["full_pose"].shape == (frames, 24, 3)


def test_stitch_long_joins_windows_at_the_seams(fx, ckpt):
    windows = ckpt.normalizer.unnormalize(torch.as_tensor(fx["long_sample"]))
    poses, trans = stitch_long(windows)
    # outside the overlaps: the windows' own root positions; the overlap starts fully on the earlier window
    close(trans[:10].numpy(), windows[0, :10, 4:7].numpy())
    close(trans[30:].numpy(), windows[2, 10:, 4:7].numpy())
    close(trans[10].numpy(), windows[0, 10, 4:7].numpy())
    with pytest.raises(ValidationError, match="T even"):
        stitch_long(windows[:, :19])


def test_bad_inputs_fail_with_one_line_errors(ckpt, model):
    sd = dict(ckpt.state_dict)
    del sd["cond_projection.weight"]
    with pytest.raises(DataFormatError, match="cond_projection.weight"):
        EdgeConfig.from_state_dict(sd, source="x.pt")
    with pytest.raises(ValidationError, match="latent_dim"):
        EdgeConfig(latent_dim=18, num_heads=4)
    x = torch.zeros(2, 20, 151)
    with pytest.raises(ValidationError, match="cond"):
        model(x, torch.zeros(2, 21, 35), torch.zeros(2, dtype=torch.long), keep=torch.ones(2, dtype=torch.bool))
    with pytest.raises(ValidationError, match="keep"):
        model(x, torch.zeros(2, 20, 35), torch.zeros(2, dtype=torch.long), keep=torch.ones(2))


def test_released_edge_generates_the_originals_file_end_to_end(fx, tmp_path):
    """The method runner (window features → long sampling → stitching → Motion → official .pkl) equals the original
    ``test.py`` path: `render_sample(mode="long")`'s file for the same seed and windows."""
    import pickle

    from macedance.methods.official.edge import ReleasedEdge
    from macedance.methods.official.output import write_official_pkl
    from macedance.methods.official.released import generate_released

    windows = tmp_path / "song.npy"
    np.save(windows, fx["long_cond"])  # (S, seq_len, 35): EDGE's per-window features
    runner = ReleasedEdge(CKPT, num_heads=HEADS, rng="official")
    motion = generate_released(runner, windows, seconds=None, seed=5, genre=None)
    assert motion.num_frames == 40 and motion.up_axis == "z" and motion.meta["weights"] == "ema"
    with open(write_official_pkl(tmp_path / "song.pkl", motion), "rb") as f:
        written = pickle.load(f)  # our own file: numpy arrays only
    for k in ("smpl_poses", "smpl_trans", "full_pose"):
        close(written[k], fx[f"render_long_{k}"])
    # seconds cut the output; a continuous (T, 35) array is cut into windows at half-window stride
    short = generate_released(runner, windows, seconds=1.0, seed=5, genre=None)
    assert short.num_frames == 30 and short.meta["windows"] == "2"
    cont = tmp_path / "cont.npy"
    np.save(cont, np.concatenate([fx["long_cond"][0], fx["long_cond"][2]]))
    assert generate_released(runner, cont, seconds=None, seed=5, genre=None).num_frames == 40
    with pytest.raises(Exception, match="asked for 2.00 s"):
        generate_released(runner, windows, seconds=2.0, seed=5, genre=None)


def test_jukebox_checkpoint_on_audio_names_the_feature_files(tmp_path, monkeypatch):
    from macedance.methods.official.edge import edge_windows

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))  # no Jukebox weights imported
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"")
    with pytest.raises(Exception, match="cache_features"):
        edge_windows(wav, dim=4800, window=150)
    folder = tmp_path / "feats"
    folder.mkdir()
    for i in (1, 0, 10, 2):
        np.save(folder / f"song_slice{i}.npy", np.full((4, 3), i, np.float32))
    got, length = edge_windows(folder, dim=3, window=4)
    assert got[:, 0, 0].tolist() == [0, 1, 2, 10] and length is None  # slice order, not name order
    np.save(folder / "song_slice3.npy", np.zeros((5, 3), np.float32))
    with pytest.raises(DataFormatError, match="song_slice3.npy"):
        edge_windows(folder, dim=3, window=4)
