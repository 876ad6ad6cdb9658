"""The Bailando port (macedance.models.official.bailando / bailando_gpt) against the original code.

The fixture tests/parity/bailando_official_tiny.npz was made by running the ORIGINAL code outside the project:
lisiyao21/Bailando @ cc90b98bff81c9709570db413c9610c2562e27ca, ``models/`` as released except two CPU patches (the
codebook buffer ``k`` created without ``.cuda()`` in ``bottleneck.py``; the output of ``SepVQVAER.decode`` created on
the input's device instead of ``.cuda()``), torch 2.14 on CPU with one thread. ``SepVQVAER`` and ``CrossCondGPT2AC``
were built from ``configs/actor_critic.yaml`` with only widths shrunk through the config (both halves: width 16,
emb_width 16, l_bins 64; GPT: n_embd 32, 4 heads, base/head 2 layers, critic 1 layer, vocab 64; everything else as
released: 1 level, downs_t 3, stride 2, depth 3, dilation growth 3, reversed decoder dilation, block_size 29, 438-d
music). All parameters were then drawn from a seeded generator (∝ 1/√fan-in; LayerNorm gains 1 + 0.1·N), each
codebook ``k`` from N(mean, std) of its encoder's output on the input, and the models run in eval mode on a random
motion (2, 64, 72) and random music (2, 36, 438): (a) ``encode`` → tokens, ``decode`` → positions; (b) as
``actor_critic.py`` ``eval()``: the first encoded token of each half seeds ``gpt.sample(x, cond=music[:, 1:])``
(greedy), the tokens are decoded and the root is integrated from its velocity (``global_vel``); plus the logits and
critic values of one 5-step forward pass. ``released_shapes_json`` holds every state-dict name and shape of the two
models at the released sizes (unmodified yaml, built on the meta device).
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from macedance.errors import DataFormatError, UnsafePickleError, ValidationError
from macedance.models.official.bailando import BailandoVQVAEConfig, SepVQVAER, integrate_root, load_bailando_vqvae, read_bailando_checkpoint
from macedance.models.official.bailando_gpt import BailandoGPTConfig, CrossCondGPT2AC, bailando_generate, load_bailando_gpt

from bailando_release import easydict_stand_in
from conftest import close_to as close
from conftest import parity_arrays

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fx():
    return parity_arrays("bailando_official_tiny")


@pytest.fixture(scope="module")
def record(fx):
    return json.loads(str(fx["config_json"]))


def _state(fx, prefix):
    return {k[len(prefix):]: torch.from_numpy(v) for k, v in fx.items() if k.startswith(prefix)}


@pytest.fixture(scope="module")
def vq(fx, record):
    st = record["structure"]
    m = SepVQVAER(BailandoVQVAEConfig.from_record(st["up_half"]), BailandoVQVAEConfig.from_record(st["down_half"]))
    m.load_state_dict(_state(fx, "vq."), strict=True)
    return m.eval()


@pytest.fixture(scope="module")
def gpt(fx, record):
    m = CrossCondGPT2AC(BailandoGPTConfig.from_record(record["structure_generate"]))
    m.load_state_dict(_state(fx, "gpt."), strict=True)
    return m.eval()


def test_released_structure_equals_the_original(fx):
    shapes = json.loads(str(fx["released_shapes_json"]))
    with torch.device("meta"):
        ours = {"vqvae": SepVQVAER().state_dict(), "gpt": CrossCondGPT2AC().state_dict()}
    for part in ("vqvae", "gpt"):
        assert list(ours[part]) == list(shapes[part])  # same names, same order
        assert {k: list(v.shape) for k, v in ours[part].items()} == shapes[part]


def test_vqvae_encode_decode_equals_the_original(fx, vq):
    up, down = vq.encode(torch.from_numpy(fx["motion"]))
    assert np.array_equal(up.numpy(), fx["enc_up"]) and np.array_equal(down.numpy(), fx["enc_down"])
    assert len(np.unique(fx["enc_up"])) > 4  # the codes vary: the check means something
    close(vq.decode(up, down).numpy(), fx["vq_decoded"])  # same ops, same order: 0 on 1 thread, 3e-7 rel on 2; float32 rounding of any kernel order stays ≪ 1e-5


def test_gpt_forward_and_critic_equal_the_original(fx, gpt):
    up, down = torch.from_numpy(fx["gpt_up"][:, :5]), torch.from_numpy(fx["gpt_down"][:, :5])
    cond = torch.from_numpy(fx["music"][:, 1:6])
    with torch.no_grad():
        logit_up, logit_down = gpt(up, down, cond)
        value = gpt.critic(up, down, cond)
    close(logit_up.numpy(), fx["gpt_logits_up"])  # same ops, same order: 0 on 1 thread; 5 small layers of float32 ≪ 1e-5
    close(logit_down.numpy(), fx["gpt_logits_down"])  # as above
    close(value.numpy(), fx["critic_value"])  # as above


def test_greedy_generation_equals_the_original(fx, vq, gpt):
    up, down = vq.encode(torch.from_numpy(fx["motion"]))
    gen_up, gen_down, positions = bailando_generate(vq, gpt, first_up=up[:, :1], first_down=down[:, :1],
                                                    music=torch.from_numpy(fx["music"]))
    # exact: the smallest top-1/top-2 logit gap over all steps (gpt_logit_margin, ~6e-4 on logits of scale ~3) is
    # ~100x the float32 error any CPU kernel order can make, so greedy picks cannot flip
    assert np.array_equal(gen_up.numpy(), fx["gpt_up"]) and np.array_equal(gen_down.numpy(), fx["gpt_down"])
    assert gen_up.shape == (2, 36) and len(np.unique(fx["gpt_up"])) > 8  # > block_size: the sliding window is used
    close(vq.decode(gen_up, gen_down).numpy(), fx["gen_decoded"])  # same ops: 0 on 1 thread, 4e-7 rel on 2 threads
    # the root: our cumsum vs the original's frame loop (the integrated root, ~1e2, sets the scale)
    close(positions.numpy(), fx["gen_positions"])  # float32 partial sums, any order: 3e-5 abs = 2.6e-7 rel measured


def test_wrong_shapes_are_named(vq, gpt):
    with pytest.raises(ValidationError, match="Bailando motion"):
        vq.encode(torch.zeros(1, 64, 69))
    with pytest.raises(ValidationError, match="Bailando tokens"):
        vq.decode(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValidationError, match="block_size=29"):
        gpt(torch.zeros(1, 30, dtype=torch.long), torch.zeros(1, 30, dtype=torch.long), torch.zeros(1, 30, 438))


def test_integrate_root_starts_at_zero_and_sums_velocities():
    dec = torch.arange(2 * 4 * 72, dtype=torch.float32).view(2, 4, 72)
    out = integrate_root(dec)
    assert torch.equal(out[:, :, 3:], dec[:, :, 3:]) and torch.equal(out[:, 0, :3], torch.zeros(2, 3))
    assert torch.equal(out[:, 3, :3], dec[:, 0, :3] + dec[:, 1, :3] + dec[:, 2, :3])


@pytest.fixture
def easydict_module():
    """Registers the stand-in as ``easydict.EasyDict`` while the test writes its files (torch.save pickles by name)."""
    with easydict_stand_in() as cls:
        yield cls


def test_released_format_checkpoints_load_through_the_restricted_path(fx, record, vq, gpt, easydict_module, tmp_path):
    config = easydict_module({**record, "seed": 42, "global_vel": True, "optimizer": {"kwargs": {"betas": [0.5, 0.999]}}})
    for name, model in (("vq.pt", vq), ("gpt.pt", gpt)):  # DataParallel-saved: 'module.' prefixes
        torch.save({"model": {f"module.{k}": v for k, v in model.state_dict().items()}, "config": config, "epoch": 10},
                   tmp_path / name)
    sys.modules.pop("easydict")  # reading must not need (or import) the package
    ckpt = read_bailando_checkpoint(tmp_path / "vq.pt")
    assert ckpt.epoch == 10 and type(ckpt.config) is dict and type(ckpt.config["structure"]["up_half"]) is dict
    assert ckpt.config["optimizer"]["kwargs"]["betas"] == [0.5, 0.999] and "easydict" not in sys.modules
    loaded = load_bailando_vqvae(ckpt)
    up, down = loaded.encode(torch.from_numpy(fx["motion"]))
    assert np.array_equal(up.numpy(), fx["enc_up"]) and np.array_equal(down.numpy(), fx["enc_down"])
    g = load_bailando_gpt(read_bailando_checkpoint(tmp_path / "gpt.pt"))
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), gpt.state_dict().values(), strict=True))
    with pytest.raises(DataFormatError, match="not a Bailando CrossCondGPT2AC"):  # the VQ-VAE file holds no GPT
        load_bailando_gpt(ckpt)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_checkpoint_is_refused_without_running_it(tmp_path, vq):
    marker = tmp_path / "ran"
    torch.save({"model": {f"module.{k}": v for k, v in vq.state_dict().items()}, "config": _Evil(marker), "epoch": 1},
               tmp_path / "evil.pt")
    with pytest.raises(UnsafePickleError, match="refused"):
        read_bailando_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="not a torch archive"):
        read_bailando_checkpoint(tmp_path / "junk.pt")


def test_checkpoint_without_model_dict_or_with_a_looping_config_is_a_format_error(tmp_path):
    torch.save({"state_dict": {}, "epoch": 3}, tmp_path / "odd.pt")
    with pytest.raises(DataFormatError, match="expected Bailando's"):
        read_bailando_checkpoint(tmp_path / "odd.pt")
    loop: dict = {}
    loop["self"] = loop
    torch.save({"model": {}, "config": loop, "epoch": 3}, tmp_path / "loop.pt")
    with pytest.raises(DataFormatError, match="nested more than"):
        read_bailando_checkpoint(tmp_path / "loop.pt")


def test_fixture_is_the_documented_commit(record):
    assert record["commit"].startswith("cc90b98") and Path(__file__).with_name("parity").joinpath("bailando_official_tiny.npz").stat().st_size < 1_500_000
