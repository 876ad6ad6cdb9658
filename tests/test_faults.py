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
from faults import KILLED, check_whole, counted_writes, each, kill_points, leftovers, run_cli, userns_available

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


def _files(out: Path) -> dict[str, str]:
    """sha256 of a dataset's files, and of its resume state, but the lock file a killed run left (it describes a holder)."""
    import hashlib

    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != ".macedance.lock"}


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
    each(kill_points(len(writes)), lambda i, fault: _same_dataset(
        _kill_and_resume(args, [*args, "--resume"], case=tmp_path / f"k{i}", cache=cache, fault=fault), ref))
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


def _render_args(motions: tuple[Path, Path, Path]) -> list[str]:
    root, mot, _ = motions
    return ["data", "render", str(mot), "out", "--music-dir", str(root / "music"), *RENDER]


@pytest.fixture(scope="module")
def rendered(motions: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The uninterrupted render of the motions (two test clips) and the files it wrote."""
    return _reference(_render_args(motions), tmp_path_factory.mktemp("faults-render"), "ref", motions[2])


def test_killed_data_render_resumes_to_the_uninterrupted_dataset(motions: tuple[Path, Path, Path], rendered: tuple[Path, list[str]],
                                                                 tmp_path: Path) -> None:
    cache, args = motions[2], _render_args(motions)
    ref, writes = rendered
    assert len(writes) > 20 and any(w.endswith(".mp4") for w in writes)
    each(kill_points(len(writes), few=True), lambda i, fault: _same_dataset(
        _kill_and_resume(args, [*args, "--resume"], case=tmp_path / f"k{i}", cache=cache, fault=fault), ref))


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


def _train_args(motions: tuple[Path, Path, Path]) -> list[str]:
    root, mot, _ = motions
    cfg = root / "train.json"
    cfg.write_text(json.dumps({"train": {"checkpoint_every": 2, "log_every": 1, "window": 60, "batch": 4}}))
    return ["train", "motion", "--data", str(mot), "--music", str(root / "music"), "--out", "run", "--tiny", "--steps", "6", "--config", str(cfg)]


@pytest.fixture(scope="module")
def trained(motions: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The uninterrupted 6-step tiny training (checkpoints every 2 steps) and the files it wrote."""
    return _reference(_train_args(motions), tmp_path_factory.mktemp("faults-train"), "ref", motions[2], out="run")


def test_killed_training_resumes_to_the_uninterrupted_run(motions: tuple[Path, Path, Path], trained: tuple[Path, list[str]],
                                                          tmp_path: Path) -> None:
    cache, args = motions[2], _train_args(motions)
    ref, writes = trained
    assert sum(w.endswith("checkpoint.pt") for w in writes) == 3
    each(kill_points(len(writes), few=True), lambda i, fault: _same_training(
        _kill_and_resume(args, [*args, "--resume"], case=tmp_path / f"k{i}", cache=cache, fault=fault, out="run"), ref))


def _bench_files(res: Path) -> tuple[dict[str, str], dict]:
    """sha256 of the generated clips and samples of a bench run, and its record's scores."""
    import hashlib

    files = {p.relative_to(res).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(res.rglob("*"))
             if p.is_file() and p.suffix != ".json"}
    (record,) = res.glob("*.json")
    return files, json.loads(record.read_text())["scores"]


def test_killed_bench_run_resumes_to_the_uninterrupted_record(motions: tuple[Path, Path, Path], rendered: tuple[Path, list[str]],
                                                              trained: tuple[Path, list[str]], tmp_path: Path) -> None:
    """``bench run`` resumes by itself: clips made with the same inputs are kept (their content key)."""
    cache = motions[2]
    args = ["bench", "run", "--task", "madata-motion", "--method", "mace-dance", "--ckpt", str(trained[0]), "--data", str(rendered[0]),
            "--out", "res", "--bootstrap", "20"]
    ref, writes = _reference(args, tmp_path, "ref", cache, out="res")
    assert sum("/outputs/" in w for w in writes) == 2 and writes[-1].endswith(".json")
    want = _bench_files(ref)

    def case(i: int, fault: str) -> None:
        assert _bench_files(_kill_and_resume(args, args, case=tmp_path / f"k{i}", cache=cache, fault=fault, out="res")) == want, fault

    each(kill_points(len(writes), few=True), case)


def test_killed_video_evaluation_resumes_from_its_cache(rendered: tuple[Path, list[str]], tmp_path: Path) -> None:
    """``eval video`` fills a content-addressed cache (a pair's scores per entry): killed while writing an entry, the
    next run recomputes it, removes the killed write's temporary file and gives the uninterrupted scores."""
    import numpy as np

    from macedance.io.video import read_video, write_video

    gt = rendered[0] / "videos"
    pred = tmp_path / "pred"
    pred.mkdir()
    rng = np.random.default_rng(0)
    for v in sorted(gt.glob("*.mp4")):
        frames = read_video(v)[0]
        noisy = np.clip(frames.astype(np.int16) + rng.integers(-20, 21, frames.shape), 0, 255).astype(np.uint8)
        write_video(pred / v.name, noisy, 30.0)
    args = ["eval", "video", "--pred", str(pred), "--gt", str(gt), "--metrics", "ssim,psnr,l1", "--json", "scores.json"]

    def scores(case: Path) -> dict:
        return json.loads((case / "scores.json").read_text())["scores"]

    (tmp_path / "ref").mkdir()
    log = tmp_path / "ref.log"
    r = run_cli(args, cwd=tmp_path / "ref", cache=tmp_path / "ref" / "cache", root=tmp_path / "ref" / "cache", log=log)
    assert r.returncode == 0, r.stderr
    n = len(counted_writes(log))
    assert n == len(list(gt.glob("*.mp4"))) >= 3  # one cache entry per pair

    def kill(i: int, fault: str) -> None:
        case = tmp_path / f"k{i}"
        case.mkdir()
        r = run_cli(args, cwd=case, cache=case / "cache", fault=fault, root=case / "cache")
        assert r.returncode == KILLED and not (case / "scores.json").exists(), fault
        check_whole(case / "cache")
        r = run_cli(args, cwd=case, cache=case / "cache")
        assert r.returncode == 0, r.stderr
        assert scores(case) == scores(tmp_path / "ref") and leftovers(case / "cache") == [], fault

    each(["during:1", f"before:{n - 1}"], kill)


# ----- disk full, read-only --------------------------------------------------------------------------------------


def _one_error(stderr: str, *needles: str) -> str:
    """The run ended with one error line that says all of ``needles``."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:"), stderr[-2000:]
    text = " ".join(ln.strip() for ln in lines)  # one message, wrapped by the terminal width
    assert all(n in text for n in needles), (needles, text)
    return text


def test_file_size_limit_stops_a_build_with_one_error_and_resume_finishes_it(raw_videos: tuple[Path, Path, Path, list[str]],
                                                                             tmp_path: Path) -> None:
    raw, cache, ref, _ = raw_videos
    args = ["data", "build", str(raw), "out", *SMALL]
    r = run_cli(args, cwd=tmp_path, cache=cache, fsize=12_000)  # the first clip video is larger
    assert r.returncode == 2
    _one_error(r.stderr, "out/", "cannot write (File too large", "previous version")
    check_whole(tmp_path / "out")
    assert leftovers(tmp_path / "out") == []
    r = run_cli([*args, "--resume"], cwd=tmp_path, cache=cache)
    assert r.returncode == 0, r.stderr
    _same_dataset(tmp_path / "out", ref)


def test_file_size_limit_keeps_the_last_checkpoint_and_the_bench_outputs(motions: tuple[Path, Path, Path], rendered: tuple[Path, list[str]],
                                                                         trained: tuple[Path, list[str]], tmp_path: Path) -> None:
    cache, args = motions[2], _train_args(motions)
    r = run_cli([*args[:-4], "--steps", "2", *args[-2:]], cwd=tmp_path, cache=cache)
    assert r.returncode == 0, r.stderr
    size = (tmp_path / "run" / "checkpoint.pt").stat().st_size
    r = run_cli([*args, "--resume"], cwd=tmp_path, cache=cache, fsize=size // 2)
    assert r.returncode == 2
    _one_error(r.stderr, "run/", "File too large")
    assert _checkpoint(tmp_path / "run")["step"] == 2 and leftovers(tmp_path / "run") == []  # the step-2 checkpoint is intact
    r = run_cli([*args, "--resume"], cwd=tmp_path, cache=cache)
    assert r.returncode == 0, r.stderr
    _same_training(tmp_path / "run", trained[0])

    bench = ["bench", "run", "--task", "madata-motion", "--method", "mace-dance", "--ckpt", str(trained[0]), "--data", str(rendered[0]),
             "--out", "res", "--bootstrap", "20"]
    r = run_cli(bench, cwd=tmp_path, cache=cache, fsize=2_000)
    assert r.returncode == 2
    _one_error(r.stderr, "res/madata-motion/v1/mace-dance/", "File too large")
    assert not list((tmp_path / "res").glob("*.json")) and leftovers(tmp_path / "res") == []
    assert run_cli(bench, cwd=tmp_path, cache=cache).returncode == 0


def test_file_size_limit_stops_an_import_instead_of_rejecting_every_file(tmp_path: Path) -> None:
    """``data import`` records a bad source file and goes on; a failed write is not a bad file: it stops the import
    (before: every following file was rejected with the same ``OSError``)."""
    from macedance.datasets.synthetic import synthetic_motion, write_aistpp_pkl

    src = tmp_path / "aist" / "motions"
    src.mkdir(parents=True)
    for i in range(3):
        write_aistpp_pkl(synthetic_motion(seconds=4, fps=60, bpm=100 + 5 * i, seed=i), src / f"gBR_sBM_cAll_d04_mBR{i}_ch0{i + 1}.pkl")
    args = ["data", "import", "aistpp", str(tmp_path / "aist"), "out", "--fps", "30"]
    r = run_cli(args, cwd=tmp_path, cache=tmp_path / "cache", fsize=4_000)
    assert r.returncode == 2
    _one_error(r.stderr, "out/motions/", "cannot write (File too large")
    assert leftovers(tmp_path / "out") == [] and not (tmp_path / "out" / "import_report.json").exists()
    assert run_cli(args, cwd=tmp_path, cache=tmp_path / "cache").returncode == 0
    report = json.loads((tmp_path / "out" / "import_report.json").read_text())
    assert len(report["converted"]) == 3 and report["rejected"] == []


NAMESPACE = pytest.mark.skipif(not userns_available(), reason="needs `unshare -rm` (a user and mount namespace) for a tmpfs or a "
                                                              "read-only bind mount")


def _in_namespace(script: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """``script`` (sh) in a private user + mount namespace; ``$MD`` runs the macedance CLI (one thread)."""
    from faults import LAUNCH

    env = {**os.environ, "MACEDANCE_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1", "MACEDANCE_FAULT": "count:0", "COLUMNS": "200",
           "MD": f"{sys.executable} {LAUNCH}"}
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@NAMESPACE
def test_full_filesystem_stops_a_build_with_one_error_and_resume_with_space_finishes_it(raw_videos: tuple[Path, Path, Path, list[str]],
                                                                                       tmp_path: Path) -> None:
    """A 200 KB tmpfs as the output folder: no space left part-way; then the same filesystem grown to 64 MB."""
    raw, cache, ref, _ = raw_videos
    (tmp_path / "out").mkdir()
    args = f"data build {raw} out " + " ".join(SMALL)
    r = _in_namespace(f"""set -u
mount -t tmpfs -o size=200k tmpfs out
$MD {args} 2> full.err; echo "full=$?"
mkdir after-full && cp -a out/. after-full/
mount -o remount,size=64m out
$MD {args} --resume 2> resume.err; echo "resume=$?"
mkdir final && cp -a out/. final/
""", tmp_path, cache)
    assert "full=2" in r.stdout and "resume=0" in r.stdout, (r.stdout, r.stderr, (tmp_path / "resume.err").read_text()[-2000:])
    _one_error((tmp_path / "full.err").read_text(), "out/", "No space left on device", "previous version")
    check_whole(tmp_path / "after-full")
    assert leftovers(tmp_path / "after-full") == []
    _same_dataset(tmp_path / "final", ref)


def _read_only(script_rw: str, folder: str) -> str:
    return f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}\n{script_rw}\numount {folder}\n"


@NAMESPACE
def test_read_only_output_folder_is_refused_with_one_error_and_loses_nothing(raw_videos: tuple[Path, Path, Path, list[str]],
                                                                             motions: tuple[Path, Path, Path], tmp_path: Path) -> None:
    raw, cache, ref, writes = raw_videos
    args = ["data", "build", str(raw), "out", *SMALL]
    assert run_cli(args, cwd=tmp_path, cache=cache, fault=f"after:{len(writes) // 2}", root=tmp_path / "out").returncode == KILLED
    before = _files(tmp_path / "out")
    train = _train_args(motions)
    (tmp_path / "run").mkdir()
    r = _in_namespace(_read_only(f"$MD {' '.join(args)} --resume 2> ro.err; echo \"ro=$?\"", "out")
                      + _read_only(f"$MD {' '.join(train)} 2> train.err; echo \"train=$?\"", "run"), tmp_path, motions[2])
    assert "ro=2" in r.stdout and "train=2" in r.stdout, (r.stdout, r.stderr)
    _one_error((tmp_path / "ro.err").read_text(), "out/.macedance.lock: cannot write (Read-only file system)")
    _one_error((tmp_path / "train.err").read_text(), "run/.macedance.lock: cannot write (Read-only file system)")
    assert _files(tmp_path / "out") == before and check_whole(tmp_path / "out") > 0  # nothing lost, all readable
    r = run_cli([*args, "--resume"], cwd=tmp_path, cache=cache)
    assert r.returncode == 0, r.stderr
    _same_dataset(tmp_path / "out", ref)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into folders without write permission (the bind-mount test above covers it)")
def test_folder_without_write_permission_is_refused_with_one_error(raw_videos: tuple[Path, Path, Path, list[str]], tmp_path: Path) -> None:
    """Where user namespaces are off, the same case by permissions (a user who is not root)."""
    raw, cache, ref, writes = raw_videos
    args = ["data", "build", str(raw), "out", *SMALL]
    assert run_cli(args, cwd=tmp_path, cache=cache, fault=f"after:{len(writes) // 2}", root=tmp_path / "out").returncode == KILLED
    before = _files(tmp_path / "out")
    folders = [tmp_path / "out", *(p for p in (tmp_path / "out").rglob("*") if p.is_dir())]
    for d in folders:
        d.chmod(0o555)
    try:
        r = run_cli([*args, "--resume"], cwd=tmp_path, cache=cache)
    finally:
        for d in folders:
            d.chmod(0o755)
    assert r.returncode == 2
    _one_error(r.stderr, "out/", ": cannot write (Permission denied)")
    assert _files(tmp_path / "out") == before
    assert run_cli([*args, "--resume"], cwd=tmp_path, cache=cache).returncode == 0
    _same_dataset(tmp_path / "out", ref)


# ----- two runs, one folder --------------------------------------------------------------------------------------


HOLD = """
import contextlib, sys, time
from macedance.folder_lock import folder_lock
with contextlib.ExitStack() as stack:
    for folder in sys.argv[1:]:
        stack.enter_context(folder_lock(folder, command="macedance data build raw out (the first job)"))
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_second_job_into_a_folder_in_use_is_refused_and_a_crashed_holder_does_not_block(
        raw_videos: tuple[Path, Path, Path, list[str]], motions: tuple[Path, Path, Path], rendered: tuple[Path, list[str]],
        trained: tuple[Path, list[str]], tmp_path: Path) -> None:
    raw, cache, _, _ = raw_videos
    jobs = {"out": ["data", "build", str(raw), "out", *SMALL], "run": _train_args(motions),
            "res/madata-motion/v1/mace-dance": ["bench", "run", "--task", "madata-motion", "--method", "mace-dance", "--ckpt", str(trained[0]),
                                                "--data", str(rendered[0]), "--out", "res", "--bootstrap", "20"]}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, *(str(tmp_path / f) for f in jobs)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

        def refused(i: int, folder: str) -> None:
            r = run_cli(jobs[folder], cwd=tmp_path, cache=cache)
            assert r.returncode == 2, (folder, r.stderr)
            _one_error(r.stderr, f"{folder}: in use by process {holder.pid}", "(the first job)", "wait for it to finish")

        each(list(jobs), refused)
    finally:
        holder.kill()  # a crash: its lock files stay, unlocked
        holder.wait()
    assert all((tmp_path / f / ".macedance.lock").is_file() for f in jobs)

    def runs(i: int, folder: str) -> None:
        r = run_cli(jobs[folder], cwd=tmp_path, cache=cache)
        assert r.returncode == 0, (folder, r.stderr)
        assert not (tmp_path / folder / ".macedance.lock").exists()  # removed by the job that finished

    each(list(jobs), runs)


def test_folder_lock_in_one_process() -> None:
    """The lock is per open file: a second holder in the same process is refused too; released, it is free again."""
    import tempfile

    from macedance.folder_lock import FolderInUseError, folder_lock

    with tempfile.TemporaryDirectory() as tmp:
        with folder_lock(tmp, command="first") as lock:
            assert json.loads(lock.read_text())["pid"] == os.getpid()
            with pytest.raises(FolderInUseError, match=rf"in use by process {os.getpid()} on .* \(`first`, started "):
                with folder_lock(tmp, command="second"):
                    pass
        assert not lock.exists()
        with folder_lock(tmp, command="third"):
            pass
