"""The FineNet port (macedance.models.official.finenet / finenet_sampling) against the original FineDance code.

Fixtures (tests/parity/finenet_official_tiny.{pt,npz}) were made by running the ORIGINAL code outside the project:
li-ronghui/FineDance@bb13fe8 ``model/model.py::SeqModel`` and ``model/diffusion.py::GaussianDiffusion`` built as
``train_seq.py``'s ``EDGE.__init__`` builds them (cosine schedule, x0 prediction, guidance weight 2, no normaliser),
``dataset/quaternion.py`` with pytorch3d v0.4.0's pure-Python ``rotation_conversions.py`` (the file of the "0.3.0"
FineDance pins that also exports what FineDance imports), on a SeqModel with latent 16, ff 32, 2 decoder layers,
2 heads, seq_len 20, random null embeddings, in eval mode. The ``.pt`` is the original code's own ``torch.save`` of
``train_seq.py``'s checkpoint dict (model weights, EMA weights = model + 0.01·randn — the outputs use the EMA weights,
as ``test.py`` does —, a fresh Adan state, ``normalizer`` None). How it was run: docs/published-methods.md (Parity).

Tolerance 1e-5 relative to each array's scale: the port calls the same torch operations in the same order as the
original (EDGE's DanceDecoder twice, the same DDIM arithmetic and stitching, pytorch3d 0.4's rotation formulas), so on
CPU in float32 the outputs are bit-identical here; the bound leaves room for other BLAS/attention kernels' summation
orders (~1e-7 per op at these sizes).
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from macedance.errors import DataFormatError, ValidationError
from macedance.methods.official.checkpoint import read_released_checkpoint
from macedance.models.official.ddim import Noise
from macedance.models.official.edge_sampling import edge_long_ddim_sample
from macedance.models.official.finenet import FineNet, FineNetConfig
from macedance.models.official.finenet_sampling import ax_from_6v_v04, render_long_finenet

from conftest import close_to as close
from conftest import parity_arrays

PARITY = Path(__file__).parent / "parity"
CKPT = PARITY / "finenet_official_tiny.pt"
HEADS = 2  # the fixture model's head count (not visible in the shapes)
pytestmark = pytest.mark.usefixtures("one_torch_thread")




@pytest.fixture(scope="module")
def fx():
    return parity_arrays("finenet_official_tiny")


@pytest.fixture(scope="module")
def ckpt():
    return read_released_checkpoint(CKPT, weights="ema")


@pytest.fixture(scope="module")
def model(ckpt):
    m = FineNet(FineNetConfig.from_state_dict(ckpt.state_dict, num_heads=HEADS))
    m.load_state_dict(ckpt.state_dict, strict=True)
    return m.eval()


def _inputs(fx):
    return (torch.as_tensor(fx[k]) for k in ("fwd_x", "fwd_cond", "fwd_times"))


def test_checkpoint_loads_strict_with_official_names(ckpt, model):
    assert set(ckpt.entries) == {"ema_state_dict", "model_state_dict", "optimizer_state_dict", "normalizer"} and ckpt.normalizer is None
    assert model.cfg == FineNetConfig(seq_len=20, latent_dim=16, ff_size=32, num_layers=2, num_heads=2)
    assert list(model.state_dict()) == list(ckpt.state_dict)
    assert "network.hand_net.cond_projection.weight" in ckpt.state_dict and ckpt.state_dict["network.hand_net.cond_projection.weight"].shape == (16, 174)
    plain = read_released_checkpoint(CKPT, weights="model").state_dict
    assert not torch.equal(plain["network.body_net.final_layer.weight"], ckpt.state_dict["network.body_net.final_layer.weight"])


def test_released_structure_and_seeded_initialisation_equal_the_original(fx):
    ref = json.loads(str(fx["released_json"]))
    with torch.device("meta"):
        full = FineNet(FineNetConfig())
    assert [[k, list(v.shape)] for k, v in full.state_dict().items()] == ref["shapes"]
    assert sum(p.numel() for p in full.parameters()) == ref["parameters"] == 94_107_455
    assert FineNetConfig.from_state_dict(full.state_dict()) == FineNetConfig()
    plain = read_released_checkpoint(CKPT, weights="model").state_dict
    torch.manual_seed(0)
    for k, v in FineNet(FineNetConfig.from_state_dict(plain, num_heads=HEADS)).state_dict().items():
        assert torch.equal(v, torch.as_tensor(fx["init_sd." + k]) if "null_cond" in k else plain[k]), k


@pytest.mark.parametrize("keep", [True, False])
def test_each_decoder_and_the_forward_equal_the_original(fx, model, keep):
    x, cond, times = _inputs(fx)
    k, tag = torch.full((2,), keep), "keep" if keep else "drop"
    with torch.no_grad():
        close(model.network["body_net"](x[..., :139], cond, times, keep=k).numpy(), fx[f"body_{tag}"])
        close(model.network["hand_net"](x[..., 139:], torch.cat([x[..., :139], cond], -1), times, keep=k).numpy(), fx[f"hand_{tag}"])
        close(model(x, cond, times, keep=k).numpy(), fx[f"fwd_{tag}"])
    draws = json.loads(str(fx["draws_json"]))
    assert draws["forward_keep"] == draws["forward_drop"] == draws["guided_forward"] == []


def test_guided_forward_equals_the_original(fx, model):
    x, cond, times = _inputs(fx)
    with torch.no_grad():
        close(model.guided_forward(x, cond, times, weight=2.0).numpy(), fx["fwd_guided"])


class _Recording(Noise):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.draws: list[str] = []

    def randn(self, shape, *, device="cpu"):
        self.draws.append(f"randn({', '.join(map(str, shape))})")
        return super().randn(shape, device=device)


@pytest.mark.parametrize("tag, seed, key", [("long", 5, "long_ddim_sample"), ("one", 7, "long_ddim_sample_batch1")])
def test_long_sampler_and_file_equal_the_original(fx, model, tag, seed, key):
    """EDGE's ``long_ddim_sample`` on the SeqModel (B = 3 windows; B = 1 takes ``ddim_sample``), then the
    ``render_sample(mode="long")`` file: smpl_poses (T', 156), smpl_trans."""
    noise = _Recording(seed=seed, mode="official")
    out = edge_long_ddim_sample(model, torch.as_tensor(fx[f"{tag}_cond"]), noise=noise)
    close(out.numpy(), fx[f"{tag}_sample"])
    assert noise.draws == [d.replace("randn_like", "randn") for d in json.loads(str(fx["draws_json"]))[key]]
    written = render_long_finenet(torch.as_tensor(fx[f"{tag}_sample"]))
    frames = 20 + 10 * (fx[f"{tag}_sample"].shape[0] - 1)
    assert written["smpl_poses"].shape == (frames, 156)
    for k in ("smpl_poses", "smpl_trans"):
        close(written[k], fx[f"render_{tag}_{k}"])


def test_pytorch3d_04_convention_keeps_angles_at_most_pi():
    torch.manual_seed(0)
    aa = ax_from_6v_v04(torch.randn(500, 6))
    assert float(torch.linalg.vector_norm(aa, dim=-1).max()) <= np.pi + 1e-5


def test_bad_inputs_fail_with_one_line_errors(ckpt, model):
    sd = {k: v for k, v in ckpt.state_dict.items() if not k.startswith("network.hand_net.")}
    with pytest.raises(DataFormatError, match="network.hand_net"):
        FineNetConfig.from_state_dict(sd, source="x.pt")
    with pytest.raises(ValidationError, match="319"):
        model(torch.zeros(2, 20, 151), torch.zeros(2, 20, 35), torch.zeros(2, dtype=torch.long), keep=torch.ones(2, dtype=torch.bool))
    edge_ckpt = read_released_checkpoint(PARITY / "edge_official_tiny.pt", weights="ema")
    from macedance.methods.official.finenet import load_finenet
    with pytest.raises(DataFormatError, match="network.body_net"):
        load_finenet(edge_ckpt, num_heads=HEADS)


def _close_rotations(a, b) -> None:
    """Generated rotations against the oracle's: 1e-5 of the scale for all but a few entries, 1e-3 for those. The
    oracle ran on an AVX-512 Xeon (our port: 0 difference there); with AVX2 kernels (AMD EPYC) float32 rounding differs
    by ~1e-7, and 40 frames of sampling amplify it at 3 of 2,880 entries (one joint of frame 38) to 1.1e-4 × scale,
    entries whose rotation is sensitive to its inputs; a wrong step or layer moves most entries by far more than 1e-3."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    err, scale = np.abs(a - b), np.abs(b).max()
    assert a.shape == b.shape and err.max() <= 1e-3 * scale, (err.max(), scale)
    assert (err > 1e-5 * scale).mean() <= 0.005, (err > 1e-5 * scale).mean()  # measured 0.0010 (AVX2), 0 (AVX-512)


def test_released_finenet_generates_the_originals_file_end_to_end(fx, tmp_path):
    """The method runner (window features → long sampling → stitching → Motion) equals the original ``test.py`` path."""
    from macedance.io.motion_layouts import finedance_pkl_motion
    from macedance.methods.official.released import build_released, generate_released

    windows = tmp_path / "song.npy"
    np.save(windows, fx["long_cond"])  # (S, seq_len, 35): per-window features
    runner = build_released("finenet-official", CKPT, num_heads=HEADS, rng="official")
    motion = generate_released(runner, windows, seconds=None, seed=5, genre=None)
    expected = finedance_pkl_motion({k: fx[f"render_long_{k}"] for k in ("smpl_poses", "smpl_trans")}, source="oracle")
    assert motion.num_frames == 40 and motion.up_axis == "y" and motion.meta["weights"] == "ema"
    _close_rotations(motion.poses, expected.poses)
    close(motion.trans, expected.trans)
    short = generate_released(runner, windows, seconds=1.0, seed=5, genre=None)
    assert short.num_frames == 30 and short.meta["windows"] == "2"


def test_generate_out_pkl_writes_finedances_own_file_with_the_hands(fx, tmp_path):
    """``generate motion --method finenet-official --out x.pkl`` writes ``render_sample(mode="long")``'s pickle
    ((T, 156) SMPL-H poses with the 30 hand joints, (T, 3) translation) — the original's file, not the EDGE layout."""
    import pickle

    from macedance.methods.official.output import write_official_pkl
    from macedance.methods.official.released import build_released, generate_released_file

    windows = tmp_path / "song.npy"
    np.save(windows, fx["long_cond"])
    runner = build_released("finenet-official", CKPT, num_heads=HEADS, rng="official")
    motion, arrays = generate_released_file(runner, windows, seconds=None, seed=5, genre=None)  # what the CLI calls
    with open(write_official_pkl(tmp_path / "dance.pkl", motion, arrays=arrays), "rb") as f:
        data = pickle.load(f)
    assert sorted(data) == ["smpl_poses", "smpl_trans"] and data["smpl_poses"].shape == (40, 156)
    assert data["smpl_poses"].dtype == np.float32
    _close_rotations(data["smpl_poses"], fx["render_long_smpl_poses"])
    close(data["smpl_trans"], fx["render_long_smpl_trans"])


def test_weights_import_checks_the_structure_and_serves_the_method(fx, tmp_path, monkeypatch):
    """``macedance weights import finenet train-2000.pt``: structure checked, no normaliser needed, the stored tensors
    give the same motion as the file itself; another method's checkpoint is refused."""
    import macedance.methods.official.weights  # noqa: F401  (declares the entries)
    from macedance.methods.official.released import build_released
    from macedance.weights import import_weights

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    import_weights("finenet", CKPT)
    feats = tmp_path / "song.npy"
    np.save(feats, np.concatenate([fx["long_cond"][0], fx["long_cond"][2]]))  # (T, 35) continuous features
    a = build_released("finenet-official", None, num_heads=HEADS).generate(feats, seconds=None, seed=1, genre=None)
    b = build_released("finenet-official", CKPT, num_heads=HEADS).generate(feats, seconds=None, seed=1, genre=None)
    assert a.num_frames == 40
    np.testing.assert_array_equal(a.poses, b.poses)
    with pytest.raises(DataFormatError, match="network.body_net"):
        import_weights("finenet", PARITY / "edge_official_tiny.pt")
