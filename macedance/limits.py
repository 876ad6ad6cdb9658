"""What a reader accepts from a file it did not write: sizes, nesting, expansion, archive member names, media headers.

Result records, archives, checkpoints, array files, videos and audio come from other people. Every reader of such a
file checks it here *before* it allocates, decompresses or decodes, so that a hostile or broken file is refused in
bounded time and memory, with a :class:`~macedance.errors.DataFormatError` that names the file, what was expected
and what was found. Nothing here writes a file. The cases and the outcome of each are listed in docs/robustness.md.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np

from macedance.errors import DataFormatError

# ----- the limits (each a named constant: docs/robustness.md quotes them) ---------------------------------------------
#: Bytes of a result record. Records are a few kB; the per-clip details of a 10 000-clip run stay under 4 MB.
MAX_RECORD_BYTES = 16 << 20
#: Bytes of a keypoint JSON (easy_ViTPose: 75 numbers a frame, ~10 bytes each): about 50 min at 30 fps.
MAX_KEYPOINT_JSON_BYTES = 64 << 20
#: Nesting of a JSON document. Records nest 5 levels (scores → metric → details → undefined → clip); a keypoint
#: file 4. 64 leaves room and stays far below the depth where Python's parser runs out of stack (~1000).
MAX_JSON_DEPTH = 64
#: Integers in JSON: 64-bit. Larger ones are no count or version a record holds, and cannot become a float.
MAX_JSON_INT = 2**63 - 1
#: Uncompressed bytes of one array file (.npz members together, or an .npy): a one-hour 60-fps SMPL-X sequence in
#: float64 is ~80 MB and the keypoints of a feature film ~200 MB; 2 GiB is 10× that, and what a reader may allocate.
MAX_ARRAY_FILE_BYTES = 2 << 30
#: Uncompressed bytes of a checkpoint archive (torch zip, a 7z member, an sdist member): the largest released weights
#: macedance reads (Jukebox's prior) are ~5 GB; the appearance expert's safetensors in its 7z ~3 GB.
MAX_CHECKPOINT_BYTES = 16 << 30
#: Expansion of a compressed member over its stored bytes. Weights and motion arrays compress 1–3× (torch zips
#: store them uncompressed: 1×); text and all-zero padding compress more, so the limit applies only above
#: :data:`MAX_UNCHECKED_EXPANSION`. A zip/7z/gzip bomb expands 1000× and more.
MAX_EXPANSION_RATIO = 100
#: Members up to this size may expand any amount (a small all-zero array compresses 1000×, harmlessly).
MAX_UNCHECKED_EXPANSION = 64 << 20
#: Pixels of a video frame: 8K UHD (7680×4320) and DCI 8K (8192×4320) pass; one decoded RGB frame is then ~100 MB.
MAX_FRAME_PIXELS = 8192 * 4320
#: Frame rates a video stream may state: slower than one frame in 10 s or faster than 1000 fps (high-speed cameras
#: record 960) is no dance video but a broken or hostile header (durations and frame indices derive from it).
MIN_FPS, MAX_FPS = 0.1, 1000.0
#: Sample rates of audio: below 1 kHz is no music; 768 kHz is the highest rate of studio converters. Outside this
#: range resampling to the analysis rate would multiply the samples by up to 768 000 (a memory bomb).
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1_000, 768_000
#: Channels of an audio stream (7.1.4 immersive mixes have 12; ambisonics 3rd order 16).
MAX_AUDIO_CHANNELS = 64
#: Seconds of audio decoded from one file: a whole dance video or a concert recording; 4 h of 48 kHz stereo is
#: ~5 GB of float32 samples before the mono mix.
MAX_AUDIO_SECONDS = 4 * 3600.0
#: Items a pickle may build with one call (``list(range(n))``, ``bytes(n)``): data pickles store their contents,
#: they do not generate them.
MAX_PICKLE_ITEMS = 1 << 24
#: Nesting of the objects a data pickle holds (SMPL's: 4 levels). Deeper structures are refused before anything
#: recurses through them.
MAX_PICKLE_DEPTH = 100


def human_bytes(n: float) -> str:
    """``n`` bytes in bytes, KiB, MiB, GiB or TiB (one decimal) for messages."""
    unit = 0
    while n >= 1024 and unit < 4:
        n, unit = n / 1024, unit + 1
    return f"{n:.0f} bytes" if unit == 0 else f"{n:.1f} {('KiB', 'MiB', 'GiB', 'TiB')[unit - 1]}"


# ----- plain files ----------------------------------------------------------------------------------------------------
def read_bounded(path: str | Path, *, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (a FIFO, device or folder is refused before it is opened:
    reading ``/dev/zero`` or a pipe never ends)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise DataFormatError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataFormatError(f"{path}: expected a regular {what} file, found {_file_kind(st.st_mode)}")
    if st.st_size > max_bytes:
        raise DataFormatError(f"{path}: {human_bytes(st.st_size)}, more than a {what} may have ({human_bytes(max_bytes)})")
    try:
        with open(path, "rb") as f:
            raw = f.read(st.st_size + 1)  # read(n) allocates n bytes first: the stated size, not the limit
    except OSError as exc:
        raise DataFormatError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if len(raw) > min(max_bytes, st.st_size):  # grew while being read
        raise DataFormatError(f"{path}: more than a {what} may have ({human_bytes(max_bytes)})")
    return raw


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


# ----- JSON -----------------------------------------------------------------------------------------------------------
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays and objects in JSON text (strings skipped), without parsing it."""
    b = np.frombuffer(_STRING.sub(b"", raw), dtype=np.uint8)
    brackets = b[(b == ord("[")) | (b == ord("{")) | (b == ord("]")) | (b == ord("}"))]
    step = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(step, dtype=np.int32).max(initial=0))


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r} in one object (which value counts would be ambiguous)")
        out[k] = v
    return out


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(v := int(text)) > MAX_JSON_INT:
        raise ValueError(f"integer {text[:24]}{'…' if len(text) > 24 else ''} ({len(text)} digits) does not fit in 64 bits")
    return v


def _float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"number {text[:24]} overflows a 64-bit float")
    return v


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed (numbers must be finite; an undefined value is null)")


def loads_json(raw: bytes, source: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Strict JSON from UTF-8 bytes: nesting at most ``max_depth``, no duplicate keys, no NaN/Infinity, integers
    within 64 bits and floats that do not overflow. Raises :class:`DataFormatError` naming ``source``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{source}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                              "JSON files are UTF-8") from None
    depth = json_depth(raw)
    if depth > max_depth:
        raise DataFormatError(f"{source}: JSON nested {depth} levels deep, at most {max_depth} allowed")
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{source}: not JSON ({exc})") from None
    except (ValueError, RecursionError) as exc:
        raise DataFormatError(f"{source}: {exc}") from None


def load_json(path: str | Path, *, what: str = "JSON", max_bytes: int = MAX_RECORD_BYTES,
              max_depth: int = MAX_JSON_DEPTH) -> Any:
    """:func:`loads_json` of a regular file of at most ``max_bytes``."""
    return loads_json(read_bounded(path, what=what, max_bytes=max_bytes), str(path), max_depth=max_depth)


# ----- archives -------------------------------------------------------------------------------------------------------
def unsafe_member_name(name: str) -> bool:
    """True for an archive member name that would leave the folder it is extracted into: absolute, a drive or UNC
    path, or with a ``..`` component (``/`` or ``\\`` separated)."""
    norm = name.replace("\\", "/")
    return norm.startswith("/") or bool(re.match(r"^[A-Za-z]:", norm)) or ".." in PurePosixPath(norm).parts or "\0" in name


def check_member(source: str, name: str, *, symlink: bool = False, link: bool = False) -> None:
    """Refuse a member whose name leaves the archive's folder, and links (their target is a path outside it)."""
    if unsafe_member_name(name):
        raise DataFormatError(f"{source}: archive member {name!r} has an unsafe path (absolute or with '..'); "
                              "the archive was not read")
    if symlink or link:
        raise DataFormatError(f"{source}: archive member {name!r} is a {'symbolic' if symlink else 'hard'} link, "
                              "expected a regular file; the archive was not read")


def check_expansion(source: str, name: str, declared: int, stored: int, *, max_bytes: int) -> None:
    """Refuse a member that states more than ``max_bytes`` uncompressed, or (above
    :data:`MAX_UNCHECKED_EXPANSION`) more than :data:`MAX_EXPANSION_RATIO` times its ``stored`` bytes."""
    if declared > max_bytes:
        raise DataFormatError(f"{source}: archive member {name!r} states {human_bytes(declared)} uncompressed, "
                              f"more than {human_bytes(max_bytes)} allowed")
    if declared > MAX_UNCHECKED_EXPANSION and declared > MAX_EXPANSION_RATIO * max(stored, 1):
        raise DataFormatError(f"{source}: archive member {name!r} expands {declared / max(stored, 1):.0f}× "
                              f"({human_bytes(stored)} → {human_bytes(declared)}), more than {MAX_EXPANSION_RATIO}× "
                              "allowed (a decompression bomb?)")


def check_zip(archive: zipfile.ZipFile, source: str, *, max_bytes: int) -> None:
    """Every member of a zip archive: safe names, no symlinks, each expansion and the total bounded. Declared sizes
    bind: :mod:`zipfile` stops at a member's stated size (and then fails its CRC), so the check bounds memory."""
    total = 0
    for info in archive.infolist():
        check_member(source, info.filename, symlink=stat.S_ISLNK(info.external_attr >> 16))
        check_expansion(source, info.filename, info.file_size, info.compress_size, max_bytes=max_bytes)
        total += info.file_size
        if total > max_bytes:
            raise DataFormatError(f"{source}: archive members state more than {human_bytes(max_bytes)} uncompressed together")


# ----- numpy array files ----------------------------------------------------------------------------------------------
def _npy_header(f: IO[bytes], source: str, name: str, available: int) -> None:
    """Refuse an .npy header whose shape × itemsize is more than the ``available`` bytes that follow it (numpy would
    allocate the stated size before it finds the data missing)."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version in ((1, 0), (2, 0)):
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read(f, max_header_size=10_000)  # numpy's own default limit
        else:  # version 3 (UTF-8 field names): numpy's private reader, where this numpy keeps it
            impl = getattr(fmt, "_read_array_header", None) or importlib.import_module("numpy.lib._format_impl")._read_array_header
            shape, _, dtype = impl(f, version, max_header_size=10_000)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise DataFormatError(f"{source}: {name}: not a readable .npy header ({exc})") from None
    if dtype.hasobject:
        return  # np.load(allow_pickle=False) refuses it with its own message
    count = math.prod(int(s) for s in shape)
    need = count * dtype.itemsize
    have = available - f.tell()
    if need > have:
        raise DataFormatError(f"{source}: {name}: header states shape {tuple(shape)} of {dtype} ({human_bytes(need)}), "
                              f"but the file holds {human_bytes(max(have, 0))} of data")


def check_array_file(data: str | Path | bytes, source: str, *, max_bytes: int = MAX_ARRAY_FILE_BYTES) -> None:
    """An ``.npz`` (zip) or ``.npy`` file (a path or its bytes) checked before :func:`numpy.load`: zip members and their
    expansion bounded (:func:`check_zip`), every ``.npy`` header's shape backed by data. Other content is left to
    ``numpy.load`` (which refuses pickles with ``allow_pickle=False``)."""
    if not isinstance(data, bytes):
        try:
            mode = Path(data).stat().st_mode
        except OSError as exc:
            raise DataFormatError(f"{source}: unreadable ({exc.strerror or exc})") from None
        if not stat.S_ISREG(mode):
            raise DataFormatError(f"{source}: expected a regular array file, found {_file_kind(mode)}")
    raw_file: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")
    with raw_file as f:
        magic = f.read(6)
        f.seek(0)
        size = f.seek(0, io.SEEK_END)
        f.seek(0)
        if magic == b"\x93NUMPY":
            if size > max_bytes:
                raise DataFormatError(f"{source}: {human_bytes(size)}, more than an array file may have ({human_bytes(max_bytes)})")
            _npy_header(f, source, "array", size)
        elif magic[:4] == b"PK\x03\x04":
            try:
                archive = zipfile.ZipFile(f)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise DataFormatError(f"{source}: not a readable .npz file ({exc})") from None
            with archive:
                check_zip(archive, source, max_bytes=max_bytes)
                for info in archive.infolist():
                    if info.filename.endswith(".npy"):
                        try:
                            with archive.open(info) as member:
                                _npy_header(member, source, info.filename, info.file_size)
                        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                            raise DataFormatError(f"{source}: {info.filename}: unreadable ({exc})") from None


# ----- pickles --------------------------------------------------------------------------------------------------------
def bounded_call(fn: Any, name: str) -> Any:
    """``fn`` (a constructor a restricted pickle may call: ``range``, ``bytes``, ``bytearray``, numpy's
    ``_reconstruct``) refusing arguments that make it build more than :data:`MAX_PICKLE_ITEMS` items:
    ``list(range(10**10))`` needs the range, ``bytes(10**12)`` an integer size, ``_reconstruct`` a shape."""

    def call(*args: Any, **kwargs: Any) -> Any:
        if name == "range":
            n = len(range(*args))
        elif name == "_reconstruct":
            n = math.prod(int(s) for s in args[1]) if len(args) > 1 and isinstance(args[1], (tuple, list)) else 0
        else:
            n = args[0] if args and isinstance(args[0], int) and not isinstance(args[0], bool) else 0
        if n > MAX_PICKLE_ITEMS:
            raise ValueError(f"{name}() of {n} items requested, at most {MAX_PICKLE_ITEMS} allowed")
        return fn(*args, **kwargs)

    return call
