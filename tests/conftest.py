"""Shared fixtures: synthetic SMPL model files, generated motions, the shared real data folder."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def make_smpl_model_file(path: Path, seed: int = 0, fmt: str = "pkl") -> Path:
    """Write a synthetic SMPL-format body model (same keys and shapes as the real SMPL files).

    The template is random around a human-sized rest skeleton; J_regressor is a random sparse-ish
    convex combination of vertices, so joints depend on the template and on the shape blend shapes.
    """
    from macedance.motion.skeleton import builtin_skeleton

    rng = np.random.default_rng(seed)
    V, J = 6890, 24
    rest = builtin_skeleton().joints
    owner = rng.integers(0, J, V)
    v_template = rest[owner] + rng.normal(scale=0.03, size=(V, 3))
    J_regressor = np.zeros((J, V))
    for j in range(J):
        idx = rng.choice(np.flatnonzero(owner == j), size=8, replace=False)
        w = rng.uniform(0.5, 1.5, size=8)
        J_regressor[j, idx] = w / w.sum()
    weights = np.zeros((V, J))
    weights[np.arange(V), owner] = 1.0
    data = {
        "v_template": v_template,
        "shapedirs": rng.normal(scale=0.01, size=(V, 3, 10)),
        "posedirs": rng.normal(scale=0.001, size=(V, 3, 207)).astype(np.float32),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": np.array([[4294967295, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21],
                                   list(range(J))], dtype=np.int64),
        "f": rng.integers(0, V, size=(100, 3)).astype(np.int64),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pkl":
        with open(path, "wb") as f:
            pickle.dump(data, f)
    else:
        np.savez(path, **data)
    return path


@pytest.fixture(scope="session")
def smpl_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding SMPL_NEUTRAL.pkl (synthetic, SMPL file format)."""
    d = tmp_path_factory.mktemp("smpl")
    make_smpl_model_file(d / "SMPL_NEUTRAL.pkl")
    return d


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def random_axis_angle(rng: np.random.Generator, shape: tuple[int, ...], max_angle: float = np.pi) -> np.ndarray:
    """Axis-angle vectors with uniformly random axes and angles in [0, max_angle)."""
    axis = rng.normal(size=shape + (3,))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis * rng.uniform(0, max_angle, size=shape + (1,))


def dataset_files(out: Path) -> dict[str, str]:
    """sha256 of every file of a built or rendered dataset (not the run's timings or resume state)."""
    import hashlib

    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*"))
            if p.is_file() and ".build" not in p.parts and p.name not in ("build_report.json", "render_report.json")}


def make_dance_dataset(root: Path, n: int, seconds: float) -> tuple[Path, Path]:
    """``n`` synthetic dances (``root/motions/s{i}.npz``, 30 fps, 100 + 10 i BPM) with drum tracks at their
    tempo (``root/music/s{i}.wav``); returns the two folders."""
    import soundfile as sf

    from macedance.datasets.synthetic import synthetic_motion
    from macedance.music.synth import beat_times, drum_track

    (root / "motions").mkdir(parents=True)
    (root / "music").mkdir()
    for i in range(n):
        bpm = 100 + 10 * i
        synthetic_motion(seconds=seconds, fps=30, bpm=bpm, seed=i).save(root / "motions" / f"s{i}.npz")
        sf.write(root / "music" / f"s{i}.wav", drum_track(beat_times(bpm, seconds, start=0.0), seconds, sr=22050), 22050)
    return root / "motions", root / "music"


def close_to(a: Any, b: Any, rtol: float = 1e-5) -> None:
    """Parity bound relative to the expected array's scale: max |a − b| ≤ rtol · max |b| (shapes equal)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    err, scale = np.abs(a - b).max(), np.abs(b).max()
    assert err <= rtol * scale, f"max abs error {err:.3g} > {rtol:g} × {scale:.3g}"


def parity_arrays(name: str) -> dict[str, np.ndarray]:
    """The arrays of ``tests/parity/<name>.npz`` (made by running original code outside the project)."""
    with np.load(Path(__file__).parent / "parity" / f"{name}.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models: one torch thread is much faster than two on a busy 2-core machine (OpenMP hand-offs dominate);
    the parity bounds hold with any thread count (the suite also runs with OMP_NUM_THREADS=1)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's package, which plays H.264) driven by Selenium; skipped where it is not installed."""
    import shutil

    pytest.importorskip("selenium")
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("chromium/chromedriver not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,800", "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    opts.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def assert_same_as_dataset(folder: Path, export: Path) -> None:
    """Every clip of the export has the dataset's arrays (bit for bit, same dtype), media bytes and split."""
    from macedance.datasets.loader import dataset_records
    from macedance.datasets.publish.source import clip_arrays, read_dataset

    ds = read_dataset(folder)
    clips = {c.id: c for c in ds.clips}
    seen = []
    for rec in dataset_records(export):
        clip = clips[str(rec["id"])]
        seen.append(clip.id)
        assert str(rec["split"]) == clip.split and str(rec["genre"]) == clip.genre
        for key, want in clip_arrays(ds, clip).items():
            got = rec[key]
            if isinstance(want, np.ndarray):
                assert got.dtype == want.dtype and np.array_equal(got, want), (clip.id, key)
            elif want is None:
                assert got is None or len(got) == 0, (clip.id, key)
            else:
                assert got == want, (clip.id, key)
        assert rec["video"]["bytes"] == clip.file(folder, "video_path").read_bytes()
        assert rec["audio"]["bytes"] == clip.file(folder, "audio_path").read_bytes()
        assert rec["reference"]["bytes"] == clip.file(folder, "reference_path").read_bytes()
    assert sorted(seen) == sorted(clips)


def tiny_aistpp(root: Path, seconds: float) -> tuple[Path, Path]:
    """An imported AIST++-format dataset at 60 fps (``root/data``: one train and two test sequences of ``seconds``) and
    drum tracks at their tempi (``root/music``); returns the two folders."""
    import soundfile as sf

    from macedance.datasets.importers.aistpp import import_aistpp
    from macedance.datasets.synthetic import synthetic_motion, write_aistpp_pkl
    from macedance.music.synth import beat_times, drum_track

    raw, audio = root / "raw" / "motions", root / "music"
    raw.mkdir(parents=True)
    audio.mkdir()
    (root / "raw" / "splits").mkdir()
    stems = [f"gBR_sBM_cAll_d0{i + 1}_mBR{i}_ch01" for i in range(3)]
    for i, stem in enumerate(stems):
        write_aistpp_pkl(synthetic_motion(seconds=seconds, fps=60, bpm=100 + 10 * i, seed=i), raw / f"{stem}.pkl")
        sf.write(audio / f"{stem}.wav", drum_track(beat_times(100 + 10 * i, seconds, start=0.0), seconds, sr=22050), 22050)
    (root / "raw" / "splits" / "crossmodal_train.txt").write_text(stems[0] + "\n")
    (root / "raw" / "splits" / "crossmodal_test.txt").write_text("\n".join(stems[1:]) + "\n")
    import_aistpp(raw, root / "data", fps=60)
    return root / "data", audio
