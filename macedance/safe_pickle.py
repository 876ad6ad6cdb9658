"""A restricted unpickler for numeric data files (AIST++ ``.pkl`` annotations and the like).

Plain ``pickle.load`` runs arbitrary code named by the file. This unpickler resolves only the
globals needed to rebuild numpy arrays, dtypes and scalars plus a few inert builtins; any other
global (``os.system``, ``builtins.eval``, a class from some package …) raises
:class:`~macedance.errors.UnsafePickleError` before anything is called. :func:`load_torch_archive`
extends it to zip-format torch files (tensors from the archive's storages; TorchScript modules as
records of their tensors), for weight files that ``torch.load(weights_only=True)`` refuses.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import DataFormatError, UnsafePickleError
from macedance.limits import MAX_CHECKPOINT_BYTES, MAX_PICKLE_DEPTH, bounded_call, check_zip

_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", name): getattr(__import__("builtins"), name)
    for name in ("dict", "list", "tuple", "set", "frozenset", "bytearray", "complex", "int", "float",
                 "bool", "str", "bytes", "slice", "range")
}
# Constructors that could build without limit from a few bytes (``list(range(10**10))``, ``bytes(10**12)``) are
# bounded (macedance.limits.MAX_PICKLE_ITEMS): data pickles store their contents, they do not generate them.
for _name in ("range", "bytes", "bytearray"):
    _ALLOWED[("builtins", _name)] = bounded_call(_ALLOWED[("builtins", _name)], _name)


def _encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it (str → bytes in latin-1); no other codec is looked up."""
    if not isinstance(text, str) or encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1", "utf-8", "utf8", "ascii"):
        raise ValueError(f"_codecs.encode({type(text).__name__}, {encoding!r}) is not a bytes literal")
    return text.encode(encoding, errors)


_ALLOWED[("_codecs", "encode")] = _encode
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = np.dtype
# Arrays and numpy scalars pickle through multiarray._reconstruct / multiarray.scalar; the module
# is numpy.core in files written by numpy 1.x and numpy._core by numpy 2.x: accept both names.
try:
    from numpy._core import multiarray as _multiarray  # numpy ≥ 2
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = bounded_call(_multiarray._reconstruct, "_reconstruct")
    _ALLOWED[(_mod, "scalar")] = _multiarray.scalar
# Protocol 5 rebuilds arrays from raw buffers with numeric._frombuffer (bytes → array, nothing else).
_frombuffer = np.ndarray.__reduce_ex__(np.zeros(1), 5)[0]
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _frombuffer
for _name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
              "uint32", "uint64", "bool_", "complex64", "complex128"):
    _ALLOWED[("numpy", _name)] = getattr(np, _name)


class InertObject:
    """Stand-in for a class a data pickle names but which is never imported or run.

    Only records the global's name and the state the pickle gives it; callers convert it
    (for example a scipy sparse matrix or a chumpy array) into plain numpy arrays.
    """

    pickle_module = ""
    pickle_name = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        """A pickled dict subclass (e.g. ``easydict.EasyDict``) gives its items this way: kept in ``items``."""
        self.__dict__.setdefault("items", {})[key] = value

    def __reduce__(self) -> Any:  # pragma: no cover - never re-pickled
        raise TypeError("inert placeholders cannot be pickled")


def _inert_class(module: str, name: str) -> type[InertObject]:
    return type(name, (InertObject,), {"pickle_module": module, "pickle_name": name})


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str, inert_modules: tuple[str, ...] = ()):
        super().__init__(file, encoding="latin1")
        self._source = source
        self._inert_modules = inert_modules

    def find_class(self, module: str, name: str) -> Any:
        # Python-2 names (as in the official SMPL files): __builtin__.set → builtins.set, etc.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        obj = _ALLOWED.get((module, name))
        if obj is None and any(module == m or module.startswith(m + ".") for m in self._inert_modules):
            # Any global of these packages becomes an inert placeholder: "calling" it only stores args.
            return _inert_class(module, name)
        if obj is None:
            raise UnsafePickleError(
                f"{self._source}: refused to load: the pickle references {module}.{name}, which is not a "
                "numpy array, dtype or plain builtin (the file may be malicious; nothing was executed)"
            )
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self._source}: refused to load: the pickle uses persistent ids")


def _check_arrays(obj: Any, source: str, size: int) -> None:
    """Reject object-dtype arrays (they can hide anything) anywhere in the structure, structures nested deeper than
    :data:`~macedance.limits.MAX_PICKLE_DEPTH`, and arrays larger together than the ``size`` bytes of the pickle (an
    array whose data came from the file cannot be: a larger one is uninitialised memory from a forged shape).
    Iterative, and each object once: a self-referencing list is no endless recursion."""
    stack, seen, nbytes = [(obj, 0)], set(), 0
    while stack:
        o, depth = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if depth > MAX_PICKLE_DEPTH:
            raise DataFormatError(f"{source}: refused to load: nested more than {MAX_PICKLE_DEPTH} levels deep")
        if isinstance(o, np.ndarray):
            if o.dtype.hasobject:
                raise UnsafePickleError(f"{source}: refused to load: contains an object-dtype array")
            nbytes += o.nbytes
            if nbytes > size + 4096:
                raise DataFormatError(f"{source}: refused to load: its arrays state {nbytes} bytes, more than the "
                                      f"{size}-byte pickle holds (a forged array shape)")
        elif isinstance(o, dict):
            stack.extend((v, depth + 1) for v in o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend((v, depth + 1) for v in o)


def safe_load_pickle_bytes(raw: bytes, source: str, inert_modules: tuple[str, ...] = ()) -> Any:
    """:func:`safe_load_pickle` for bytes already in memory (``source`` names them in errors)."""
    if not raw:
        raise DataFormatError(f"{source}: empty data, expected a pickle")
    try:
        obj = _RestrictedUnpickler(io.BytesIO(raw), source, inert_modules).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # UnpicklingError, EOFError, ValueError, struct errors …
        raise DataFormatError(f"{source}: not a readable pickle ({type(exc).__name__}: {exc})") from None
    _check_arrays(obj, source, len(raw))
    return obj


def safe_load_pickle(path: str | Path, inert_modules: tuple[str, ...] = ()) -> Any:
    """Load a pickle holding only numpy arrays/scalars and builtins.

    Args:
        path: the file.
        inert_modules: packages whose *classes* may appear; each becomes an :class:`InertObject`
            that only records its state (nothing from those packages is imported or executed).

    Raises:
        UnsafePickleError: the pickle references anything else (never executed).
        DataFormatError: the file is not a readable pickle (truncated, corrupt, empty).
    """
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise DataFormatError(f"{path}: empty file, expected a pickle")
    return safe_load_pickle_bytes(raw, str(path), inert_modules)


def write_npy_object(f: Any, obj: Any) -> None:
    """Write ``obj`` (e.g. a dict of arrays) to the open binary file ``f`` as ``np.save(f, obj)`` does: an ``.npy``
    holding one pickled 0-d object array — the layout Bailando's files have (writing only; reading such files goes
    through :func:`safe_load_npy_object`)."""
    arr = np.empty((), dtype=object)
    arr[()] = obj
    np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(arr))
    pickle.dump(arr, f, protocol=4, fix_imports=True)


def safe_load_npy_object(raw: bytes, source: str) -> Any:
    """The Python object an ``np.save`` stored (a 0-d object array, e.g. Bailando's ``np.save(f, {"pred_position":
    a})``), read through the restricted unpickler and checked like a pickle (numpy's own loader, with pickles allowed,
    would run whatever the file names).

    Raises:
        DataFormatError: not an ``.npy`` of one pickled object; UnsafePickleError (as :func:`safe_load_pickle_bytes`).
    """
    f = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(f)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}[version]
        shape, _, dtype = reader(f)
    except (ValueError, KeyError, OSError) as exc:
        raise DataFormatError(f"{source}: not a readable .npy file ({exc!r})") from None
    if dtype != np.dtype(object) or shape != ():
        raise DataFormatError(f"{source}: expected one np.save'd object (an object array of shape ()), found dtype {dtype} shape {shape}")
    try:
        arr = _RestrictedUnpickler(f, source, ()).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # UnpicklingError, EOFError, ValueError, struct errors …
        raise DataFormatError(f"{source}: not a readable pickled object ({type(exc).__name__}: {exc})") from None
    if not isinstance(arr, np.ndarray) or arr.shape != () or not arr.dtype.hasobject:
        raise DataFormatError(f"{source}: expected an object array of shape (), found {type(arr).__name__}")
    obj = arr.item()
    _check_arrays(obj, source, len(raw))
    return obj


_STORAGE_DTYPES = {"FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16", "DoubleStorage": "float64",
                   "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
                   "ByteStorage": "uint8", "BoolStorage": "bool"}


_JIT_BUILDERS = {**dict.fromkeys(("build_intlist", "build_doublelist", "build_boollist", "build_tensorlist"), list),
                 "restore_type_tag": lambda value, *_: value}


class _StorageType:
    def __init__(self, dtype: str):
        self.dtype = dtype


def _rebuild_tensor(storage: Any, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> Any:
    return storage.as_strided(size, stride, offset).clone()


class _TorchArchiveUnpickler(_RestrictedUnpickler):
    """The restricted unpickler plus tensors: storages are read from the zip archive by their persistent
    id, ``torch._utils._rebuild_tensor_v2`` becomes a strided copy, and TorchScript's module classes
    (``__torch__.*``) become :class:`InertObject` records of their attributes (no code is loaded)."""

    def __init__(self, file: io.BufferedIOBase, source: str, archive: Any, prefix: str, inert_modules: tuple[str, ...] = ()):
        super().__init__(file, source, inert_modules=("__torch__", *inert_modules))
        self._archive, self._prefix = archive, prefix

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):  # nn.Parameter(data, requires_grad, hooks)
            return lambda data, *_: data
        if (module, name) == ("collections", "OrderedDict"):  # state dicts; torch.save keeps their `_metadata` (BUILD)
            return collections.OrderedDict
        if module == "torch.jit._pickle" and name in _JIT_BUILDERS:  # TorchScript's typed lists: plain lists
            return _JIT_BUILDERS[name]
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        import torch

        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise UnsafePickleError(f"{self._source}: refused to load: unexpected persistent id {pid!r:.80}")
        try:
            raw = self._archive.read(f"{self._prefix}data/{pid[2]}")
        except KeyError:
            raise DataFormatError(f"{self._source}: storage {pid[2]} missing from the archive") from None
        dtype = getattr(torch, pid[1].dtype)
        return torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)


def _flatten_modules(obj: Any, prefix: str, out: dict[str, Any], source: str = "", depth: int = 0) -> None:
    import torch

    if depth > MAX_PICKLE_DEPTH:  # also ends a module that contains itself
        raise DataFormatError(f"{source}: refused to load: modules nested more than {MAX_PICKLE_DEPTH} levels deep")
    for k, v in (obj.state if isinstance(obj.state, dict) else {}).items():
        if isinstance(v, torch.Tensor):
            out[prefix + k] = v
        elif isinstance(v, InertObject):
            _flatten_modules(v, f"{prefix}{k}.", out, source, depth + 1)


def load_torch_archive(raw: bytes, source: str, inert_modules: tuple[str, ...] = ()) -> Any:
    """The object of a zip-format torch file (``torch.save`` or ``torch.jit.save``; e.g. OpenAI's CLIP
    ``ViT-B-32.pt``) read without ``torch.jit.load`` and without running any code of the file: tensors,
    numpy values and builtins only; a TorchScript module becomes the dict of its tensors by dotted path.
    ``inert_modules``: packages whose classes may appear as inert records (e.g. ``argparse`` for the
    ``args`` a training checkpoint carries).

    Raises:
        UnsafePickleError: ``data.pkl`` references anything else.
        DataFormatError: not a zip archive with a ``data.pkl``.
    """
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        check_zip(archive, source, max_bytes=MAX_CHECKPOINT_BYTES)  # member names, links, sizes: before any is read
        pkl = next(n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1)
    except (zipfile.BadZipFile, StopIteration):
        raise DataFormatError(f"{source}: not a torch archive (a zip file with <name>/data.pkl)") from None
    prefix = pkl[: -len("data.pkl")]
    try:
        obj = _TorchArchiveUnpickler(io.BytesIO(archive.read(pkl)), source, archive, prefix, inert_modules).load()
    except (UnsafePickleError, DataFormatError):
        raise
    except Exception as exc:
        raise DataFormatError(f"{source}: not a readable torch archive ({type(exc).__name__}: {exc})") from None
    if isinstance(obj, InertObject) and obj.pickle_module.startswith("__torch__"):
        out: dict[str, Any] = {}
        _flatten_modules(obj, "", out, source)
        return out
    return obj
