"""macedance.io.tf_checkpoint (a pure-Python reader of TensorFlow checkpoint bundles) against TensorFlow itself.

The fixture tests/parity/fact_tiny_ckpt/ckpt-1.{index,data-00000-of-00001} is a real ``tf.train.Checkpoint(optimizer,
model)`` written by TensorFlow 2.15.1 (tensorflow-cpu, Python 3.11, outside the project) from the original
google-research/mint @ b8f8bdfbbe3fbfa67831a2ef9bcf71a6a9e74552 FACT model at a tiny config with seeded weights and the
slots of one legacy-Adam step (/work/oracle/fact/make_fixture.py; see tests/test_official_fact.py). tests/parity/fact_official_tiny.npz holds every
tensor of it as ``tf.train.load_checkpoint(...).get_tensor`` returns it (the object graph string as uint8 bytes).
"""

import json
import shutil
import struct

import numpy as np
import pytest

from macedance.errors import DataFormatError, InputNotFoundError
from macedance.io import tf_checkpoint as tfc
from macedance.io.tf_checkpoint import (
    crc32c,
    is_model_variable,
    mask_crc32c,
    read_checkpoint_index,
    read_tf_checkpoint,
    tf_variable_path,
    tf_variable_paths,
    unmask_crc32c,
)

from conftest import parity_arrays

CKPT = "fact_tiny_ckpt"


@pytest.fixture(scope="module")
def fx():
    return parity_arrays("fact_official_tiny")


@pytest.fixture(scope="module")
def saved(fx):
    """{name: array} exactly as TensorFlow read its own checkpoint back."""
    return {n: fx[f"var_{i:03d}"] for i, n in enumerate(json.loads(str(fx["var_names_json"])))}


@pytest.fixture
def ckpt(tmp_path, request):
    """A writable copy of the fixture bundle; returns its prefix."""
    src = request.path.parent / "parity" / CKPT
    shutil.copytree(src, tmp_path / CKPT)
    return tmp_path / CKPT / "ckpt-1"


def _same(ours, theirs):
    if ours.dtype == object:  # string tensor: TF's reader returns bytes, stored as uint8
        return ours.shape == () and np.array_equal(np.frombuffer(ours[()], np.uint8), theirs)
    return ours.dtype == theirs.dtype and ours.shape == theirs.shape and np.array_equal(ours, theirs)


def test_every_tensor_equals_what_tensorflow_saved(ckpt, saved):
    ours = read_tf_checkpoint(ckpt)
    assert sorted(ours) == sorted(saved) and len(saved) == 196
    bad = [n for n in saved if not _same(ours[n], saved[n])]
    assert not bad, bad[:3]
    assert ours["optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"].dtype == np.int64 and ours["save_counter/.ATTRIBUTES/VARIABLE_VALUE"] == 1
    assert ours[tfc.OBJECT_GRAPH_KEY][()].startswith(b"\n")  # a serialized TrackableObjectGraph (field 1, nodes)
    slot = "model/motion_linear_embedding/net/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
    assert ours[slot].shape == (225, 16) and np.abs(ours[slot]).max() > 0  # Adam slots are real values, read too


def test_any_way_of_naming_the_bundle_reads_the_same(ckpt):
    ref = read_checkpoint_index(ckpt)
    for path in (ckpt.parent, ckpt.with_name("ckpt-1.index"), ckpt.with_name("ckpt-1.data-00000-of-00001")):
        assert read_checkpoint_index(path) == ref
    (ckpt.parent / "checkpoint").unlink()  # without the state file: the folder's only .index
    assert read_checkpoint_index(ckpt.parent) == ref
    with pytest.raises(InputNotFoundError, match="no such TensorFlow checkpoint index"):
        read_checkpoint_index(ckpt.with_name("ckpt-2"))


def test_model_variables_map_to_readable_paths_and_skip_the_rest(ckpt, saved):
    paths = tf_variable_paths(read_tf_checkpoint(ckpt))
    model_names = [n for n in saved if n.startswith("model/") and ".OPTIMIZER_SLOT" not in n]
    assert len(paths) == len(model_names) == 63  # 196 = 63 weights + 2 × 63 Adam slots + 5 optimizer scalars + counter + graph
    assert paths["audio_transformer.net.layer_with_weights-1.fn.fn.net.layer_with_weights-0.kernel"].shape == (16, 24)
    assert tf_variable_path("model/a.Sx..y/c/.ATTRIBUTES/VARIABLE_VALUE") == "a/x.y.c"  # TF escapes local "a/x.y" as "a.Sx..y"
    for skipped in ("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE", "save_counter/.ATTRIBUTES/VARIABLE_VALUE", tfc.OBJECT_GRAPH_KEY,
                    "model/x/kernel/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE", "model/x/.ATTRIBUTES/OBJECT_CONFIG_JSON"):
        assert tf_variable_path(skipped) is None and not is_model_variable(skipped)
    assert tf_variable_path("net/w/.ATTRIBUTES/VARIABLE_VALUE", root="net") == "w"


def test_keep_reads_only_the_chosen_tensors_and_never_touches_the_others(ckpt):
    _, _, entries = read_checkpoint_index(ckpt)
    slot = entries["model/motion_linear_embedding/net/kernel/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE"]
    data = ckpt.with_name("ckpt-1.data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[slot.offset + 5] ^= 0xFF  # corrupt a slot the model does not need
    data.write_bytes(bytes(raw))
    model = read_tf_checkpoint(ckpt, keep=is_model_variable)
    assert len(model) == 63 and all(n.startswith("model/") for n in model)
    with pytest.raises(DataFormatError, match=r"ckpt-1\.data-00000-of-00001: tensor '.*OPTIMIZER_SLOT/optimizer/v.*': checksum mismatch"):
        read_tf_checkpoint(ckpt)


def test_crc32c_known_values_lanes_and_masking():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(bytes(32)) == 0x8A9136AA and crc32c(b"\xff" * 32) == 0x62A8AB43  # RFC 3720 B.4
    assert crc32c(bytes(range(32))) == 0x46DD794E and crc32c(b"") == 0
    rng = np.random.default_rng(0)
    for n in (2047, 2048, 2049, 70_001, 1_048_576 + 131):  # byte loop, lanes, lanes + recursive tail
        b = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        loop = 0xFFFFFFFF
        for x in b:
            loop = tfc._TABLE_LIST[(loop ^ x) & 0xFF] ^ (loop >> 8)
        assert crc32c(b) == loop ^ 0xFFFFFFFF == crc32c(b[n // 3:], crc=crc32c(b[:n // 3])), n
    for v in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert unmask_crc32c(mask_crc32c(v)) == v
    assert mask_crc32c(0) == 0xA282EAD8


def _first_data_block(index: bytes) -> tuple[int, int]:
    """(offset, size) of the index's first data block, found through its footer and index block."""
    footer = index[-48:-8]
    _, pos = tfc._varint(footer, 0, 40, "")
    _, pos = tfc._varint(footer, pos, 40, "")
    off, pos = tfc._varint(footer, pos, 40, "")
    size, _ = tfc._varint(footer, pos, 40, "")
    _, handle = next(tfc._block_entries(index[off:off + size], ""))
    return tfc._handle(handle, "")


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:30], "30 bytes, shorter than the 48-byte table footer"),
    (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "bad magic number"),
    (lambda b: b[:-100], "bad magic number"),  # truncated: the footer is gone
    (lambda b: b[:20] + bytes([b[20] ^ 0x40]) + b[21:], "data block at byte 0: checksum mismatch"),
])
def test_damaged_index_gives_one_line_errors_naming_the_file(ckpt, damage, message):
    index = ckpt.with_name("ckpt-1.index")
    index.write_bytes(damage(index.read_bytes()))
    with pytest.raises(DataFormatError, match=message) as err:
        read_tf_checkpoint(ckpt)
    assert str(err.value).startswith(str(index)) and "\n" not in str(err.value)


def test_compressed_blocks_are_refused_by_kind(ckpt):
    index = ckpt.with_name("ckpt-1.index")
    raw = bytearray(index.read_bytes())
    off, size = _first_data_block(bytes(raw))
    for kind, message in ((1, "snappy-compressed, which this reader does not support"), (7, "unknown compression kind 7")):
        raw[off + size] = kind  # a valid checksum over the new kind, so only the kind is wrong
        raw[off + size + 1:off + size + 5] = struct.pack("<I", mask_crc32c(crc32c(bytes(raw[off:off + size + 1]))))
        index.write_bytes(bytes(raw))
        with pytest.raises(DataFormatError, match=message):
            read_tf_checkpoint(ckpt)


def test_damaged_or_missing_data_gives_clear_errors(ckpt):
    data = ckpt.with_name("ckpt-1.data-00000-of-00001")
    good = data.read_bytes()
    data.write_bytes(good[:-1000])
    with pytest.raises(DataFormatError, match=r"runs past the end of the file \(\d+ bytes\): truncated"):
        read_tf_checkpoint(ckpt)
    _, _, entries = read_checkpoint_index(ckpt)
    kernel = entries["model/cross_modal_layer/cross_output_layer/kernel/.ATTRIBUTES/VARIABLE_VALUE"]
    data.write_bytes(good[:kernel.offset + 7] + bytes([good[kernel.offset + 7] ^ 1]) + good[kernel.offset + 8:])
    with pytest.raises(DataFormatError, match="cross_output_layer/kernel/.ATTRIBUTES/VARIABLE_VALUE': checksum mismatch"):
        read_tf_checkpoint(ckpt)
    data.unlink()
    with pytest.raises(DataFormatError, match=r"ckpt-1\.data-00000-of-00001: missing data shard 0 of 1"):
        read_tf_checkpoint(ckpt)


def test_decode_checks_sizes_and_widens_bfloat16_exactly(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], np.float32)
    raw = bytearray((values.view(np.uint32) >> 16).astype("<u2").tobytes())
    entry = tfc.TensorEntry("b", dtype=14, shape=(3,), shard=0, offset=0, size=6, crc32c=mask_crc32c(crc32c(raw)))
    assert np.array_equal(tfc._decode(entry, raw, tmp_path), values)
    with pytest.raises(DataFormatError, match=r"'b': 4 bytes for shape \(3,\)"):
        tfc._decode(entry, raw[:4], tmp_path)
    with pytest.raises(DataFormatError, match="dtype 21, which this reader does not support"):  # DT_VARIANT
        tfc._decode(tfc.TensorEntry("v", 21, (), 0, 0, 0, 0), bytearray(), tmp_path)
