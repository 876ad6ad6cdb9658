"""Faults (issue 22, items 1–3): the long jobs killed anywhere resume exactly; a full disk or a read-only folder ends
with one error naming the file and loses nothing; two jobs never write into one folder.

Kill anywhere: each job runs in a child process (tests/fault_inject.py) that SIGKILLs itself at the N-th file it
writes — mid-write, after the bytes but before the rename, or after the rename — at points spread over the whole run
(counted in an uninterrupted run). After each kill every file under its final name must read whole; ``--resume``
(or running again: ``bench run`` and ``eval video`` resume by content keys) must then end with the outputs of the
uninterrupted run, no temporary file and no lock file. docs/robustness.md lists the cases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import dataset_files, make_dance_dataset
from faults import KILLED, check_whole, counted_writes, kill_points, leftovers, run_cli

SMALL = ["--min-clip", "2", "--max-clip", "3", "--shot-detector", "histogram"]


def _kill_and_resume(args: list[str], resume_args: list[str], *, case: Path, cache: Path, fault: str, out: str = "out") -> Path:
    """Run ``args`` in ``case`` killed at ``fault`` (counted under ``case/out``), check the files left, run
    ``resume_args``; returns the output folder."""
    case.mkdir(parents=True, exist_ok=True)
    r = run_cli(args, cwd=case, cache=cache, fault=fault, root=case / out)
    assert r.returncode == KILLED, (fault, r.returncode, r.stderr[-2000:])
    check_whole(case / out)
    r = run_cli(resume_args, cwd=case, cache=cache)
    assert r.returncode == 0, (fault, r.stderr[-2000:])
    assert leftovers(case / out) == [], fault
    return case / out


def _same_dataset(out: Path, ref: Path, *, command_differs: bool = False) -> None:
    """``out`` holds the files of ``ref``, byte for byte; the cards differ only by the command that finished the run
    (``--resume``; ``command_differs``: any command)."""
    a, b = dataset_files(out), dataset_files(ref)
    assert {k: v for k, v in a.items() if k != "README.md"} == {k: v for k, v in b.items() if k != "README.md"}
    card, ref_card = ((f / "README.md").read_text().splitlines() for f in (out, ref))
    assert len(card) == len(ref_card)
    diff = [(x, y) for x, y in zip(card, ref_card, strict=True) if x != y]
    assert all(command_differs or x.replace(" --resume", "") == y for x, y in diff) and len(diff) <= 1, diff


# ----- data build --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, list[str]]:
    """(raw folder, cache, the uninterrupted build, the files it wrote in order)."""
    from macedance.datasets.synthetic_video import ShotSpec, write_dance_video

    root = tmp_path_factory.mktemp("faults-build")
    raw = root / "raw"
    (raw / "jazz").mkdir(parents=True)
    write_dance_video(raw / "jazz" / "b.mp4", [ShotSpec(3.2, bpm=110)], fps=15.0, size=(320, 240), seed=2)
    write_dance_video(raw / "c.mp4", [ShotSpec(2.6, bpm=90), ShotSpec(2.4)], fps=15.0, size=(320, 240), seed=3)
    (raw / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    cache = root / "cache"
    (root / "ref").mkdir()
    r = run_cli(["data", "build", str(raw), "out", *SMALL], cwd=root / "ref", cache=cache)  # fills the cache
    assert r.returncode == 0, r.stderr
    log = root / "writes.log"
    (root / "again").mkdir()
    r = run_cli(["data", "build", str(raw), "out", *SMALL], cwd=root / "again", cache=cache, root=root / "again" / "out", log=log)
    assert r.returncode == 0, r.stderr
    assert dataset_files(root / "again" / "out") == dataset_files(root / "ref" / "out")  # the same bytes: resume can be compared
    return raw, cache, root / "ref" / "out", counted_writes(log)


def test_killed_data_build_resumes_to_the_uninterrupted_dataset(raw_videos: tuple[Path, Path, Path, list[str]], tmp_path: Path) -> None:
    raw, cache, ref, writes = raw_videos
    assert len(writes) > 20 and any(".build/videos" in w for w in writes) and writes[-1].endswith("build_report.json")
    args = ["data", "build", str(raw), "out", *SMALL]
    for i, fault in enumerate(kill_points(len(writes))):
        out = _kill_and_resume(args, [*args, "--resume"], case=tmp_path / f"k{i}", cache=cache, fault=fault)
        _same_dataset(out, ref)
    # killed twice (the resumed run too), then finished
    case = tmp_path / "twice"
    case.mkdir()
    assert run_cli(args, cwd=case, cache=cache, fault=f"before:{len(writes) // 4}", root=case / "out").returncode == KILLED
    out = _kill_and_resume([*args, "--resume"], [*args, "--resume"], case=case, cache=cache, fault=f"during:{len(writes) // 3}")
    _same_dataset(out, ref)


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has ended (only not yet reaped)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads child processes from /proc (Linux)")
def test_killed_driver_leaves_no_worker_writing(raw_videos: tuple[Path, Path, Path, list[str]], tmp_path: Path) -> None:
    """SIGKILL the driver of a ``--workers 2`` build once its workers run: they end within seconds (they watch
    their parent), and the resumed build equals the uninterrupted one."""
    raw, cache, ref, _ = raw_videos
    args = [*["data", "build", str(raw), "out", *SMALL], "--workers", "2"]
    from faults import LAUNCH

    env = {**os.environ, "MACEDANCE_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1", "MACEDANCE_FAULT": "count:0"}
    p = subprocess.Popen([sys.executable, str(LAUNCH), *args], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        workers = [c for c in _children(p.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")]
        if len(workers) >= 2:
            break
        time.sleep(0.05)
    assert p.poll() is None and len(workers) >= 2, "the build ended before its workers were seen"
    p.send_signal(signal.SIGKILL)
    p.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "a worker outlived its killed driver"
    r = run_cli([*args, "--resume"], cwd=tmp_path, cache=cache)
    assert r.returncode == 0, r.stderr
    _same_dataset(tmp_path / "out", ref, command_differs=True)  # the card quotes the command (--workers 2)
    assert leftovers(tmp_path / "out") == []


# ----- data render, train motion, bench run, eval video ------------------------------------------------------------


@pytest.fixture(scope="module")
def motions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(root, motions with official splits — two train, two test — and their music, cache)."""
    from macedance.schema import load_motion

    root = tmp_path_factory.mktemp("faults-motion")
    mot, music = make_dance_dataset(root, 4, 2.5)
    for i, f in enumerate(sorted(mot.glob("*.npz"))):
        m = load_motion(f)
        m.replace(meta={**m.meta, "split": "train" if i < 2 else "test"}).save(f)
    return root, mot, root / "cache"


RENDER = ["--size", "64x64", "--min-clip", "1.5", "--max-clip", "2"]


def _reference(args: list[str], root: Path, name: str, cache: Path, out: str = "out") -> tuple[Path, list[str]]:
    """An uninterrupted run of ``args`` in ``root/name`` and the files it wrote under ``out``, in order."""
    (root / name).mkdir()
    log = root / f"{name}.log"
    r = run_cli(args, cwd=root / name, cache=cache, root=root / name / out, log=log)
    assert r.returncode == 0, r.stderr
    return root / name / out, counted_writes(log)


def test_killed_data_render_resumes_to_the_uninterrupted_dataset(motions: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, mot, cache = motions
    args = ["data", "render", str(mot), "out", "--music-dir", str(root / "music"), *RENDER]
    ref, writes = _reference(args, tmp_path, "ref", cache)
    assert len(writes) > 20 and any(w.endswith(".mp4") for w in writes)
    for i, fault in enumerate(kill_points(len(writes), few=True)):
        _same_dataset(_kill_and_resume(args, [*args, "--resume"], case=tmp_path / f"k{i}", cache=cache, fault=fault), ref)


def _checkpoint(run: Path) -> dict:
    import torch

    return torch.load(run / "checkpoint.pt", weights_only=True, map_location="cpu")


def _same_training(run: Path, ref: Path) -> None:
    """The same weights, EMA, optimizer state and RNG streams bit for bit (one process, one thread, the same code),
    and the same loss rows (but their wall-clock seconds)."""
    import torch

    a, b = _checkpoint(run), _checkpoint(ref)
    assert a["step"] == b["step"]
    for key in ("model", "ema"):
        assert a[key].keys() == b[key].keys() and all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    assert all(torch.equal(x, y) for x, y in zip(a["generator"].flatten(), b["generator"].flatten(), strict=True))
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k][n], sb[k][n]) for k in sa for n in sa[k])
    rows = [[line.split(",")[:-1] for line in (f / "loss.csv").read_text().splitlines()] for f in (run, ref)]
    assert rows[0] == rows[1] and len(rows[0]) == b["step"] + 1


def test_killed_training_resumes_to_the_uninterrupted_run(motions: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, mot, cache = motions
    (tmp_path / "cfg.json").write_text(json.dumps({"train": {"checkpoint_every": 2, "log_every": 1, "window": 60, "batch": 4}}))
    args = ["train", "motion", "--data", str(mot), "--music", str(root / "music"), "--out", "run", "--tiny", "--steps", "6",
            "--config", str(tmp_path / "cfg.json")]
    ref, writes = _reference(args, tmp_path, "ref", cache, out="run")
    assert sum(w.endswith("checkpoint.pt") for w in writes) == 3
    for i, fault in enumerate(kill_points(len(writes), few=True)):
        run = _kill_and_resume(args, [*args, "--resume"], case=tmp_path / f"k{i}", cache=cache, fault=fault, out="run")
        _same_training(run, ref)
