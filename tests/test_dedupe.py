"""Near-duplicate detection (macedance.datasets.curation.fingerprint, .dedupe) and splits by duplicate group: motion
hashes of generated dance videos and their copies (re-encoded, downscaled, mirrored, cropped, cut later), the matcher,
groups and representatives on constructed fingerprints, the candidate search at scale, and assign_splits."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from macedance.datasets.curation import dedupe
from macedance.datasets.curation.fingerprint import (
    MIN_MOTION,
    MotionHasher,
    fingerprint_clip,
    hamming,
    image_hashes,
    motion_hashes,
    sample_frames,
    unpack,
)
from macedance.datasets.curation.splits import assign_splits

FPS, SIZE = 15.0, (320, 240)


def _copy(src: Path, out: Path, *, mirror: bool = False, scale: float = 1.0, crop: float = 0.0, skip: int = 0, crf: int = 28) -> Path:
    """A re-encoded copy of ``src``: cropped by ``crop`` of each side, mirrored, scaled, its first ``skip`` frames cut."""
    import cv2

    from macedance.io.video import iter_frames, write_video

    frames = []
    for f in list(iter_frames(src))[skip:]:
        h, w = f.shape[:2]
        f = f[int(h * crop) : h - int(h * crop), int(w * crop) : w - int(w * crop)]
        f = f[:, ::-1] if mirror else f
        size = (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)
        frames.append(cv2.resize(f, size, interpolation=cv2.INTER_AREA))
    return write_video(out, frames, FPS, crf=crf)


def _print(path: Path, name: str, source: int) -> dedupe.ClipPrint:
    """The fingerprint of the whole video as one clip, from the builder's scan."""
    from macedance.datasets.from_video.shots import scan_video

    sig = scan_video(path, fps=FPS)
    n = len(sig["motion_hash"])
    fp = {"fps": FPS, "clips": {name: fingerprint_clip(sig["motion_hash"], sig["motion_mirror"], sig["motion_std"], start=0, end=n, fps=FPS)}}
    (p,) = dedupe.clip_prints([None] * source + [fp])
    return p


def _share(a: dedupe.ClipPrint, b: dedupe.ClipPrint) -> tuple[float, bool]:
    """The best share of ``a``'s sampled frames matching ``b`` (direct or mirrored), and whether mirrored."""
    found = [(m.share, m.mirrored) for m in (dedupe.compare(a, [b], mirrored=x) for x in (False, True)) if m is not None]
    return max(found, default=(0.0, False))


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dedupe.ClipPrint]:
    from macedance.datasets.synthetic_video import ShotSpec, write_dance_video

    root = tmp_path_factory.mktemp("dedupe")
    src = root / "dance.mp4"
    write_dance_video(src, [ShotSpec(6.0, bpm=110)], fps=FPS, size=SIZE, seed=31, audio=False)
    paths = {"original": src, "small": _copy(src, root / "small.mp4", scale=0.6, crf=32), "mirrored": _copy(src, root / "mirror.mp4", mirror=True),
             "cropped": _copy(src, root / "crop.mp4", crop=0.02, scale=1.1), "later": _copy(src, root / "later.mp4", skip=7, mirror=True, scale=0.75)}
    for seed, bpm in ((32, 110), (33, 130), (34, 95)):  # other dances in the same generated set (one layout, one camera)
        write_dance_video(root / f"other{seed}.mp4", [ShotSpec(6.0, bpm=bpm)], fps=FPS, size=SIZE, seed=seed, audio=False)
        paths[f"other{seed}"] = root / f"other{seed}.mp4"
    return {name: _print(p, name, i) for i, (name, p) in enumerate(paths.items())}


def test_mirror_hash_is_the_hash_of_the_mirrored_image() -> None:
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (32, 32)).astype(np.float32)
    h, m, sd = image_hashes(img)
    h2, m2, _ = image_hashes(img[:, ::-1])
    assert (int(h2), int(m2)) == (int(m), int(h)) and int(h) != int(m)
    assert bin(int(h)).count("1") == 32 and sd > 50  # half the bits: above the median
    assert hamming(np.array([h]), np.array([h2]))[0] > 16


def test_copies_match_and_other_dances_do_not(videos: dict[str, dedupe.ClipPrint]) -> None:
    orig = videos["original"]
    for name in ("small", "mirrored", "cropped", "later"):
        share, mirrored = _share(videos[name], orig)
        assert share >= 0.75, (name, share)  # MIN_SHARE is 0.6
        assert mirrored == (name in ("mirrored", "later"))
        assert _share(orig, videos[name])[0] >= 0.75  # both ways
    later = dedupe.compare(videos["later"], [orig], mirrored=True)
    assert later is not None and later.offset_s == pytest.approx(7 / FPS, abs=1.01 / FPS)  # cut 7 frames later
    others = [n for n in videos if n.startswith("other")]
    for a in ["original", *others]:
        for b in others:
            if a != b:
                assert _share(videos[a], videos[b])[0] < 0.3, (a, b)


def test_frames_without_motion_have_no_hash() -> None:
    """A still (a title card, a frozen or black frame) changes nothing over the lag: no hash, so stills never match
    each other; a clip with nothing but stills has no fingerprint to compare."""
    still = np.full((10, 48, 64), 200.0)
    still[:, 10:20, 10:30] = 30.0  # a title card
    black = np.zeros((10, 48, 64))
    for frames in (still, black):
        h, m, motion = motion_hashes(frames, 10.0)
        assert (motion < MIN_MOTION).all()
        fp = fingerprint_clip(h, m, motion, start=0, end=10, fps=10.0)
        assert (unpack(fp["hash"]) == 0).all() and (unpack(fp["mirror"]) == 0).all()
        assert dedupe.clip_prints([{"fps": 10.0, "clips": {"c": fp}}]) == []
    hasher = MotionHasher(10.0)  # lag round(0.25 · 10) = 2 frames: the first two frames have no hash either
    rng = np.random.default_rng(1)
    assert [float(hasher.push(rng.uniform(0, 255, (48, 64)))[2]) > MIN_MOTION for _ in range(4)] == [False, False, True, True]


def test_sampled_frames_follow_source_time() -> None:
    assert sample_frames(0, 30, 30.0).tolist() == [0, 8, 15, 23]  # first frame at or after 0, 0.25, 0.5, 0.75 s
    assert sample_frames(10, 20, 25.0).tolist() == [13, 19]  # 0.5 s → frame 12.5 → 13; 0.75 s → 18.75 → 19
    assert sample_frames(5, 5, 25.0).tolist() == []


# ----- groups, representatives and scale on constructed fingerprints ---------------------------------------------------------


def _flip(h: np.ndarray, rng: np.random.Generator, bits: int) -> np.ndarray:
    """``h`` with ``bits`` random bits flipped in every hash."""
    out = h.copy()
    for k in range(len(out)):
        for b in rng.choice(64, bits, replace=False):
            out[k] ^= np.uint64(1) << np.uint64(int(b))
    return out


def _source(h: np.ndarray, clips: list[tuple[int, int]], *, name: str, width: int, height: int, fps: float = 10.0) -> dict:
    m = h[::-1].copy()  # any other hashes serve as the mirrored ones
    motion = np.full(len(h), 10.0)
    return {"fps": fps, "seconds": len(h) / fps, "width": width, "height": height,
            "clips": {f"{name}_c{k}": fingerprint_clip(h, m, motion, start=a, end=b, fps=fps) for k, (a, b) in enumerate(clips)}}


def test_groups_keep_the_best_source_and_never_drop_unique_content() -> None:
    rng = np.random.default_rng(2)
    dance = rng.integers(1, 2**63, 300, dtype=np.int64).astype(np.uint64)  # 30 s at 10 fps
    x = _source(dance[:200], [(0, 60), (60, 140), (140, 200)], name="x", width=1920, height=1080)  # the original, 0–20 s
    # a 640×360 re-upload of 4–24 s, 1–2 bits of coding noise per frame: its last clip (18–24 s) is two thirds outside x's clips
    y_h = _flip(dance[40:240], rng, 2)
    y = _source(y_h, [(0, 70), (70, 140), (140, 200)], name="y", width=640, height=360)
    z = _source(rng.integers(1, 2**63, 150, dtype=np.int64).astype(np.uint64), [(0, 75), (75, 150)], name="z", width=1920, height=1080)
    fps_ = [x, y, z]
    shas = ["sx", "sy", "sz"]
    ranks = [dedupe.source_rank(f, n) for f, n in zip(fps_, ("x", "y", "z"), strict=True)]
    d = dedupe.find_duplicates(fps_, shas, ranks)
    assert d.source_groups == [frozenset({"sx", "sy"})]
    assert d.of == {"y_c0": "x_c1", "y_c1": "x_c2"}  # y's clips inside x's: each duplicates the x clip holding most of it
    assert d.match["y_c0"].offset_s == pytest.approx(4.0) and not d.match["y_c0"].mirrored and d.match["y_c0"].share > 0.9
    assert "y_c2" in d.group and "y_c2" not in d.of  # mostly content x does not have: kept (same group, same split)
    assert d.group == dict.fromkeys(["x_c0", "x_c1", "x_c2", "y_c0", "y_c1", "y_c2"], "x_c0")  # one group, named by its first clip
    # the representative is the best source: give y the higher resolution and x's clips become the duplicates
    y["width"], y["height"] = 3840, 2160
    d = dedupe.find_duplicates(fps_, shas, [dedupe.source_rank(f, n) for f, n in zip(fps_, ("x", "y", "z"), strict=True)])
    assert set(d.of) == {"x_c1", "x_c2"} and all(v.startswith("y_") for v in d.of.values())
    # equal resolution: the longer source wins, then the id
    y["width"], y["height"], y["seconds"] = 1920, 1080, 100.0
    d = dedupe.find_duplicates(fps_, shas, [dedupe.source_rank(f, n) for f, n in zip(fps_, ("x", "y", "z"), strict=True)])
    assert set(d.of) == {"x_c1", "x_c2"}


def test_candidate_search_scales_and_finds_a_planted_copy() -> None:
    """400 sources × 4 ten-second clips (160 000 indexed frames): no false candidate survives the comparison, the one
    mirrored copy is found, and the whole search takes seconds, not the hours of all pairs × all frames."""
    rng = np.random.default_rng(3)
    fps_, shas, dances = [], [], []
    for s in range(400):
        dances.append(rng.integers(1, 2**63, 400, dtype=np.int64).astype(np.uint64))
        fps_.append(_source(dances[-1], [(0, 100), (100, 200), (200, 300), (300, 400)], name=f"s{s}", width=640, height=360))
        shas.append(f"sha{s}")
    # a mirrored copy of source 123's third clip: its frames' hashes are that clip's mirrored ones (and the other way round)
    direct, mirror = _flip(dances[123][::-1][200:300], rng, 1), _flip(dances[123][200:300], rng, 1)
    fp = fingerprint_clip(direct, mirror, np.full(100, 10.0), start=0, end=100, fps=10.0)
    fps_.append({"fps": 10.0, "seconds": 10.0, "width": 320, "height": 180, "clips": {"copy_c0": fp}})
    shas.append("copy")
    t = time.perf_counter()
    prints = dedupe.clip_prints(fps_)
    cands = dedupe.candidates(prints)
    d = dedupe.find_duplicates(fps_, shas, [dedupe.source_rank(f, s) for f, s in zip(fps_, shas, strict=True)])
    seconds = time.perf_counter() - t
    assert len(cands) < 100 and seconds < 30, (len(cands), seconds)  # of 1 280 000 (clip, other source, orientation) pairs
    assert d.source_groups == [frozenset({"sha123", "copy"})] and d.of == {"copy_c0": "s123_c2"} and d.match["copy_c0"].mirrored


# ----- splits -----------------------------------------------------------------------------------------------------------------


def test_splits_without_groups_are_exactly_the_seeded_ones() -> None:
    """The assignment of datasets without duplicates is the one every earlier build made (values of the previous code)."""
    shas = [hashlib.sha256(f"v{i}".encode()).hexdigest() for i in range(10)]
    expected = ["train", "train", "train", "val", "train", "test", "train", "train", "train", "train"]
    assert [assign_splits(shas, 0, (0.8, 0.1, 0.1))[s] for s in shas] == expected
    assert [assign_splits(shas, 0, (0.8, 0.1, 0.1), groups=[[s] for s in shas])[s] for s in shas] == expected
    assert [assign_splits(shas[:3], 7, (0.8, 0.1, 0.1))[s] for s in shas[:3]] == ["val", "train", "test"]


def test_grouped_sources_share_a_split_and_train_keeps_one() -> None:
    shas = [hashlib.sha256(f"v{i}".encode()).hexdigest() for i in range(10)]
    rng = np.random.default_rng(4)
    for _ in range(50):
        a, b, c = (shas[int(i)] for i in rng.choice(10, 3, replace=False))
        split = assign_splits(shas, int(rng.integers(0, 9)), (0.8, 0.1, 0.1), groups=[[a, b], [b, c]])  # overlapping: one group
        assert split[a] == split[b] == split[c] and set(split) == set(shas) and "train" in split.values()
    three = shas[:3]
    for seed in range(6):
        split = assign_splits(three, seed, (0.8, 0.1, 0.1), groups=[three[:2]])
        assert split[three[0]] == split[three[1]] and "train" in split.values()
    assert set(assign_splits(shas[:2], 0, (0.8, 0.1, 0.1), groups=[shas[:2]]).values()) == {"train"}


def test_real_fixed_camera_video_copy_matches_and_other_moments_do_not(tmp_path: Path) -> None:
    """The shared real flamenco video (a fixed camera in a hall): a mirrored, half-size copy of 10–20 s cut 0.3 s later
    matches; its 0–10 s do not match its 10–20 s (the same hall and dancer, another moment) — the case the plain
    picture hash gets wrong."""
    import cv2

    from macedance.io.video import iter_frames, probe_video, write_video

    from conftest import SHARED_DATA

    real = SHARED_DATA / "real-dance" / "demo_dancer_dance.mp4"
    if not real.is_file():
        pytest.skip(f"{real} not found")
    fps = probe_video(real).fps
    frames = list(iter_frames(real, max_frames=int(20 * fps)))
    write_video(tmp_path / "part.mp4", frames, fps)
    copy = [cv2.resize(f[:, ::-1], (160, 120), interpolation=cv2.INTER_AREA) for f in frames[int(10.3 * fps):]]
    write_video(tmp_path / "copy.mp4", copy, fps, crf=28)
    from macedance.datasets.from_video.shots import scan_video

    sig, csig = scan_video(tmp_path / "part.mp4", fps=fps), scan_video(tmp_path / "copy.mp4", fps=fps)
    half = int(10 * fps)

    def fp(s: dict, cuts: list[tuple[str, int, int]]) -> dict:
        return {"fps": fps, "clips": {c: fingerprint_clip(s["motion_hash"], s["motion_mirror"], s["motion_std"], start=a, end=b, fps=fps)
                                      for c, a, b in cuts}}

    first, second, cp = dedupe.clip_prints([fp(sig, [("first", 0, half)]), fp(sig, [("second", half, 2 * half)]),
                                            fp(csig, [("copy", 0, len(copy))])])
    share, mirrored = _share(cp, second)
    assert share >= 0.9 and mirrored
    assert _share(first, second)[0] < 0.3 and _share(second, first)[0] < 0.3
