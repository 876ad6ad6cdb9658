import json
import pickle
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from macedance import __version__
from macedance.cli import app
from macedance.datasets.synthetic import synthetic_motion, write_aistpp_pkl, write_finedance_npy

runner = CliRunner()

def _command_paths() -> list[list[str]]:
    """Every command and group of the CLI, found by walking the Typer tree (new commands are covered by themselves)."""
    import typer.main

    paths: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


COMMANDS = _command_paths()


def test_the_walk_finds_nested_commands():
    assert ["data", "import", "aistpp"] in COMMANDS and ["weights", "fetch"] in COMMANDS and ["demo"] in COMMANDS and len(COMMANDS) > 30


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "macedance")
def test_help_on_every_command(cmd):
    result = runner.invoke(app, cmd + ["--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def _one_red_line(result):
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_missing_source_is_one_line_exit_2(tmp_path):
    line = _one_red_line(runner.invoke(app, ["data", "import", "aistpp", str(tmp_path / "nope"), str(tmp_path / "out")]))
    assert "source folder not found" in line


def test_bad_option_value_is_one_line_exit_2(tmp_path):
    write_aistpp_pkl(synthetic_motion(seconds=0.5), tmp_path / "src" / "a.pkl")
    line = _one_red_line(runner.invoke(app, ["data", "import", "aistpp", str(tmp_path / "src"), str(tmp_path / "o"),
                                             "--up-axis", "x"]))
    assert "--up-axis: expected one of 'y', 'z', found 'x'" in line  # the library's up_axis, as the option typed
    line = _one_red_line(runner.invoke(app, ["data", "import", "finedance", str(tmp_path / "src"), str(tmp_path / "o"),
                                             "--split", "random"]))
    assert "--split" in line


def test_unknown_option_exits_2():
    assert runner.invoke(app, ["data", "info", "--frobnicate"]).exit_code == 2


def test_verbose_shows_traceback(tmp_path):
    result = runner.invoke(app, ["--verbose", "data", "info", str(tmp_path / "nope.npz")])
    assert result.exit_code == 2 and "Traceback" in result.stderr


def test_bad_shape_file_is_one_line(tmp_path):
    np.savez(tmp_path / "m.npz", schema_version=1, kind="motion", poses=np.zeros((3, 22, 3)), trans=np.zeros((3, 3)),
             fps=30.0, up_axis="y")
    line = _one_red_line(runner.invoke(app, ["data", "info", str(tmp_path / "m.npz")]))
    assert "m.npz" in line and "Motion.poses: expected shape (T, 24, 3)" in line and "found shape (3, 22, 3)" in line


def test_import_aistpp_and_info_and_json(tmp_path):
    src = tmp_path / "src"
    for i in range(2):
        write_aistpp_pkl(synthetic_motion(seconds=1.0, seed=i), src / f"gBR_sBM_cAll_d0{i}_mBR0_ch01.pkl")
    (src / "evil.pkl").write_bytes(pickle.dumps(type("E", (), {"__reduce__": lambda s: (print, ("x",))})()))
    result = runner.invoke(app, ["data", "import", "aistpp", str(src), str(tmp_path / "out"), "--fps", "30"])
    assert result.exit_code == 0, result.output
    assert "2 converted" in result.output and "1 rejected" in result.output and "evil.pkl" in result.output
    result = runner.invoke(app, ["data", "info", str(tmp_path / "out"), "--json", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    assert "gBR_sBM_cAll_d00_mBR0_ch01" in result.output and "mean" in result.output
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["skeleton"] == "builtin-smpl" and len(stats["motions"]) == 2
    assert stats["motions"]["gBR_sBM_cAll_d00_mBR0_ch01"]["fps"] == 30.0


def test_import_finedance_cli(tmp_path):
    write_finedance_npy(synthetic_motion(seconds=1.0, fps=30), tmp_path / "src" / "001.npy")
    result = runner.invoke(app, ["data", "import", "finedance", str(tmp_path / "src"), str(tmp_path / "out")])
    assert result.exit_code == 0 and "1 converted" in result.output


def test_info_with_user_smpl_model(tmp_path, smpl_model_dir):
    write_aistpp_pkl(synthetic_motion(seconds=0.5), tmp_path / "src" / "a.pkl")
    runner.invoke(app, ["data", "import", "aistpp", str(tmp_path / "src"), str(tmp_path / "out")])
    result = runner.invoke(app, ["data", "info", str(tmp_path / "out"), "--smpl-model", str(smpl_model_dir)])
    assert result.exit_code == 0, result.output
    assert "smplx:SMPL_NEUTRAL.pkl" in result.output
    line = _one_red_line(runner.invoke(app, ["data", "info", str(tmp_path / "out"), "--smpl-model", str(tmp_path)]))
    assert "no SMPL neutral model file found" in line


def test_console_script_entry_point(tmp_path):
    out = subprocess.run([sys.executable, "-m", "macedance", "data", "info", str(tmp_path / "x.npz")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("error:") and "Traceback" not in out.stderr


@pytest.mark.parametrize("args, message", [
    (["data", "info", "--frobnicate"], "No such option: --frobnicate (see macedance data info --help)"),
    (["data", "import", "aistpp"], "Missing argument"),
    (["nosuch"], "No such command 'nosuch'"),
    (["demo", "--sequences", "0"], "--sequences"),
])
def test_console_script_usage_errors_are_one_line(args, message):
    out = subprocess.run([sys.executable, "-m", "macedance", *args], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.startswith("error:") and message in " ".join(out.stderr.split())
    assert "Traceback" not in out.stderr and "╭" not in out.stderr


def test_console_script_help_and_no_args():
    assert subprocess.run([sys.executable, "-m", "macedance", "--help"], capture_output=True).returncode == 0
    out = subprocess.run([sys.executable, "-m", "macedance"], capture_output=True, text=True)
    assert out.returncode == 2 and "Usage" in out.stdout and "error" not in out.stderr


def test_unwritable_output_is_one_line(tmp_path):
    write_aistpp_pkl(synthetic_motion(seconds=0.5), tmp_path / "src" / "a.pkl")
    (tmp_path / "blocked").write_text("a file where the output folder should be")
    line = _one_red_line(runner.invoke(app, ["data", "import", "aistpp", str(tmp_path / "src"), str(tmp_path / "blocked")]))
    assert "blocked" in line


def test_eval_motion_on_imported_aistpp_directories(tmp_path):
    for role, seeds in (("pred", range(3)), ("gt", range(10, 14))):
        for s in seeds:
            write_aistpp_pkl(synthetic_motion(seconds=2.0, seed=s), tmp_path / "raw" / role / f"gBR_sBM_cAll_d{s:02d}_mBR0_ch01.pkl")
        assert runner.invoke(app, ["data", "import", "aistpp", str(tmp_path / "raw" / role), str(tmp_path / role)]).exit_code == 0
    music = tmp_path / "music"
    music.mkdir()
    for s in range(3):
        np.save(music / f"gBR_sBM_cAll_d{s:02d}_mBR0_ch01.npy", np.arange(0.1, 2.0, 0.5))
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / "pred" / "motions"), "--gt", str(tmp_path / "gt" / "motions"),
                                 "--music", str(music), "--preset", "bailando-aistpp", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "FID_k" in result.output and "bailando-aistpp" in result.output
    rec = json.loads(out.read_text())
    assert rec["preset"]["name"] == "bailando-aistpp" and len(rec["preset"]["hash"]) == 16
    assert rec["inputs"]["evaluated"] == {"pred": 3, "gt": 4} and rec["macedance_version"] == __version__
    assert rec["scores"]["bas"]["value"] is not None and rec["scores"]["bas_gt"]["value"] is None


def test_eval_motion_errors_are_one_line(tmp_path):
    line = _one_red_line(runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / "a"), "--gt", str(tmp_path / "b")]))
    assert "--pred folder not found" in line
    (tmp_path / "a").mkdir()
    np.save(tmp_path / "a" / "x.npy", np.zeros((10, 72)))
    line = _one_red_line(runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / "a"), "--gt", str(tmp_path / "a")]))
    assert "--fps/--up-axis" in line
    line = _one_red_line(runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / "a"), "--gt", str(tmp_path / "a"),
                                             "--preset", "nope"]))
    assert "--preset: expected one of" in line


def test_eval_motion_mace_json_keypoints(tmp_path):
    """The official easy_ViTPose JSON layout ((y, x, score), coco_25) is read as is."""
    rng = np.random.default_rng(0)
    for role in ("pred", "gt"):
        (tmp_path / role).mkdir()
        for i in range(3):
            kp = rng.uniform(100, 600, size=(70, 25, 3))
            kp[..., 2] = 1.0
            (tmp_path / role / f"clip{i}.json").write_text(json.dumps({"keypoints": kp.tolist(), "fps": 16.0}))
    result = runner.invoke(app, ["eval", "motion", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                                 "--preset", "mace-video2d"])
    assert result.exit_code == 0, result.output
    assert "mace-video2d" in result.output and "undefined" in result.output  # BAS without music
