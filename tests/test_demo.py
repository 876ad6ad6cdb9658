"""`macedance demo` as a user runs it: the whole job, again (reusing every finished stage: the same board, nothing
retrained), after a kill in the training stage (finishes with the same board), and --fresh."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from macedance.cli import app

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--sequences", "6", "--steps", "30"]
METHODS = ("mace-dance", "edge", "mace-dance-v0", "retrieval", "random-clip", "mean-pose", "mace-dance-official", "edge-official")
VIDEO_METHODS = ("wan-animate", "reference-still", "mace-dance+wan-animate", "edge+wan-animate")
runner = CliRunner()


def _board(out: Path) -> dict[str, dict]:
    """Every method's scores (values and bootstrap intervals) from the result records."""
    return {json.loads(p.read_text())["method"]["name"]: json.loads(p.read_text())["scores"] for p in sorted((out / "results").glob("*.json"))}


def _mtimes(out: Path) -> dict[str, int]:
    """Modification times of the trained models, the reference indexes and every generated clip."""
    files = [*(out / "runs").glob("*/checkpoint.pt"), *(out / "results").rglob("outputs/*.npz"), *(out / "results").rglob("outputs/*.mp4")]
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in files}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, dict], str]:
    """(cache, output folder, board, printed output) of one complete run."""
    root = tmp_path_factory.mktemp("demo")
    mp = pytest.MonkeyPatch()
    mp.setenv("MACEDANCE_CACHE_DIR", str(root / "cache"))
    try:
        result = runner.invoke(app, ["demo", "--out", str(root / "demo"), *ARGS])
    finally:
        mp.undo()
    assert result.exit_code == 0, result.output
    return root / "cache", root / "demo", _board(root / "demo"), result.output


def test_demo_runs_the_full_job(demo: tuple[Path, Path, dict, str]) -> None:
    _, out, board, output = demo
    assert "6 converted" in output and "1 rejected" in output
    for method in METHODS:
        assert method in output
    assert (out / "site" / "index.html").is_file()
    assert sorted(board) == sorted(METHODS + VIDEO_METHODS) and board["edge"]["fid_k"]["value"] > 0
    # the released methods ran on the demo's own official.pt, and the board says so
    assert "not the published weights" in (out / "site" / "leaderboard.md").read_text()
    page = (out / "site" / "index.html").read_text()
    assert "runs/mace-dance/official.pt" in page
    # the video boards: the tiny pipeline and the folder of still videos scored on madata-animation, two trained motion
    # methods cascaded into the tiny pipeline on madata-music2video, with the metrics that need no weights
    assert "madata-animation v1" in page and "madata-music2video v1" in page
    assert set(board["wan-animate"]) == set(board["reference-still"]) == {"psnr", "l1"}
    assert board["reference-still"]["psnr"]["value"] > 0 and board["wan-animate"]["psnr"]["n"] == 2
    assert board["mace-dance+wan-animate"]["temporal-flickering"]["value"] > 0
    # every row of every board has its sample clips, copied next to the page
    samples = sorted((out / "site" / "samples").rglob("*.mp4"))
    assert len(samples) == 2 * (len(METHODS) + len(VIDEO_METHODS)) and page.count("<video ") == len(samples)
    from macedance.io.video import probe_video

    assert all(probe_video(p).has_audio for p in samples)  # with the clip's music (motion tasks too: its audio file)


def test_demo_page_plays_its_sample_clips_in_headless_chromium(demo: tuple[Path, Path, dict, str], chromium) -> None:
    """Every sample video on the page loads (H.264 with AAC music), decodes to frames of its size and plays."""
    from selenium.webdriver.common.by import By

    _, out, _, _ = demo
    chromium.get((out / "site" / "index.html").resolve().as_uri())
    videos = chromium.find_elements(By.CSS_SELECTOR, "details.samples video")
    assert len(videos) == 2 * (len(METHODS) + len(VIDEO_METHODS))
    state = "return [arguments[0].readyState, arguments[0].videoWidth, arguments[0].duration, arguments[0].error && arguments[0].error.code]"
    deadline = time.time() + 30
    while time.time() < deadline and any(chromium.execute_script(state, v)[0] < 2 for v in videos):
        time.sleep(0.2)
    for v in videos:
        ready, width, duration, error = chromium.execute_script(state, v)
        assert error is None and ready >= 2 and width > 0 and duration > 1.0, (v.get_attribute("src"), ready, width, duration, error)
    first = videos[-1]  # a video board's sample: generated | ground truth side by side
    assert chromium.execute_script(state, first)[1] > 2 * 100
    chromium.execute_script("arguments[0].play()", first)
    deadline = time.time() + 10
    while time.time() < deadline and chromium.execute_script("return arguments[0].currentTime", first) < 0.2:
        time.sleep(0.1)
    assert chromium.execute_script("return arguments[0].currentTime", first) >= 0.2  # it plays


def test_demo_dataset_exports_to_both_formats_and_loads_back_equal(demo: tuple[Path, Path, dict, str], tmp_path: Path) -> None:
    """The dataset `make demo` builds from raw videos, exported as a Hugging Face dataset and as WebDataset shards: the
    same arrays (bit for bit), media bytes and splits come back; the Croissant record validates (export_dataset checks)."""
    from macedance.datasets.publish.export import export_dataset

    from conftest import assert_same_as_dataset

    built = demo[1] / "built"
    assert "## Statistics" in (built / "README.md").read_text() and (built / "stats" / "motion_energy.png").is_file()
    for fmt in ("hf", "webdataset"):
        report = export_dataset(built, tmp_path / fmt, format=fmt)  # type: ignore[arg-type]
        assert report.clips == len((built / "clips.jsonl").read_text().splitlines()) == report.croissant_records > 0
        assert_same_as_dataset(built, tmp_path / fmt)


def test_demo_runs_again_reusing_what_is_done(demo: tuple[Path, Path, dict, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """1093ac1 crashed here (KeyError: 'loss' in the summary of a training run with nothing left to do)."""
    cache, out, board, _ = demo
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(cache))
    before = _mtimes(out)
    result = runner.invoke(app, ["demo", "--out", str(out), *ARGS])
    assert result.exit_code == 0, result.output
    assert _board(out) == board  # the same leaderboard numbers
    assert _mtimes(out) == before  # nothing retrained, re-indexed or regenerated
    assert result.output.count("already trained") == 3
    assert len(list((out / "results").rglob("outputs/*.mp4"))) == 3 * 2  # wan-animate and the two cascades, two test clips each
    assert "6 (0 processed, 6 already done)" in result.output  # the rendered motions were not rendered again


def test_demo_finishes_after_a_kill_in_training(demo: tuple[Path, Path, dict, str], tmp_path: Path) -> None:
    """SIGKILL once the first model has logged training steps; the next run resumes and ends with the same board
    (training resumes bit for bit from its checkpoint, generations are seeded per clip). The stages before training
    are taken from the complete run (as a resumed demo reuses them), so the kill lands in training sooner."""
    cache, done, board, _ = demo
    out = tmp_path / "demo"
    for name in ("raw", "music", "data", "rendered", "raw-videos", "built"):
        shutil.copytree(done / name, out / name)
    shutil.copyfile(done / "demo.json", out / "demo.json")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MACEDANCE_CACHE_DIR": str(cache)}
    proc = subprocess.Popen([sys.executable, "-m", "macedance", "demo", "--out", str(out), *ARGS, "--no-video"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = out / "runs" / "mace-dance" / "loss.csv"
    deadline = time.time() + 600
    try:
        while time.time() < deadline and proc.poll() is None:
            if log.is_file() and len(log.read_text().splitlines()) >= 3:  # header + steps 10 and 20
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the demo ended before it was killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not (out / "results").is_dir() or not list((out / "results").glob("*.json"))  # killed before the benchmark
    result = runner.invoke(app, ["demo", "--out", str(out), *ARGS, "--no-video"], env={"MACEDANCE_CACHE_DIR": str(cache)})
    assert result.exit_code == 0, result.output
    assert _board(out) == {m: s for m, s in board.items() if m in METHODS}  # the motion board (the video one is left out)


def test_demo_fresh_starts_over(demo: tuple[Path, Path, dict, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, out, _, _ = demo
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(cache))
    marker = out / "runs" / "edge" / "stale.txt"
    marker.write_text("from an earlier run")
    from macedance.demo import prepare_demo_folder

    assert prepare_demo_folder(out, sequences=6, steps=30, seed=0, fresh=False) == [] and marker.is_file()
    assert prepare_demo_folder(out, sequences=6, steps=31, seed=0, fresh=False) == ["the trained models (--steps changed)"]
    assert not marker.parent.exists()
    assert prepare_demo_folder(out, sequences=6, steps=31, seed=0, fresh=True) == ["everything (--fresh)"] and not (out / "rendered").exists()


def test_a_training_run_with_nothing_left_to_do_reports_the_same_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue: the demo indexed summary["last_loss"]["loss"] of a finished run, which was {}. Every summary now has
    the same keys; a resumed run with nothing to do reports the last trained step's losses from the checkpoint."""
    from macedance.models.diffusion import DiffusionConfig
    from macedance.models.motion_expert import ExpertConfig
    from macedance.training.motion import LOSS_KEYS, TrainConfig, train_motion

    from conftest import make_dance_dataset

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    motions, music = make_dance_dataset(tmp_path / "dance", 2, 4.0)
    args = {"expert": ExpertConfig.tiny(), "diffusion_cfg": DiffusionConfig(),
            "train": TrainConfig(steps=3, batch=2, window=60, log_every=1, checkpoint_every=3), "music_dir": music}
    first = train_motion(motions, tmp_path / "run", **args)
    again = train_motion(motions, tmp_path / "run", **args, resume=True)
    assert set(first) == set(again) and set(first["last_loss"]) == set(again["last_loss"]) == set(LOSS_KEYS)
    assert (first["steps_trained"], again["steps_trained"], again["step"]) == (3, 0, 3)
    assert again["last_loss"] == first["last_loss"] and 0 < again["train_seconds"] <= first["train_seconds"]  # saved at the checkpoint
