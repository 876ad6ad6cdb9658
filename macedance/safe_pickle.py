"""A restricted unpickler for numeric data files (AIST++ ``.pkl`` annotations and the like).

Plain ``pickle.load`` runs arbitrary code named by the file. This unpickler resolves only the
globals needed to rebuild numpy arrays, dtypes and scalars plus a few inert builtins; any other
global (``os.system``, ``builtins.eval``, a class from some package …) raises
:class:`~macedance.errors.UnsafePickleError` before anything is called.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import DataFormatError, UnsafePickleError

_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", name): getattr(__import__("builtins"), name)
    for name in ("dict", "list", "tuple", "set", "frozenset", "bytearray", "complex", "int", "float",
                 "bool", "str", "bytes", "slice", "range")  # fmt: skip
}
_ALLOWED[("_codecs", "encode")] = __import__("codecs").encode  # protocol-2 bytes: str → bytes only
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = np.dtype
# Arrays and numpy scalars pickle through multiarray._reconstruct / multiarray.scalar; the module
# is numpy.core in files written by numpy 1.x and numpy._core by numpy 2.x: accept both names.
try:
    from numpy._core import multiarray as _multiarray  # numpy ≥ 2
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(_mod, "scalar")] = _multiarray.scalar
# Protocol 5 rebuilds arrays from raw buffers with numeric._frombuffer (bytes → array, nothing else).
_frombuffer = np.ndarray.__reduce_ex__(np.zeros(1), 5)[0]
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _frombuffer
for _name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
              "uint32", "uint64", "bool_", "complex64", "complex128"):  # fmt: skip
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


def _check_arrays(obj: Any, source: str) -> None:
    """Reject object-dtype arrays (they can hide anything) anywhere in the structure."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise UnsafePickleError(f"{source}: refused to load: contains an object-dtype array")
    elif isinstance(obj, dict):
        for v in obj.values():
            _check_arrays(v, source)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _check_arrays(v, source)


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
    _check_arrays(obj, source)
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
