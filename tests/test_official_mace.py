"""The released MACE-Dance Motion Expert port against the original code.

Fixtures (tests/parity/mace_official_tiny.{pt,npz}) were made by running the ORIGINAL code outside the project:
AMAP-ML/MACE-Dance@8f92d12 ``Expert-Motion/model/{model,diffusion}.py`` with its missing files taken from
Stanford-TML/EDGE@17c3428, mamba-ssm's pure-PyTorch reference scan on CPU, on an official-structure model with
latent 16 (8 dance + 2 music layers, as hard-coded); the ``.pt`` is the original code's own ``torch.save`` of the
EDGE.py checkpoint dict (model + different EMA weights + Adan state + a pickled ``dataset.preprocess.Normalizer``).
How it was run: docs/published-methods.md (Parity).

Tolerances: float32 on CPU with the same operation order except the selective scan (ours: a parallel scan;
the oracle: a sequential loop) and matmul/attention kernel summation orders: the differences are a few ulp per
layer (measured ≲ 1e-6 relative after 50 DDIM steps), below the 1e-5 relative bound asked of network ports.
"""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from macedance.errors import DataFormatError, UnsafePickleError, ValidationError
from macedance.methods.official.checkpoint import read_released_checkpoint
from macedance.methods.official.mace import ReleasedMace, load_mace, mace_genre
from macedance.methods.official.output import official_pkl_dict
from macedance.models.official.ddim import Noise, cosine_schedule, ddim_time_pairs
from macedance.models.official.mace import MaceConfig, MaceDanceDecoder
from macedance.models.official.mace_sampling import mace_ddim_sample
from macedance.models.representation import rep_to_motion

from conftest import close_to as close
from conftest import parity_arrays

PARITY = Path(__file__).parent / "parity"
CKPT = PARITY / "mace_official_tiny.pt"
pytestmark = [pytest.mark.skipif(not CKPT.is_file(), reason="MACE-Dance parity fixtures not present"),
              pytest.mark.usefixtures("one_torch_thread")]





@pytest.fixture(scope="module")
def fx():
    return parity_arrays("mace_official_tiny")


@pytest.fixture(scope="module")
def model():
    return load_mace(read_released_checkpoint(CKPT, weights="model"), num_heads=2)  # the fixture model's heads


def test_released_checkpoint_loads_strict_with_official_names(model):
    ckpt = read_released_checkpoint(CKPT, weights="model")
    assert set(ckpt.entries) == {"ema_state_dict", "model_state_dict", "optimizer_state_dict", "normalizer"}
    assert model.cfg == MaceConfig(latent_dim=16, ff_size=32, num_heads=2)
    assert set(model.state_dict()) == set(ckpt.state_dict)
    ema = read_released_checkpoint(CKPT, weights="ema").state_dict
    assert not torch.equal(ema["final_layer.weight"], ckpt.state_dict["final_layer.weight"])
    # The released model's tree: the same 373 keys, and the parameter count of the paper's checkpoint.
    full = MaceDanceDecoder()
    assert {k.split(".", 1)[0] for k in full.state_dict()} == {k.split(".", 1)[0] for k in ckpt.state_dict}
    assert sum(p.numel() for p in full.parameters()) == 66_680_983


def test_normalizer_equals_the_pickled_original(fx):
    norm = read_released_checkpoint(CKPT, weights="model").normalizer
    x = torch.as_tensor(fx["nrm_in"])
    np.testing.assert_allclose(norm.normalize(x).numpy(), fx["nrm_norm"], rtol=0, atol=1e-6)  # same float32 ops
    np.testing.assert_allclose(norm.unnormalize(x).numpy(), fx["nrm_unnorm"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("keep, key", [(True, "fwd_out_keep"), (False, "fwd_out_drop")])
def test_forward_equals_the_original(fx, model, keep, key):
    B = fx["fwd_x"].shape[0]
    with torch.no_grad():
        out = model(torch.as_tensor(fx["fwd_x"]), torch.as_tensor(fx["fwd_music"]), torch.as_tensor(fx["fwd_genre"]),
                        torch.as_tensor(fx["fwd_times"]), torch.as_tensor(fx["fwd_beta"]), keep=torch.full((B,), keep))
    close(out.numpy(), fx[key])


class RecordingNoise(Noise):
    """Noise that logs its draws in the oracle's notation ("rand(2)", "randn(2,40,151)")."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.log = []

    def randn(self, shape, *, device="cpu"):
        self.log.append("randn(" + ",".join(map(str, shape)) + ")")
        return super().randn(shape, device=device)

    def model_call(self, batch):
        if self.mode == "official":
            self.log.append(f"rand({batch})")
        super().model_call(batch)


@pytest.mark.parametrize("prefix, seed_key", [("smp", "smp_seed"), ("smp3", "smp3_seed")])
def test_sampler_with_official_rng_equals_the_original(fx, model, prefix, seed_key):
    noise = RecordingNoise(seed=int(fx[seed_key]), mode="official")
    x = mace_ddim_sample(model, torch.as_tensor(fx[f"{prefix}_music"]), torch.as_tensor(fx[f"{prefix}_genre"]), noise=noise)
    close(x.numpy(), fx[f"{prefix}_x"])
    if f"{prefix}_draws" in fx:
        # the oracle logs torch.randn / randn_like / rand calls: the same stream (randn_like draws as randn does)
        assert noise.log == [d.replace("randn_like(", "randn(") for d in json.loads(str(fx[f"{prefix}_draws"]))]


def test_schedule_and_time_grid_are_the_released_ones():
    pairs = ddim_time_pairs()
    assert pairs[0] == (999, 979) and pairs[-2] == (39, 19) and pairs[-1] == (19, -1) and len(pairs) == 50
    s = cosine_schedule()
    assert s.alphas_cumprod.dtype == torch.float32 and s.alphas_cumprod.shape == (1000,)
    assert 0 < float(s.alphas_cumprod[-1]) < 1e-4 < float(s.alphas_cumprod[0]) < 1


def test_output_files_equal_the_originals_render_sample(fx, model):
    norm = read_released_checkpoint(CKPT, weights="model").normalizer
    raw = norm.unnormalize(torch.as_tensor(fx["smp_x"]))
    close(raw.numpy(), fx["out_unnorm"])
    for b in range(raw.shape[0]):
        d = official_pkl_dict(rep_to_motion(raw[b].numpy().astype(np.float64)))
        close(d["smpl_trans"], fx["out_smpl_trans"][b])
        close(d["full_pose"], fx["out_full_pose"][b])
        # axis-angle is compared as the rotation it encodes (pytorch3d's log map and ours agree away from π)
        from macedance.motion.rotations import axis_angle_to_matrix

        close(axis_angle_to_matrix(d["smpl_poses"].reshape(-1, 24, 3).astype(np.float64)),
              axis_angle_to_matrix(fx["out_smpl_poses"][b].reshape(-1, 24, 3).astype(np.float64)))


def test_batch_of_one_works_although_the_original_crashes(fx, model):
    assert "Error" in str(fx["bug_b1_error"])  # the original fails here (β squeezed to a 0-d tensor)
    x = torch.as_tensor(fx["fwd_x"])
    args = (torch.as_tensor(fx["fwd_music"]), torch.as_tensor(fx["fwd_genre"]), torch.as_tensor(fx["fwd_times"]), torch.as_tensor(fx["fwd_beta"]))
    with torch.no_grad():
        both = model(x, *args, keep=torch.ones(2, dtype=torch.bool))
        one = model(x[:1], *(a[:1] for a in args), keep=torch.ones(1, dtype=torch.bool))
    # rows are independent; a batch of 1 and of 2 may take matmul/attention kernels that block differently (a few
    # float32 ulp per layer, ~1e-7 relative here), so the parity bound of the ports, 1e-5, applies
    close(one.numpy(), both[:1].numpy(), rtol=1e-5)


def test_rng_modes_differ_only_by_the_discarded_draws(fx, model):
    music, genre = torch.as_tensor(fx["smp_music"][:, :16]), torch.as_tensor(fx["smp_genre"])
    a = mace_ddim_sample(model, music, genre, noise=Noise(seed=3, mode="macedance"), steps=5)
    b = mace_ddim_sample(model, music, genre, noise=Noise(seed=3, mode="macedance"), steps=5)
    c = mace_ddim_sample(model, music, genre, noise=Noise(seed=3, mode="official"), steps=5)
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValidationError, match="rng"):
        Noise(seed=0, mode="fast")


def test_genres_follow_the_official_vocabulary():
    assert mace_genre("popping") == "Popping" and mace_genre("gBR") == "Breaking" and mace_genre(None) == "Hiphop"
    assert mace_genre("Break") == "Breaking" and mace_genre("LA-style Hip-hop") == "Hiphop"  # AIST++ importer names
    with pytest.raises(ValidationError, match="genre"):
        mace_genre("tango")
    assert mace_genre("tango", strict=False) == "Hiphop"


def test_generate_end_to_end_writes_official_pkl(tmp_path, fx):
    from macedance.methods.official.output import write_official_pkl
    from macedance.methods.official.released import generate_released

    feats = tmp_path / "song.npy"
    np.save(feats, fx["smp_music"][0])
    runner = ReleasedMace(CKPT, num_heads=2, rng="official")
    motion = generate_released(runner, feats, seconds=None, seed=7, genre="Wei")
    with pytest.raises(Exception, match="asked for 2.00 s"):
        generate_released(runner, feats, seconds=2.0, seed=7, genre="Wei")
    assert motion.num_frames == fx["smp_music"].shape[1] and motion.up_axis == "z" and motion.meta["genre"] == "Wei"
    out = write_official_pkl(tmp_path / "song.pkl", motion)
    with open(out, "rb") as f:
        d = pickle.load(f)  # our own file, numpy arrays only
    assert {k: v.shape for k, v in d.items()} == {"smpl_poses": (40, 72), "smpl_trans": (40, 3), "full_pose": (40, 24, 3)}


def test_bad_checkpoints_give_one_line_errors(tmp_path):
    raw = CKPT.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataFormatError, match="cut.pt") as info:
        read_released_checkpoint(cut, weights="model")
    assert "\n" not in str(info.value)
    with pytest.raises(Exception, match="not found"):
        read_released_checkpoint(tmp_path / "missing.pt", weights="model")
    other = tmp_path / "other.pt"
    torch.save({"model_state_dict": {"w": torch.zeros(2)}, "ema_state_dict": {"w": torch.zeros(2)}, "normalizer": None}, other)
    with pytest.raises(DataFormatError, match="not a MACE-Dance Motion Expert state dict"):
        load_mace(read_released_checkpoint(other, weights="model"))
    no_ema = tmp_path / "no_ema.pt"
    torch.save({"model_state_dict": {"w": torch.zeros(2)}}, no_ema)
    with pytest.raises(DataFormatError, match="ema_state_dict"):
        read_released_checkpoint(no_ema, weights="ema")


def test_checkpoint_pickle_cannot_run_code(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.pt"
    torch.save({"model_state_dict": {}, "normalizer": Evil()}, bad)
    with pytest.raises(UnsafePickleError, match="nothing was executed"):
        read_released_checkpoint(bad, weights="model")


def test_7z_archive_is_read_directly(tmp_path):
    py7zr = pytest.importorskip("py7zr")
    arc = tmp_path / "Expert-Motion.7z"
    with py7zr.SevenZipFile(arc, "w") as z:
        z.write(CKPT, "Expert-Motion/runs/train/exp/weights/train-3750.pt")
    a = read_released_checkpoint(arc, weights="model")
    b = read_released_checkpoint(CKPT, weights="model")
    assert a.sha256 != b.sha256 and a.source.endswith("train-3750.pt")
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in b.state_dict)
    broken = tmp_path / "broken.7z"
    broken.write_bytes(arc.read_bytes()[:200])
    with pytest.raises(DataFormatError, match="broken.7z"):
        read_released_checkpoint(broken, weights="model")


def _pickle_ops(path):
    """The class references and object-building opcodes of a torch archive's data.pkl."""
    import collections
    import io
    import pickletools
    import zipfile

    z = zipfile.ZipFile(path)
    out = io.StringIO()
    pickletools.dis(z.read(next(n for n in z.namelist() if n.endswith("data.pkl"))), out=out)
    ops = collections.Counter()
    for line in out.getvalue().splitlines():
        parts = line.split(None, 3)
        if len(parts) > 2 and parts[2] in ("GLOBAL", "NEWOBJ"):
            ops[" ".join(parts[2:])] += 1
    return ops


def test_exported_checkpoint_is_the_released_layout(tmp_path):
    """Our writer emits what EDGE.py's torch.save emits: the same class references, NEWOBJ for the two normaliser
    objects, and the same tensors. (The original MACE-Dance code itself was run on such a file outside the project:
    torch.load + DanceDecoder.load_state_dict + Normalizer.(un)normalize equal the original's — docs/published-methods.md.)"""
    import sys

    from macedance.methods.official.export import write_released_checkpoint

    model = read_released_checkpoint(CKPT, weights="model")
    ema = read_released_checkpoint(CKPT, weights="ema")
    out = write_released_checkpoint(tmp_path / "train-1.pt", model_state=model.state_dict, ema_state=ema.state_dict,
                                    normalizer=model.normalizer, optimizer_state={"state": {}, "param_groups": []})
    assert "dataset" not in sys.modules and "dataset.preprocess" not in sys.modules
    assert _pickle_ops(out) == _pickle_ops(CKPT)
    for weights, ref in (("model", model), ("ema", ema)):
        back = read_released_checkpoint(out, weights=weights)
        assert all(torch.equal(back.state_dict[k], ref.state_dict[k]) for k in ref.state_dict)
    back = read_released_checkpoint(out, weights="model").normalizer
    for a, b in ((back.scale, model.normalizer.scale), (back.offset, model.normalizer.offset), (back.data_min, model.normalizer.data_min)):
        assert torch.equal(a, b)
    assert back.samples == model.normalizer.samples == 60


def test_few_steps_give_finite_motion(fx, model):
    """3 steps: the released schedule's first √(1 − ᾱ_next − σ²) is √(−6e-8) in float32 (NaN in the original);
    clamped at 0 here, which changes nothing where the value is not negative (the parity tests above)."""
    x = mace_ddim_sample(model, torch.as_tensor(fx["smp_music"][:, :8]), torch.as_tensor(fx["smp_genre"]), noise=Noise(seed=1), steps=3)
    assert torch.isfinite(x).all()
