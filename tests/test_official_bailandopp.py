"""The Bailando++ port (macedance.models.official.bailandopp) against the original code.

The fixture tests/parity/bailandopp_official_tiny.npz was made by running the ORIGINAL code outside the project:
lisiyao21/Bailando @ cc90b98bff81c9709570db413c9610c2562e27ca, ``tpami_bailandopp/models/`` as released except two CPU
patches (the codebook buffer ``k`` created without ``.cuda()`` in ``bottleneck.py``; the output of
``SepVQVAERmix.decode`` created on the input's device instead of ``.cuda()``), torch 2.14 on CPU with one thread. Its
``models/__init__.py`` was not executed (it imports ``sep_vqvae``/``sep_vqvae_root``, which the tpami folder does not
ship): the package was registered by path and ``sep_vqvae_root_mix`` / ``cross_cond_gpt2_music_window{,_ac}``
imported directly; ``pytorch3d`` (imported, used only with ``smpl_weight`` > 0) was a stub. ``SepVQVAERmix`` and
``CrossCondGPT2MWAC`` were built from ``configs/actor_critic_music_trans_400_mix_rotmat.yaml`` with only widths shrunk
through the config (both halves: width 8, emb_width 8, l_bins 32; GPT: n_embd 16, 4 heads, music_trans/base/head 2
layers, critic 1, vocab 32; everything else as released: 1 level, downs_t 3, stride 2, depth 3, dilation growth 3,
reversed decoder dilation, rot_channel 9, block_size 29, window_size 11, downsample_rate 8, n_music 55). All
parameters were then drawn from a seeded generator (∝ 1/√fan-in; LayerNorm gains 1 + 0.1·N) except those the ++ code
never runs (the position ``decoders`` and ``music_trans.pos_emb``: zero), each codebook ``k`` from N(mean, std) per
channel of its encoder's output on the input, and every parameter, buffer and input rounded to a float16 value (the
fixture stores them as float16: exact in float32, half the bytes). In eval mode, on a random motion (2, 48, 72) and
random music (2, 266, 55) (+ a 56th column of 7s that ``eval()`` must slice off): (a) ``encode`` → tokens,
``decode`` → [root velocity, 24 × 3×3]; (b) as ``actor_critic.py`` ``eval()`` (not demo): the music padded by
``load_test_data_aist``'s own lines (40 zero rows, a copy of the last row, 40 zero rows), ``music_seq[:, 8:]``, the
first encoded token of each half seeds ``gpt.sample(x, cond=music_seq)`` (greedy), the tokens are decoded and the root
integrated from its velocity (``global_vel``); (c) ``music_trans``, the logits and the critic values of one 5-token
forward pass. Decoded outputs are kept at every 3rd (a) / 11th (b) frame (every 8-frame phase) and the whole root
trajectory (b), to keep the file small. ``released_shapes_json`` holds every state-dict name and shape of
``SepVQVAERmix`` (``sep_vqvae_root_mix_full_again.yaml``), ``CrossCondGPT2MWAC`` (``actor_critic_music_trans_400_
mix_rotmat.yaml``) and ``CrossCondGPT2MW`` (``cc_motion_gpt_music_trans_mix_rotmat.yaml``) at the released sizes
(unmodified yaml, built on the meta device), and those yaml sections. Script: /work/oracle/bailandopp/make_fixture.py.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from macedance.errors import DataFormatError, ValidationError
from macedance.models.official.bailando import BailandoVQVAEConfig, SepVQVAER, read_bailando_checkpoint
from macedance.models.official.bailando_gpt import BailandoGPTConfig
from macedance.models.official.bailandopp import (
    BailandoppGPTConfig,
    BailandoppVQVAEConfig,
    CrossCondGPT2MWAC,
    SepVQVAERmix,
    bailandopp_generate,
    load_bailandopp_gpt,
    load_bailandopp_vqvae,
    pad_music,
)

from bailando_release import easydict_stand_in, fixture_state, save_released
from conftest import close_to as close
from conftest import parity_arrays

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FIXTURE = Path(__file__).with_name("parity") / "bailandopp_official_tiny.npz"


@pytest.fixture(scope="module")
def fx():
    return parity_arrays("bailandopp_official_tiny")


@pytest.fixture(scope="module")
def record(fx):
    return json.loads(str(fx["config_json"]))


@pytest.fixture(scope="module")
def vq(fx, record):
    m = SepVQVAERmix(BailandoppVQVAEConfig.from_record(record["structure"]))
    m.load_state_dict(fixture_state(fx, "vq"), strict=True)
    return m.eval()


@pytest.fixture(scope="module")
def gpt(fx, record):
    m = CrossCondGPT2MWAC(BailandoppGPTConfig.from_record(record["structure_generate"]))
    m.load_state_dict(fixture_state(fx, "gpt"), strict=True)
    return m.eval()


def _music(fx):
    """The loader's music (padded) with the 56th column the oracle gave ``eval()``."""
    music = torch.from_numpy(fx["music"].astype(np.float32))
    return pad_music(torch.cat([music, torch.full((*music.shape[:2], 1), 7.0)], dim=2))


def test_released_structure_equals_the_original(fx):
    released = json.loads(str(fx["released_shapes_json"]))
    shapes, records = released["shapes"], released["records"]
    with torch.device("meta"):
        ours = {"vqvae": SepVQVAERmix(BailandoppVQVAEConfig.from_record(records["vqvae"])),
                "gpt_ac": CrossCondGPT2MWAC(BailandoppGPTConfig.from_record(records["gpt_ac"])),
                "gpt_mw": CrossCondGPT2MWAC(BailandoppGPTConfig.from_record(records["gpt_mw"]))}
        defaults = {"vqvae": SepVQVAERmix(), "gpt_ac": CrossCondGPT2MWAC()}
    for part, model in ours.items():
        st = model.state_dict()
        assert list(st) == list(shapes[part])  # same names, same order
        assert {k: list(v.shape) for k, v in st.items()} == shapes[part]
    for part, model in defaults.items():  # the dataclass defaults are the released sizes
        assert {k: list(v.shape) for k, v in model.state_dict().items()} == shapes[part]
    assert not hasattr(ours["gpt_mw"], "critic_net") and BailandoppGPTConfig.from_record(records["gpt_mw"]).gpt.critic is None


def test_fresh_masks_equal_the_originals(fx, record):
    ours = CrossCondGPT2MWAC(BailandoppGPTConfig.from_record(record["structure_generate"])).state_dict()
    theirs = fixture_state(fx, "gpt")
    masks = [k for k in theirs if k.endswith(".mask")]
    assert len(masks) == 2 + 2 + 2 + 1  # music_trans, base, head, critic blocks
    assert all(torch.equal(ours[k], theirs[k]) for k in masks)  # the band (±40 frames) and the stream masks


def test_vqvae_encode_decode_equals_the_original(fx, vq):
    up, down = vq.encode(torch.from_numpy(fx["motion"].astype(np.float32)))
    assert np.array_equal(up.numpy(), fx["enc_up"]) and np.array_equal(down.numpy(), fx["enc_down"])
    assert len(np.unique(fx["enc_up"])) > 4 and len(np.unique(fx["enc_down"])) > 4  # the codes vary: the check means something
    # exact: the smallest best/second-best codebook distance gap (enc_margin, ≥ 0.07 on distances ≤ 3e2) is ≫ the
    # float32 error of any CPU kernel order (~1e-4 on such distances)
    assert (fx["enc_margin"][:, 0] > 2e-4 * fx["enc_margin"][:, 1]).all()
    decoded = vq.decode(up, down)
    assert decoded.shape == (2, 48, 219)
    close(decoded[:, ::3].numpy(), fx["vq_decoded"])  # same ops, same order: 0 on 1 thread, 3e-7 rel on 2; any x86-64 kernel order only moves float32 rounding (~1e-7 rel) ≪ 1e-5


def test_music_transformer_gpt_forward_and_critic_equal_the_original(fx, gpt):
    up, down = torch.from_numpy(fx["gpt_up"][:, :5]), torch.from_numpy(fx["gpt_down"][:, :5])
    window = _music(fx)[:, 8:8 + 15 * 8, :55]  # 5 tokens + 5 context tokens each side, 8 frames each
    with torch.no_grad():
        music = gpt.music_trans(window)
        logit_up, logit_down = gpt(up, down, window)
        value = gpt.critic(up, down, window)
    close(music.numpy(), fx["music_trans_out"])  # same ops, same order: 0 on 1 thread, 3e-7 rel on 2; any kernel order: float32 rounding of a few small layers ≪ 1e-5
    close(logit_up.numpy(), fx["gpt_logits_up"])  # as above
    close(logit_down.numpy(), fx["gpt_logits_down"])  # as above
    close(value.numpy(), fx["critic_value"])  # as above


def test_greedy_generation_equals_the_original(fx, vq, gpt):
    up, down = vq.encode(torch.from_numpy(fx["motion"].astype(np.float32)))
    gen_up, gen_down, out = bailandopp_generate(vq, gpt, first_up=up[:, :1], first_down=down[:, :1], music=_music(fx))
    # exact: the smallest top-1/top-2 logit gap over all steps (gpt_logit_margin, ~1.4e-3 on logits ≤ ~3) is ~100x the
    # float32 error any CPU kernel order can make, so greedy picks cannot flip
    assert fx["gpt_logit_margin"][0] > 4e-4 * fx["gpt_logit_margin"][1]
    assert np.array_equal(gen_up.numpy(), fx["gpt_up"]) and np.array_equal(gen_down.numpy(), fx["gpt_down"])
    # 266 music rows → (266 + 1) // 8 = 33 tokens > block_size − 1: the context and the music window slide
    assert gen_up.shape == (2, 33) and int(fx["gpt_steps"]) == 32 and len(np.unique(fx["gpt_up"])) > 8
    assert out.shape == (2, 264, 219)
    # the root: our cumsum vs the original's frame loop; the integrated root (~4e2) sets the scale
    close(out[:, :, :3].numpy(), fx["gen_root"])  # float32 partial sums, any order/CPU/threads: 1.5e-4 abs = 3.8e-7 rel measured ≪ 1e-5
    close(out[:, fx["gen_frames"]].numpy(), fx["gen_output"])  # root as above; rotations: same ops, 0 on 1 thread, 3.4e-7 rel on 2 (float32 rounding only)


def test_pad_music_is_the_test_loader():
    feats = torch.arange(2 * 3 * 2, dtype=torch.float32).view(2, 3, 2) + 1
    padded = pad_music(feats)
    assert padded.shape == (2, 40 + 3 + 1 + 40, 2)
    assert not padded[:, :40].any() and not padded[:, -40:].any()
    assert torch.equal(padded[:, 40:43], feats) and torch.equal(padded[:, 43], feats[:, -1])


def test_wrong_shapes_are_named(vq, gpt):
    with pytest.raises(ValidationError, match="Bailando motion"):
        vq.encode(torch.zeros(1, 64, 69))
    with pytest.raises(ValidationError, match="Bailando\\+\\+ tokens"):
        vq.decode(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValidationError, match="312"):  # (29 + 10) · 8 music frames at most
        gpt.music_trans(torch.zeros(1, 320, 55))
    with pytest.raises(ValidationError, match="Bailando\\+\\+ generation input"):
        bailandopp_generate(vq, gpt, first_up=torch.zeros(1, 1, dtype=torch.long), first_down=torch.zeros(1, 1, dtype=torch.long),
                            music=torch.zeros(1, 200, 54))
    with pytest.raises(ValidationError, match="Bailando\\+\\+ generation input"):
        bailandopp_generate(vq, gpt, first_up=torch.zeros(2, 1, dtype=torch.long), first_down=torch.zeros(1, 1, dtype=torch.long),
                            music=torch.zeros(2, 200, 55))
    with pytest.raises(ValidationError, match="block_size=29"):
        gpt(torch.zeros(1, 30, dtype=torch.long), torch.zeros(1, 30, dtype=torch.long), torch.zeros(1, 320, 55)[:, :312])


@pytest.fixture
def easydict_module():
    """Registers the stand-in as ``easydict.EasyDict`` while the test writes its files (torch.save pickles by name)."""
    with easydict_stand_in() as cls:
        yield cls


def test_released_format_checkpoints_load_through_the_restricted_path(fx, record, vq, gpt, easydict_module, tmp_path):
    config = {**record, "global_vel": True, "rotmat": True, "ds_rate": 8, "optimizer": {"kwargs": {"betas": [0.5, 0.999]}}}
    save_released(tmp_path / "vq.pt", vq, {"structure": record["structure"], "rotmat": True}, 500, easydict_module)
    save_released(tmp_path / "gpt.pt", gpt, config, 10, easydict_module)  # DataParallel-saved: 'module.' prefixes
    sys.modules.pop("easydict")  # reading must not need (or import) the package
    ckpt = read_bailando_checkpoint(tmp_path / "vq.pt")
    assert ckpt.epoch == 500 and type(ckpt.config["structure"]["up_half"]) is dict and "easydict" not in sys.modules
    loaded = load_bailandopp_vqvae(ckpt)
    up, down = loaded.encode(torch.from_numpy(fx["motion"].astype(np.float32)))
    assert np.array_equal(up.numpy(), fx["enc_up"]) and np.array_equal(down.numpy(), fx["enc_down"])
    g = load_bailandopp_gpt(read_bailando_checkpoint(tmp_path / "gpt.pt"))
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), gpt.state_dict().values(), strict=True))
    assert not g.training and not loaded.training


def test_mismatched_checkpoints_give_one_line_errors_naming_the_file(fx, record, vq, gpt, tmp_path):
    with easydict_stand_in() as easydict:
        st = record["structure"]
        bailando = SepVQVAER(BailandoVQVAEConfig.from_record(st["up_half"]), BailandoVQVAEConfig.from_record(st["down_half"]))
        save_released(tmp_path / "bailando_vq.pt", bailando, {"structure": st}, 500, easydict)  # Bailando's, not ++
        save_released(tmp_path / "vq.pt", vq, {**record}, 500, easydict)
        wide = {**record, "structure_generate": {**record["structure_generate"],
                                                 "music_trans": {**record["structure_generate"]["music_trans"], "n_music": 438}}}
        save_released(tmp_path / "gpt438.pt", gpt, wide, 10, easydict)  # the config does not match the weights
    cases = [(load_bailandopp_vqvae, "bailando_vq.pt", r"SepVQVAERmix state dict \(missing 92 entries, e\.g\. vqvae_up\.decoders_rot"),
             (load_bailandopp_gpt, "vq.pt", r"CrossCondGPT2MWAC state dict \(missing 137 entries, e\.g\. music_trans\.pos_emb\)"),
             (load_bailandopp_gpt, "gpt438.pt", r"CrossCondGPT2MWAC state dict \(size mismatch for music_trans\.cond_emb\.weight: "
                                                r"file \(16, 55\), model \(16, 438\)\)"),
             (load_bailandopp_vqvae, "gpt438.pt", r"SepVQVAERmix state dict \(missing")]  # a GPT file holds the ++ structure, no VQ-VAE
    for load, name, message in cases:
        with pytest.raises(DataFormatError, match=message) as err:
            load(read_bailando_checkpoint(tmp_path / name))
        assert str(tmp_path / name) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataFormatError, match="use_6d_rotation"):
        BailandoppVQVAEConfig.from_record({**record["structure"], "use_6d_rotation": True})
    with pytest.raises(DataFormatError, match="music_trans"):
        BailandoppGPTConfig.from_record({"base": {}, "head": {}})
    assert BailandoppGPTConfig.from_record(record["structure_generate"]).gpt == BailandoGPTConfig.from_record(record["structure_generate"])


def test_fixture_is_the_documented_commit(record):
    assert record["commit"].startswith("cc90b98") and FIXTURE.stat().st_size < 300_000
