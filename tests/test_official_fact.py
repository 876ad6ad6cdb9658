"""The FACT port (macedance.models.official.fact) against the original TensorFlow code.

The fixtures tests/parity/fact_official_tiny.npz and tests/parity/fact_tiny_ckpt/ were made by running the ORIGINAL
code outside the project (/work/oracle/fact/make_fixture.py): google-research/mint @
b8f8bdfbbe3fbfa67831a2ef9bcf71a6a9e74552, ``mint/`` unmodified (an empty stand-in module for ``tensorflow_graphics``,
which ``mint/core/metrics.py`` imports but FACT never uses; protobuf's pure-Python backend for the 2021 ``*_pb2.py``),
tensorflow-cpu 2.15.1 (Keras 2) on Python 3.11 with one intra-/inter-op thread, eager as ``evaluator.py``.
``FACTModel`` was built from a tiny text config with the structure of ``configs/fact_v5_deeper_t10_cm12.config``
(width 16, 2 heads, FFN 24, motion / audio / cross-modal Transformers of 1 / 2 / 2 layers, windows of 8 motion and
12 audio frames; 225-d motion, 35-d audio and 225 outputs as released); every variable was drawn from a seeded
generator (kernels ∝ 1/√fan-in, LayerNorm gains 1 + 0.1·N, position embeddings 0.5·N), one legacy-Adam step gave the
checkpoint optimizer slots like the released trainer's (the seeded weights then assigned again), and it was saved with
``tf.train.Checkpoint(optimizer, model).save``.
The npz holds: random inputs and ``model.call`` on them (``forward``); ``infer_auto_regressive(steps=16)`` on a
random seed and 24 audio frames (``generated``: 13 frames, the original stops when the audio window runs out); every
checkpoint tensor as TensorFlow reads it back; ``released_names_json``: every checkpoint name and shape of the model
the unmodified released config builds (traced with ``tf.function``, never run) and its parsed config.
"""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from macedance.errors import DataFormatError, ValidationError
from macedance.io.tf_checkpoint import read_tf_checkpoint, tf_variable_path
from macedance.models.official.fact import (
    FACTConfig,
    FACTModel,
    FACTTransformerConfig,
    fact_checkpoint_names,
    fact_generate,
    load_fact,
    load_fact_checkpoint,
)

from conftest import close_to as close
from conftest import parity_arrays

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CKPT = Path(__file__).parent / "parity" / "fact_tiny_ckpt"


@pytest.fixture(scope="module")
def fx():
    return parity_arrays("fact_official_tiny")


@pytest.fixture(scope="module")
def record(fx):
    return json.loads(str(fx["record_json"]))


@pytest.fixture(scope="module")
def tiny(record):
    t = record["tiny"]
    def part(n):
        return FACTTransformerConfig(hidden_size=t["hidden"], num_hidden_layers=n, num_attention_heads=t["heads"], intermediate_size=t["intermediate"])

    return FACTConfig(motion_length=t["motion_length"], audio_length=t["audio_length"], motion=part(t["motion_layers"]),
                      audio=part(t["audio_layers"]), cross=part(t["cross_layers"]))


@pytest.fixture(scope="module")
def tensors():
    return read_tf_checkpoint(CKPT)


@pytest.fixture(scope="module")
def model(tensors, tiny):
    return load_fact(tensors, config=tiny)


def test_released_structure_equals_the_original(fx, record):
    released = json.loads(str(fx["released_names_json"]))
    theirs = {tf_variable_path(n): s for n, s in released.items() if tf_variable_path(n) is not None}
    assert len(theirs) == 185 - 1 == len(released) - 1  # all but the object graph: 16 blocks × 11 + 8
    with torch.device("meta"):
        ours = FACTModel().state_dict()
    names = fact_checkpoint_names()
    assert sorted(names) == sorted(ours) and len({tf for tf, _ in names.values()}) == len(ours)  # one name each, all distinct
    assert {tf: list(ours[o].shape[::-1] if t else ours[o].shape) for o, (tf, t) in names.items()} == theirs
    cfg = record["released_config"]
    assert cfg["sequence_length"] == {"motion": 120, "audio": 240} and cfg["out_dim"] == 225
    for part, t in cfg["transformer"].items():
        assert t["hidden_act"] == "gelu"
        assert {k: v for k, v in t.items() if k != "hidden_act"} == getattr(FACTConfig(), part).to_dict()


def test_forward_equals_the_original(fx, model):
    with torch.no_grad():
        out = model(torch.from_numpy(fx["motion"]), torch.from_numpy(fx["audio"]))
    assert out.shape == (2, 20, 225)
    # TF's float32 output is 4.2e-7 rel from a float64 evaluation of the same weights (checked below); ours is 3.1e-7
    # from TF on 1 and 2 threads, 3.4e-7 with ATen's unvectorised kernels (ATEN_CPU_CAPABILITY=default)
    close(out.numpy(), fx["forward"], rtol=1e-5)  # float32 rounding only: AVX2/AVX-512 FMA, BLAS tiling, threads reorder ≤225-term sums: ~1e-6
    with torch.no_grad():  # that float64 bound, checked: the reference is as accurate as float32 allows
        exact = copy.deepcopy(model).double()(torch.from_numpy(fx["motion"]).double(), torch.from_numpy(fx["audio"]).double())
    close(fx["forward"], exact.numpy(), rtol=2e-6)  # TF float32 vs float64 (5 blocks, gains ~1): 4.2e-7 measured; the reference itself is exact to float32
    assert np.abs(fx["forward"][:, :8] - fx["forward"][:, 8:16]).max() > 1  # motion and audio tokens differ: the check means something


def test_generation_equals_the_original(fx, model, record):
    seed, audio = torch.from_numpy(fx["gen_seed"]), torch.from_numpy(fx["gen_audio"])
    out = fact_generate(model, motion_seed=seed, audio=audio, steps=record["gen_steps"])
    assert out.shape == fx["generated"].shape == (2, 13, 225)  # 16 asked, 24 − 12 + 1 audio windows: stops as the original
    # measured 4.6e-7 rel (5.8e-7 unvectorised; float64: 4.5e-7) and not growing over the 13 steps: each step is the
    # forward above, whose float32 rounding the fed-back frames carry without amplifying it
    close(out.numpy(), fx["generated"], rtol=1e-5)  # the forward's float32 bound per step, not compounding: any x86-64 CPU and thread count
    assert np.abs(np.diff(fx["generated"], axis=1)).max() > 0.1  # frames differ: the window really slides
    close(fact_generate(model, motion_seed=seed, audio=audio, steps=5).numpy(), fx["generated"][:, :5], rtol=1e-5)  # a prefix: same bound


def test_loading_from_the_path_reads_only_the_model(tensors, model, tiny):
    loaded = load_fact_checkpoint(CKPT / "ckpt-1.index", config=tiny)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True))
    assert not loaded.training and next(loaded.parameters()).dtype == torch.float32


def test_the_loader_is_strict(tensors, tiny):
    slot = "model/audio_pos_embedding/position_embedding/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
    assert slot in tensors
    qkv = "model/motion_transformer/net/layer_with_weights-0/fn/fn/to_qkv/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    with pytest.raises(DataFormatError, match=r"\(1 problems; first: missing model/motion_transformer/net/layer_with_weights-0/fn/fn/to_qkv/kernel"):
        load_fact({k: v for k, v in tensors.items() if k != qkv}, config=tiny)
    extra = dict(tensors, **{"model/motion_transformer/net/layer_with_weights-0/fn/fn/extra/.ATTRIBUTES/VARIABLE_VALUE": np.zeros(3)})
    with pytest.raises(DataFormatError, match="unexpected model/motion_transformer/net/layer_with_weights-0/fn/fn/extra"):
        load_fact(extra, config=tiny)
    with pytest.raises(DataFormatError, match=r"\(3 problems; first: model/motion_transformer/net/layer_with_weights-1/fn/fn/net/layer_with_weights-0/kernel: float32\[16, 24\], expected float\[16, 32\]\)$"):
        load_fact(tensors, config=FACTConfig(**{**tiny.__dict__, "motion": FACTTransformerConfig(16, 1, 2, 32)}))
    with pytest.raises(DataFormatError, match="unexpected model/cross_modal_layer/transformer_layer/net/layer_with_weights-2"):
        load_fact(tensors, config=FACTConfig(**{**tiny.__dict__, "cross": FACTTransformerConfig(16, 1, 2, 24)}))
    with pytest.raises(DataFormatError, match="^x.ckpt: no variables under `model/`"):
        load_fact({k: v for k, v in tensors.items() if not k.startswith("model/")}, source="x.ckpt")
    with pytest.raises(DataFormatError, match="model/motion_pos_embedding/position_embedding: float32\\[8, 16\\], expected float\\[120, 16\\]"):
        load_fact(tensors, config=FACTConfig(**{**tiny.__dict__, "motion_length": 120}))


def test_wrong_inputs_and_configs_are_named(model):
    with pytest.raises(ValidationError, match=r"FACT motion: expected \(B, 8, 225\), found \(1, 9, 225\)"):
        model(torch.zeros(1, 9, 225), torch.zeros(1, 12, 35))
    with pytest.raises(ValidationError, match="FACT batch"):
        model(torch.zeros(1, 8, 225), torch.zeros(2, 12, 35))
    with pytest.raises(ValidationError, match="at least 12 frames"):
        fact_generate(model, motion_seed=torch.zeros(1, 8, 225), audio=torch.zeros(1, 11, 35), steps=3)
    with pytest.raises(ValidationError, match="one width"):
        FACTConfig(cross=FACTTransformerConfig(hidden_size=64))
    with pytest.raises(ValidationError, match="a divisor of hidden_size 800"):
        FACTConfig(audio=FACTTransformerConfig(num_attention_heads=7))


def test_config_round_trip_and_fixture_provenance(record, tiny):
    assert FACTConfig.from_dict(json.loads(json.dumps(tiny.to_dict()))) == tiny and FACTConfig().cross.num_hidden_layers == 12
    assert record["commit"].startswith("b8f8bdf") and record["versions"]["tensorflow"] == "2.15.1"
    assert sum(p.stat().st_size for p in CKPT.iterdir()) < 300_000
