"""``--smpl-model`` and ``MACEDANCE_SMPL_DIR``: every command that takes a body model resolves it once, at
the CLI edge, to the model file; a resumed build reuses earlier results only with the same model content."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from macedance.cli import app
from macedance.datasets.synthetic import synthetic_motion, write_aistpp_pkl

from conftest import make_smpl_model_file

runner = CliRunner()


@pytest.fixture
def models(tmp_path: Path) -> tuple[Path, Path]:
    """Two folders with different synthetic SMPL models."""
    a, b = tmp_path / "smpl-a", tmp_path / "smpl-b"
    make_smpl_model_file(a / "SMPL_NEUTRAL.pkl", seed=1)
    make_smpl_model_file(b / "SMPL_NEUTRAL.pkl", seed=2)
    return a, b


@pytest.mark.parametrize("command", ["build", "render", "selfcheck"])
def test_dataset_commands_read_the_environment_variable(command: str, models: tuple[Path, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The parameters handed to the library carry the model file the variable points to (1093ac1: `data build`
    ignored it); an explicit --smpl-model wins over the variable."""
    import macedance.datasets.from_motion as render_mod
    import macedance.datasets.from_video as build_mod
    import macedance.datasets.selfcheck as selfcheck_mod

    seen: list[Any] = []

    def capture(*args: Any, **kwargs: Any) -> Any:
        seen.append(next(a for a in (*args, *kwargs.values()) if hasattr(a, "hash") or hasattr(a, "build")))
        raise SystemExit(0)  # stop before any work

    target = {"build": (build_mod, "build_dataset"), "render": (render_mod, "render_dataset"),
              "selfcheck": (selfcheck_mod, "run_selfcheck")}[command]
    monkeypatch.setattr(*target, capture)
    args = {"build": ["data", "build", str(tmp_path), str(tmp_path / "out")], "render": ["data", "render", str(tmp_path), str(tmp_path / "out")],
            "selfcheck": ["data", "selfcheck", str(tmp_path / "out")]}[command]
    a, b = models

    def model_of(params: Any) -> str | None:
        return params.build.smpl_model if command == "selfcheck" else params.smpl_model

    runner.invoke(app, args, env={"MACEDANCE_SMPL_DIR": str(a)})
    assert model_of(seen[-1]) == str((a / "SMPL_NEUTRAL.pkl").resolve())
    runner.invoke(app, [*args, "--smpl-model", str(b)], env={"MACEDANCE_SMPL_DIR": str(a)})
    assert model_of(seen[-1]) == str((b / "SMPL_NEUTRAL.pkl").resolve())
    runner.invoke(app, args, env={"MACEDANCE_SMPL_DIR": ""})
    assert model_of(seen[-1]) is None  # the built-in skeleton
    res = runner.invoke(app, args, env={"MACEDANCE_SMPL_DIR": str(tmp_path / "missing")})
    assert res.exit_code == 2 and "SMPL model path does not exist" in res.output


def test_info_and_eval_motion_read_the_environment_variable(models: tuple[Path, Path], tmp_path: Path) -> None:
    write_aistpp_pkl(synthetic_motion(seconds=0.5), tmp_path / "src" / "a.pkl")
    runner.invoke(app, ["data", "import", "aistpp", str(tmp_path / "src"), str(tmp_path / "m")])
    a, _ = models
    res = runner.invoke(app, ["data", "info", str(tmp_path / "m")], env={"MACEDANCE_SMPL_DIR": str(a)})
    assert res.exit_code == 0 and "smplx:SMPL_NEUTRAL.pkl" in res.output
    res = runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / "m"), "--gt", str(tmp_path / "m"), "--json", str(tmp_path / "r.json")],
                        env={"MACEDANCE_SMPL_DIR": str(a)})
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.json").read_text())["inputs"]["skeleton"].startswith("smplx:SMPL_NEUTRAL.pkl")


def test_resumed_build_needs_the_same_model_content(models: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build parameters' hash covers the model file's sha256, not its path: a resume with another model (here
    through the variable) is refused, a copy of the same file elsewhere is accepted."""
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "zero.mp4").write_bytes(b"")  # rejected at once: the build finishes in a moment
    a, b = models
    out = str(tmp_path / "out")
    res = runner.invoke(app, ["data", "build", str(raw), out, "--shot-detector", "histogram"], env={"MACEDANCE_SMPL_DIR": str(a)})
    assert res.exit_code == 0, res.output
    state = json.loads((tmp_path / "out" / ".build" / "params.json").read_text())
    assert state["params"]["smpl_model"] == str((a / "SMPL_NEUTRAL.pkl").resolve())
    res = runner.invoke(app, ["data", "build", str(raw), out, "--shot-detector", "histogram", "--resume"], env={"MACEDANCE_SMPL_DIR": str(b)})
    assert res.exit_code == 2 and "smpl_model" in res.output
    res = runner.invoke(app, ["data", "build", str(raw), out, "--shot-detector", "histogram", "--resume"], env={"MACEDANCE_SMPL_DIR": ""})
    assert res.exit_code == 2 and "smpl_model" in res.output  # built-in skeleton now: different
    shutil.copytree(a, tmp_path / "smpl-a-copy")
    res = runner.invoke(app, ["data", "build", str(raw), out, "--shot-detector", "histogram", "--resume"], env={"MACEDANCE_SMPL_DIR": str(tmp_path / "smpl-a-copy")})
    assert res.exit_code == 0, res.output
