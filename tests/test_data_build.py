"""MA-Data builder: stages on generated videos with known cuts, the offline pose backend on a real
photo, and whole builds (rejections, resume, determinism, workers, splits, card, CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from macedance.datasets.curation.manifest import read_manifest
from macedance.datasets.curation.segment import sample_span, segment_shot
from macedance.datasets.from_video import BuildParams, build_dataset
from macedance.datasets.from_video.shots import ShotParams, detect_cuts, is_static, scan_video, split_shots
from macedance.datasets.synthetic_video import ShotSpec, write_dance_video
from macedance.errors import DataFormatError, ValidationError
from macedance.io.video import iter_frames, probe_video

from conftest import dataset_files

# Short clips keep the whole-build tests fast: 2–3 s clips at 15 fps on 320×240 videos. The generated videos' cuts
# are hard colour changes that the weight-free histogram detector finds; TransNet V2 builds: test_shot_detection.py.
FAST = dict(min_clip=2.0, max_clip=3.0, shots=ShotParams(detector="histogram"))
FPS, SIZE = 15.0, (320, 240)


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("cuts") / "cuts.mp4"
    shots = [ShotSpec(2.0), ShotSpec(1.4, "static"), ShotSpec(2.2, "two"), ShotSpec(1.0), ShotSpec(1.6, "empty")]
    return path, write_dance_video(path, shots, fps=FPS, size=SIZE, seed=5)


def test_probe_reports_fps_size_frames_and_audio(cut_video: tuple[Path, dict], tmp_path: Path) -> None:
    path, truth = cut_video
    info = probe_video(path)
    assert (info.fps, info.width, info.height, info.frames, info.rotation) == (FPS, *SIZE, truth["frames"], 0)
    assert info.has_audio and info.audio_rate == 44100
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    with pytest.raises(DataFormatError, match="zero-length"):
        probe_video(tmp_path / "empty.mp4")
    with pytest.raises(DataFormatError, match="junk.mp4"):
        probe_video(tmp_path / "junk.mp4")


def test_seeking_decoder_returns_the_same_frames_as_decoding_from_the_start(cut_video: tuple[Path, dict]) -> None:
    from macedance.io.video import iter_frames

    path, truth = cut_video
    every = list(iter_frames(path, max_side=96))
    assert len(every) == truth["frames"]
    for start in (1, 29, 30, 31, 77, truth["frames"] - 2):
        part = list(iter_frames(path, start=start, max_frames=4, max_side=96))
        assert len(part) == min(4, truth["frames"] - start)
        for k, frame in enumerate(part):
            np.testing.assert_array_equal(frame, every[start + k])


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    """A phone video stored landscape with a 90° display rotation is probed and decoded upright."""
    import av

    from macedance.io.video import iter_frames

    path = tmp_path / "rot.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.set_display_rotation(90)  # counter-clockwise
        for _ in range(5):
            img = np.zeros((48, 64, 3), np.uint8)
            img[:8, :8] = (255, 0, 0)  # red in the stored frame's top-left corner
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation, info.frames) == (48, 64, 90, 5)
    frame = next(iter_frames(path, rotate=True))
    assert frame.shape == (64, 48, 3)
    ys, xs = np.nonzero(frame[..., 0] > 200)
    assert ys.min() >= 48 and xs.max() < 16  # turned counter-clockwise: top-left → bottom-left
    assert next(iter_frames(path, rotate=True, max_side=32)).shape == (32, 24, 3)


def test_cuts_found_at_known_frames_and_static_shot_flagged(cut_video: tuple[Path, dict]) -> None:
    path, truth = cut_video
    sig = scan_video(path)
    assert len(sig["hist"]) == truth["frames"] - 1
    cuts = detect_cuts(sig["hist"])
    assert cuts.tolist() == truth["cuts"]
    shots = split_shots(cuts, truth["frames"])
    static = [is_static(sig["moving"], a, b) for a, b in shots]
    assert static == [False, True, False, False, True]  # the empty shot has nothing moving either


def test_detect_cuts_ignores_gradual_change_and_keeps_one_cut_per_flash() -> None:
    fade = np.full(200, 0.02)
    fade[50:150] = 0.15  # a long busy stretch: high but not abrupt
    assert detect_cuts(fade).tolist() == []
    spiky = np.full(100, 0.01)
    spiky[[40, 42]] = [0.9, 0.7]  # two peaks within min_gap: one cut, at the larger
    assert detect_cuts(spiky).tolist() == [41]


def test_segment_windows_are_seeded_whole_frames_in_range() -> None:
    fps = 30.0
    wins = segment_shot(100, 100 + 30 * 40, fps, 5.0, 10.0, np.random.default_rng(3))
    assert wins == segment_shot(100, 100 + 30 * 40, fps, 5.0, 10.0, np.random.default_rng(3))
    assert wins != segment_shot(100, 100 + 30 * 40, fps, 5.0, 10.0, np.random.default_rng(4))
    assert wins[0][0] - 100 <= 30
    for (a, b), nxt in zip(wins, wins[1:] + [(None, None)], strict=True):
        assert 150 <= b - a <= 300 and b <= 1300
        assert nxt[0] is None or nxt[0] == b  # consecutive, no overlap
    assert 1300 - wins[-1][1] < 150  # the dropped tail is shorter than a clip
    assert segment_shot(0, 149, fps, 5.0, 10.0, np.random.default_rng(0)) == []
    a, b = sample_span(45, 195, 30.0, 44100)
    assert (a, b - a) == (66150, 220500)


def test_mediapipe_backend_finds_a_real_person_offline() -> None:
    skimage_data = pytest.importorskip("skimage.data")
    from macedance.pose.backends import get_backend
    from macedance.schema.keypoints import MEDIAPIPE33

    img = skimage_data.astronaut()  # 512×512, a woman from the waist up
    backend = get_backend("mediapipe")
    backend.start_shot()
    kp, world = backend(img)
    body = [MEDIAPIPE33.index(n) for n in ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder")]
    assert kp[body, 2].min() > 0.9  # (her left elbow is hidden behind the helmet: 0.33)
    assert (kp[body, :2] > 0).all() and (kp[body, :2] < 512).all()
    nose, ls, rs = kp[MEDIAPIPE33.index("nose")], kp[MEDIAPIPE33.index("left_shoulder")], kp[MEDIAPIPE33.index("right_shoulder")]
    assert nose[1] < min(ls[1], rs[1])  # head above the shoulders
    assert ls[0] > rs[0]  # the person's left shoulder is on the image's right
    assert world is not None and np.isfinite(world).all() and abs(world[:, :3]).max() < 2.0  # metres around the hips
    backend.start_shot()
    assert backend(np.full((256, 256, 3), 128, np.uint8))[0][:, 2].max() == 0.0


# ----- whole builds ---------------------------------------------------------------------------------------


def _raw_folder(root: Path) -> Path:
    raw = root / "raw"
    (raw / "popping").mkdir(parents=True)
    (raw / "jazz").mkdir()
    write_dance_video(raw / "popping" / "a.mp4", [ShotSpec(2.6), ShotSpec(2.4, "static"), ShotSpec(2.5, "two"), ShotSpec(5.2, bpm=100)],
                      fps=FPS, size=SIZE, seed=1)
    write_dance_video(raw / "jazz" / "b.mp4", [ShotSpec(4.4, bpm=110)], fps=FPS, size=SIZE, seed=2)
    write_dance_video(raw / "jazz" / "c.mp4", [ShotSpec(2.8, bpm=90)], fps=FPS, size=SIZE, seed=3)
    write_dance_video(raw / "silent.mp4", [ShotSpec(2.5)], fps=FPS, size=SIZE, seed=4, audio=False)
    (raw / "zero.mp4").write_bytes(b"")
    (raw / "corrupt.mov").write_bytes(b"\x00\x00\x00\x14ftypqt  " + bytes(range(256)) * 4)
    (raw / "notes.txt").write_text("not a video\n")
    return raw


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(cache dir, raw folder, a finished build) shared by the tests below."""
    root = tmp_path_factory.mktemp("build")
    cache = root / "cache"
    mp = pytest.MonkeyPatch()
    mp.setenv("MACEDANCE_CACHE_DIR", str(cache))
    try:
        raw = _raw_folder(root)
        build_dataset(raw, root / "out", params=BuildParams(**FAST), command="test build")
    finally:
        mp.undo()
    return cache, raw, root / "out"


def test_build_writes_clips_manifest_splits_and_card(built: tuple[Path, Path, Path]) -> None:
    from macedance.music.analysis import load_music
    from macedance.schema import Keypoints2D, load_motion

    _, raw, out = built
    rows = read_manifest(out / "manifest.parquet")
    by_code: dict[str, list[dict]] = {}
    for r in rows:
        by_code.setdefault(r["code"], []).append(r)
    assert {r["source_video"] for r in by_code["zero-length"]} == {"zero.mp4"}
    assert {r["source_video"] for r in by_code["unreadable"]} == {"corrupt.mov"}
    assert {r["source_video"] for r in by_code["unsupported"]} == {"notes.txt"}
    assert {r["source_video"] for r in by_code["no-audio"]} == {"silent.mp4"}
    assert [(r["source_video"], r["shot"]) for r in by_code["static"]] == [("popping/a.mp4", 1)]
    assert [(r["source_video"], r["shot"]) for r in by_code["multi-person"]] == [("popping/a.mp4", 2)]
    kept = by_code["kept"]
    assert len(kept) >= 4 and {r["source_video"] for r in kept} == {"popping/a.mp4", "jazz/b.mp4", "jazz/c.mp4"}
    assert all(r["reason"] for r in rows if r["status"] == "rejected")
    for r in kept:
        assert 2.0 - 1e-9 <= r["duration_s"] <= 3.0 + 1e-9 and r["genre"] in ("popping", "jazz")
        motion = load_motion(out / r["motion_path"])
        assert motion.fps == 30.0 and abs(motion.duration - r["duration_s"]) <= 1 / 30 + 1e-9
        kp = Keypoints2D.load(out / r["keypoints_path"])
        assert kp.num_frames == r["end_frame"] - r["start_frame"] and kp.skeleton == "mediapipe33" and kp.image_size == SIZE
        music = load_music(out / r["music_path"])
        assert music["features"].shape == (motion.num_frames, 35) and len(music["beats"]) >= 2
        assert music["beats"].min() >= 0 and music["beats"].max() < r["duration_s"]
        import soundfile as sf

        info = sf.info(out / r["audio_path"])
        assert abs(info.frames / info.samplerate - r["duration_s"]) < 1 / info.samplerate + 1e-9
        assert (out / r["reference_path"]).stat().st_size > 1000
        assert r["video_path"] == f"videos/{r['candidate_id']}.mp4"
        vinfo = probe_video(out / r["video_path"])  # the clip's frames at the source rate, with its audio
        assert (vinfo.width, vinfo.height, vinfo.fps, vinfo.codec) == (*SIZE, FPS, "h264")
        assert vinfo.frames == r["end_frame"] - r["start_frame"] and vinfo.has_audio
        first = next(iter_frames(out / r["video_path"]))
        ref = np.asarray(Image.open(out / r["reference_path"]))
        assert np.abs(first.astype(float) - ref).mean() < 6  # same frame, two lossy codecs
        assert r["reproj_px"] is not None and r["reproj_px"] < 0.08 * SIZE[1]
    # splits: whole videos, no leakage, every kept clip in exactly one split
    split_ids = {s: (out / "splits" / f"{s}.txt").read_text().split() for s in ("train", "val", "test")}
    assert sorted(sum(split_ids.values(), [])) == sorted(r["candidate_id"] for r in kept)
    video_split = {}
    for r in kept:
        assert video_split.setdefault(r["source_video"], r["split"]) == r["split"]
    assert len(set(video_split.values())) == 3  # three videos with clips → train, val and test
    clips = [json.loads(line) for line in (out / "clips.jsonl").read_text().splitlines()]
    assert sorted(c["id"] for c in clips) == sorted(r["candidate_id"] for r in kept)
    # every clip record names its video, reference frame and audio, as the manifest row does: the Appearance Expert's
    # training and the video benchmark tasks read them from clips.jsonl
    rows = {r["candidate_id"]: r for r in kept}
    for c in clips:
        for key in ("video_path", "reference_path", "audio_path"):
            assert c[key] == rows[c["id"]][key] and (out / c[key]).is_file()
    from macedance.appearance.data import load_clips

    usable, skipped = load_clips(out, "train")
    assert skipped == [] and sorted(a.id for a in usable) == sorted(c["id"] for c in clips if c["split"] == "train")
    card = (out / "README.md").read_text()
    assert card.splitlines()[0] == "# raw: a macedance MA-Data-style dataset"  # the raw folder's name, not a split's
    for text in ("| clips | ", "multi-person", "static", "no-audio", "| popping |", "| jazz |", "test build", "mediapipe"):
        assert text in card


def test_video_benchmark_runs_on_the_built_dataset(built: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """madata-animation on a real build's test clips, with a `folder` holding the clips' own videos (30 fps, scored as
    given against the 16-fps ground truth): the runner finds each clip's video, keypoints and reference frame."""
    import shutil

    from macedance.benchmark.tasks import get_task
    from macedance.benchmark.video_runner import run_video_benchmark
    from macedance.methods.video import VideoFolderMethod

    cache, _, out = built
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(cache))
    test = [json.loads(line) for line in (out / "clips.jsonl").read_text().splitlines() if json.loads(line)["split"] == "test"]
    assert test
    (tmp_path / "videos").mkdir()
    for c in test:
        shutil.copyfile(out / c["video_path"], tmp_path / "videos" / f"{c['id']}.mp4")
    rec, _ = run_video_benchmark(get_task("madata-animation"), VideoFolderMethod(tmp_path / "videos", "clip-videos"), data=out,
                                 out=tmp_path / "res", metrics=("l1",))
    assert rec["dataset"]["skipped"] == [] and rec["scores"]["l1"]["n"] == len(test) and 0 <= rec["scores"]["l1"]["value"] < 0.5
    assert len(rec["samples"]) == min(2, len(test))


def test_same_input_and_seed_give_the_same_dataset_with_two_workers(built: tuple[Path, Path, Path], tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Byte for byte (motions, keypoints, music features, clip videos, manifest, card), from an empty cache, with two
    worker processes of one torch thread each instead of one worker with cpu_count threads. What makes this hold on
    any machine and thread count: the encoder runs a fixed number of frame threads in x264's cpu-independent mode,
    the music features use one BLAS thread, and the fit's torch operations are too small to be split over threads."""
    _, raw, out = built
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "fresh-cache"))  # recompute every stage
    again = build_dataset(raw, tmp_path / "again", params=BuildParams(**FAST), workers=2, command="test build")
    assert again.videos_processed == 7
    assert dataset_files(out) == dataset_files(tmp_path / "again")


def test_killed_build_resumes_without_redoing_finished_videos(built: tuple[Path, Path, Path], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import macedance.datasets.from_video.build as runner

    cache, raw, out = built
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(cache))
    target = tmp_path / "resumed"
    calls: list[str] = []
    real = runner.process_video

    def counting(path, rel, *a, **kw):
        calls.append(rel)
        return real(path, rel, *a, **kw)

    monkeypatch.setattr(runner, "process_video", counting)

    def kill_after_two(p: runner.BuildProgress) -> None:
        if p.videos_done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_dataset(raw, target, params=BuildParams(**FAST), progress=kill_after_two)
    assert not (target / "manifest.parquet").exists()
    first = list(calls)
    with pytest.raises(ValidationError, match="`resume`"):
        build_dataset(raw, target, params=BuildParams(**FAST))
    with pytest.raises(ValidationError, match="min_clip"):
        build_dataset(raw, target, params=BuildParams(**{**FAST, "min_clip": 2.5}), resume=True)
    calls.clear()
    report = build_dataset(raw, target, params=BuildParams(**FAST), resume=True)
    assert report.videos_resumed == 2 and not set(calls) & set(first[:2])
    a, b = read_manifest(out / "manifest.parquet"), read_manifest(target / "manifest.parquet")
    assert [(r["candidate_id"], r["code"], r["split"]) for r in a] == [(r["candidate_id"], r["code"], r["split"]) for r in b]
    files = sorted(p.name for p in (target / "motions").iterdir())
    assert files == sorted(f"{r['candidate_id']}.npz" for r in b if r["status"] == "kept")  # no duplicates, no temp files
    assert not list(target.rglob("*.tmp"))


def test_cli_build_prints_a_summary_and_reports_bad_folders(built: tuple[Path, Path, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from macedance.cli import app

    cache, raw, _ = built
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(cache))
    runner = CliRunner()
    res = runner.invoke(app, ["data", "build", str(raw), str(tmp_path / "cli"), "--min-clip", "2", "--max-clip", "3", "--shot-detector", "histogram"])
    assert res.exit_code == 0, res.output
    assert "clips kept" in res.output and "multi-person" in res.output
    # --allow-silent keeps the silent video's clips as motion-only; --preview writes overlay videos
    res = runner.invoke(app, ["data", "build", str(raw), str(tmp_path / "silent"), "--min-clip", "2", "--max-clip", "3", "--shot-detector", "histogram",
                              "--allow-silent", "--preview"])
    assert res.exit_code == 0, res.output
    rows = read_manifest(tmp_path / "silent" / "manifest.parquet")
    silent = [r for r in rows if r["source_video"] == "silent.mp4"]
    assert silent and all(r["status"] == "kept" and r["music_path"] is None and r["audio_path"] is None for r in silent)
    from macedance.io.video import probe_video as probe

    for r in rows:
        if r["status"] == "kept":
            info = probe(tmp_path / "silent" / r["preview_path"])
            assert info.frames == r["end_frame"] - r["start_frame"] and info.has_audio == (r["audio_path"] is not None)
    res = runner.invoke(app, ["data", "build", str(tmp_path / "nope"), str(tmp_path / "x")])
    assert res.exit_code == 2 and "not found" in res.output
    res = runner.invoke(app, ["data", "build", str(raw), str(tmp_path / "cli"), "--min-clip", "2", "--max-clip", "3", "--shot-detector", "histogram"])
    assert res.exit_code == 2 and "--resume" in res.output


def test_real_multi_person_street_video_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import SHARED_DATA

    street = SHARED_DATA / "real-media" / "street-multiperson.avi"
    if not street.is_file():
        pytest.skip(f"{street} not found")
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / street.name).symlink_to(street)
    build_dataset(raw, tmp_path / "out", params=BuildParams(**FAST))
    rows = read_manifest(tmp_path / "out" / "manifest.parquet")
    assert [r["status"] for r in rows if r["status"] == "kept"] == []
    multi = [r for r in rows if r["code"] == "multi-person"]
    assert multi and all(r["multi_person_frac"] > 0.5 for r in multi)


def test_user_smpl_model_gives_the_bone_lengths(smpl_model_dir: Path) -> None:
    from macedance.datasets.from_video.stages import rest_skeleton
    from macedance.motion.skeleton import builtin_skeleton

    rest = rest_skeleton(BuildParams(smpl_model=str(smpl_model_dir)))
    assert rest.name != builtin_skeleton().name and not np.allclose(rest.joints, builtin_skeleton().joints)
    assert rest_skeleton(BuildParams()).name == builtin_skeleton().name
