"""Shot-boundary ground truth of the shared real dance videos (tests/data/real_dance_cuts.json) and the
reframing-cut generator :func:`~macedance.datasets.synthetic_video.write_reframed_video`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA

TRUTH = Path(__file__).parent / "data" / "real_dance_cuts.json"
REAL_DANCE = SHARED_DATA / "real-dance"


def _truth() -> dict[str, dict]:
    return {k: v for k, v in json.loads(TRUTH.read_text()).items() if k != "method"}


def test_truth_file_is_consistent() -> None:
    data = json.loads(TRUTH.read_text())
    assert isinstance(data["method"], str) and len(data["method"]) > 100
    videos = _truth()
    assert set(videos) == {"mmdeploytd_cxk.mp4", "demo_dancer_dance.mp4"}
    for name, v in videos.items():
        n = v["frames"]
        assert isinstance(n, int) and n > 0 and v["fps"] > 0, name
        hard = v["hard"]
        assert hard == sorted(set(hard)) and all(isinstance(f, int) and 0 < f < n for f in hard), name
        starts = [a for a, _ in v["gradual"]]
        assert starts == sorted(starts) and all(0 < a <= b < n for a, b in v["gradual"]), name
        neg = [f for f, _ in v["not_cuts"]]
        assert neg == sorted(neg) and all(0 <= f < n for f in neg), name
        assert all(isinstance(what, str) and what for _, what in v["not_cuts"]), name
        assert not set(neg) & set(hard), name


@pytest.mark.parametrize("name", ["mmdeploytd_cxk.mp4", "demo_dancer_dance.mp4"])
def test_truth_matches_the_shared_video(name: str) -> None:
    import av

    path = REAL_DANCE / name
    if not path.is_file():
        pytest.skip(f"shared video {path} not present")
    v = _truth()[name]
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        fps = float(vs.average_rate)
        decoded = sum(1 for _ in c.decode(vs))
    assert decoded == v["frames"]
    assert fps == pytest.approx(v["fps"], rel=1e-6)


def test_write_reframed_video(tmp_path: Path) -> None:
    from macedance.datasets.synthetic_video import Reframe, ShotSpec, write_dance_video, write_reframed_video
    from macedance.io.video import probe_video, read_video

    src = tmp_path / "src.mp4"
    write_dance_video(src, [ShotSpec(2.5)], fps=12.0, size=(160, 96), seed=3)  # 30 frames, one shot
    out = tmp_path / "reframed.mp4"
    segments = [Reframe(8), Reframe(7, zoom=1.6, cy=0.45), Reframe(8, zoom=1.3, cx=0.3), 5]
    cuts = write_reframed_video(src, out, segments=segments, start=2)
    assert cuts == [8, 15, 23]
    info = probe_video(out)
    assert (info.frames, info.width, info.height, info.fps) == (28, 160, 96, 12.0)
    assert info.has_audio  # the source's drum track, same span
    got, _ = read_video(out)
    ref, _ = read_video(src)
    assert len(got) == 28

    def err(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())

    import cv2

    # segment 0 is the full frame; segment 1 the 1.6× crop (100×60 box at (30, 13)) of source frame 2 + 8
    assert err(got[0], ref[2]) < 4.0
    zoomed = cv2.resize(ref[10][13:73, 30:130], (160, 96), interpolation=cv2.INTER_LINEAR)
    assert err(got[8], zoomed) < 4.0 < err(got[8], ref[10])
    # the int segment after a zoomed one is the full frame again
    assert err(got[23], ref[25]) < 4.0
    with pytest.raises(ValueError, match="ends after"):
        write_reframed_video(src, tmp_path / "long.mp4", segments=[Reframe(20), Reframe(20, zoom=1.5)], start=0)
    assert not (tmp_path / "long.mp4").exists()
