"""``data build`` with a sources CSV (provenance, licences) over a raw folder holding a near-duplicate: a mirrored,
downscaled, re-encoded copy of one video, cut 0.4 s later, followed by a shot of its own, and an unrelated video.
`--dedupe drop` rejects the copied clips with reasons and takes their files out; `--dedupe keep` (a resumed build:
nothing is processed again) keeps and marks them, with an edited CSV; the two sources share a split either way."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from macedance.datasets.curation.finalize import DUPLICATES
from macedance.datasets.curation.manifest import read_manifest
from macedance.datasets.from_video import BuildParams, build_dataset
from macedance.datasets.from_video.shots import ShotParams
from macedance.errors import ValidationError

from conftest import dataset_files

FAST = dict(min_clip=2.0, max_clip=3.0, shots=ShotParams(detector="histogram"))
FPS, SIZE = 15.0, (320, 240)
CSV = "Video,URL,Creator,License,consent,notes\njazz/a.mp4,https://example.org/a,Ann,CC-BY-4.0,signed release,x\nc.mp4,,Cid,,,\n"


def _raw(raw: Path) -> None:
    import cv2
    import soundfile as sf

    from macedance.datasets.synthetic_video import ShotSpec, shot_frames, write_dance_video
    from macedance.io.video import iter_frames, write_video
    from macedance.music.synth import beat_times, drum_track

    (raw / "jazz").mkdir(parents=True)
    (raw / "reupload").mkdir()
    write_dance_video(raw / "jazz" / "a.mp4", [ShotSpec(6.0, bpm=110)], fps=FPS, size=SIZE, seed=21)
    write_dance_video(raw / "jazz" / "c.mp4", [ShotSpec(4.5, bpm=95)], fps=FPS, size=SIZE, seed=22)
    copy = [cv2.resize(f[:, ::-1], (240, 180), interpolation=cv2.INTER_AREA) for f in iter_frames(raw / "jazz" / "a.mp4")][6:]
    own = [cv2.resize(f, (240, 180), interpolation=cv2.INTER_AREA) for f in shot_frames(ShotSpec(4.0, bpm=100), FPS, SIZE, 23, 0)]
    secs = (len(copy) + len(own)) / FPS
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "music.wav"
        sf.write(wav, drum_track(beat_times(110, secs, start=0.25), secs, sr=22050, seed=5), 22050)
        write_video(raw / "reupload" / "b.mp4", copy + own, FPS, audio=wav, audio_seconds=secs, crf=28)


@pytest.fixture(scope="module")
def dropped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(cache dir, raw folder, a build with --sources and --dedupe drop)."""
    root = tmp_path_factory.mktemp("dedupe-build")
    mp = pytest.MonkeyPatch()
    mp.setenv("MACEDANCE_CACHE_DIR", str(root / "cache"))
    try:
        _raw(root / "raw")
        (root / "sources.csv").write_text(CSV)
        build_dataset(root / "raw", root / "out", params=BuildParams(**FAST), sources=root / "sources.csv", command="test build")
    finally:
        mp.undo()
    return root / "cache", root / "raw", root / "out"


def _rows(out: Path) -> dict[str, dict]:
    return {r["candidate_id"]: r for r in read_manifest(out / "manifest.parquet")}


def _clips(out: Path) -> dict[str, dict]:
    return {c["id"]: c for c in (json.loads(line) for line in (out / "clips.jsonl").read_text().splitlines())}


def test_drop_rejects_the_copied_clips_with_reasons_and_no_files(dropped: tuple[Path, Path, Path]) -> None:
    _, _, out = dropped
    rows, clips = _rows(out), _clips(out)
    dups = [r for r in rows.values() if r["code"] == "duplicate"]
    assert dups and {r["source_video"] for r in dups} == {"reupload/b.mp4"}
    for r in dups:
        of = rows[r["dup_of"]]
        assert of["source_video"] == "jazz/a.mp4" and of["status"] == "kept" and of["dup_of"] is None
        assert (r["status"], r["stage"], r["split"], r["motion_path"], r["video_path"]) == ("rejected", "dedupe", None, None, None)
        assert r["reason"].startswith(f"near-duplicate of {r['dup_of']} (jazz/a.mp4): ") and "mirrored" in r["reason"]
        assert r["dup_group"] == of["dup_group"] and r["candidate_id"] not in clips
        assert not list(out.glob(f"*/{r['candidate_id']}.*"))  # no file left in the dataset …
        assert (out / DUPLICATES / "motions" / f"{r['candidate_id']}.npz").is_file()  # … it waits in the resume state
        assert r["candidate_id"] not in " ".join((out / "splits" / f"{s}.txt").read_text() for s in ("train", "val", "test"))
    # b's own shot is no duplicate: kept, in a's split; c is unrelated
    own = [r for r in rows.values() if r["source_video"] == "reupload/b.mp4" and r["shot"] == 1]
    assert own and all(r["status"] == "kept" and r["dup_of"] is None for r in own)
    a_split = {r["split"] for r in rows.values() if r["source_video"] == "jazz/a.mp4" and r["status"] == "kept"}
    assert len(a_split) == 1 and {r["split"] for r in own} == a_split
    assert all(r["dup_group"] is None for r in rows.values() if r["source_video"] == "jazz/c.mp4")
    card = (out / "README.md").read_text()
    assert "## Near-duplicates across source videos (`--dedupe drop`)" in card and f"| `{dups[0]['candidate_id']}` | `reupload/b.mp4` |" in card
    assert json.loads((out / "build_report.json").read_text())["duplicates"] == len(dups)


def test_sources_csv_goes_into_manifest_clips_and_card(dropped: tuple[Path, Path, Path]) -> None:
    _, _, out = dropped
    rows, clips = _rows(out), _clips(out)
    for r in rows.values():
        expected = {"jazz/a.mp4": ("https://example.org/a", "Ann", "CC-BY-4.0", "signed release"), "jazz/c.mp4": (None, "Cid", None, None),
                    "reupload/b.mp4": (None, None, None, None)}[r["source_video"]]
        assert (r["source_url"], r["creator"], r["licence"], r["consent"]) == expected
        if r["candidate_id"] in clips:
            prov = clips[r["candidate_id"]]["provenance"]
            assert (prov["source_url"], prov["creator"], prov["licence"], prov["consent"]) == expected
            assert "fit" in prov and "build_params_hash" in prov  # what provenance held before stays
    card = (out / "README.md").read_text()
    import hashlib

    sha = hashlib.sha256(CSV.encode()).hexdigest()
    assert "## Sources and licences" in card and f"sha256 `{sha}`" in card
    assert json.loads((out / "build_report.json").read_text())["sources_csv"]["sha256"] == sha
    n_a = sum(1 for c in clips.values() if c["source_video"] == "jazz/a.mp4")
    assert f"| CC-BY-4.0 | 1 | {n_a} |" in card
    missing = sorted(c for c in clips if not c.startswith("jazz-a"))
    assert "Clips whose source has no licence" in card and all(f"`{c}`" in card for c in missing)


def test_resume_with_keep_and_an_edited_csv_processes_nothing(dropped: tuple[Path, Path, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """--dedupe and the sources CSV apply when the dataset is finalised: a resumed build switches to keep (the copied
    clips come back, marked, with their files) and takes the edited licences, without processing a video; switching
    back to drop with the first CSV gives the first dataset again, byte for byte."""
    cache, raw, first = dropped
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(cache))
    out = tmp_path / "out"
    shutil.copytree(first, out)
    edited = tmp_path / "edited.csv"
    edited.write_text("video,licence\njazz/c.mp4,CC0-1.0\nb.mp4,proprietary\n")
    report = build_dataset(raw, out, params=BuildParams(**FAST, dedupe="keep"), sources=edited, resume=True, command="test build")
    assert report.videos_processed == 0 and report.videos_resumed == 3 and "duplicate" not in report.rejected
    rows, clips = _rows(out), _clips(out)
    marked = [r for r in rows.values() if r["dup_of"] is not None]
    assert {r["candidate_id"] for r in marked} == {r["candidate_id"] for r in _rows(first).values() if r["code"] == "duplicate"}
    for r in marked:
        assert r["status"] == "kept" and (out / r["motion_path"]).is_file() and (out / r["video_path"]).is_file()
        assert clips[r["candidate_id"]]["provenance"]["dup_of"] == r["dup_of"] and r["licence"] == "proprietary"
        assert r["split"] == rows[r["dup_of"]]["split"]  # the copy and its original share a split
    assert not (out / DUPLICATES).exists()
    assert {r["licence"] for r in rows.values() if r["source_video"] == "jazz/a.mp4"} == {None}  # no longer in the CSV
    assert {c["provenance"]["licence"] for c in clips.values() if c["source_video"] == "jazz/c.mp4"} == {"CC0-1.0"}
    card = (out / "README.md").read_text()
    assert "`--dedupe keep`" in card and "kept and marked" in card and "| proprietary | 1 |" in card
    report = build_dataset(raw, out, params=BuildParams(**FAST), sources=raw.parent / "sources.csv", resume=True, command="test build")
    assert report.videos_processed == 0 and dataset_files(out) == dataset_files(first)


def test_bad_sources_csv_stops_the_build_before_any_video(dropped: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, raw, _ = dropped
    bad = tmp_path / "bad.csv"
    bad.write_text("video,licence\njazz/a.mp4,MIT\nmissing.mp4,MIT\n")
    with pytest.raises(ValidationError, match=r"bad.csv: line 3, column video: .*'missing.mp4', which is not a file of the raw folder"):
        build_dataset(raw, tmp_path / "out", params=BuildParams(**FAST), sources=bad)
    assert not (tmp_path / "out").exists()


def test_cli_build_sources_and_dedupe_options(dropped: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from macedance.cli import app

    cache, raw, _ = dropped
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(cache))
    runner = CliRunner()
    base = ["data", "build", str(raw), str(tmp_path / "cli"), "--min-clip", "2", "--max-clip", "3", "--shot-detector", "histogram", "--no-videos"]
    res = runner.invoke(app, [*base, "--sources", str(raw.parent / "sources.csv"), "--dedupe", "keep"])
    assert res.exit_code == 0, res.output
    assert "near-duplicates (kept, marked)" in res.output
    rows = _rows(tmp_path / "cli")
    assert {r["licence"] for r in rows.values() if r["source_video"] == "jazz/a.mp4"} == {"CC-BY-4.0"}
    assert any(r["dup_of"] for r in rows.values()) and all(r["status"] == "kept" for r in rows.values() if r["dup_of"])
    res = runner.invoke(app, [*base[:3], str(tmp_path / "x"), "--dedupe", "maybe"])
    assert res.exit_code == 2 and "--dedupe" in res.output and "'drop', 'keep'" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("video\nc.mp4\nc.mp4\n")
    res = runner.invoke(app, [*base[:3], str(tmp_path / "y"), "--shot-detector", "histogram", "--sources", str(bad)])
    assert res.exit_code == 2 and "line 3, column video" in res.output and "again (first on line 2)" in res.output


def test_kept_clips_fingerprints_are_in_the_resume_state(dropped: tuple[Path, Path, Path]) -> None:
    """Every kept clip of a video has its fingerprint in the source's state file: every frame's hash, the mirrored
    hashes of the frames sampled every 0.25 s."""
    from macedance.datasets.curation.fingerprint import sample_frames, unpack

    _, _, out = dropped
    states = [json.loads(p.read_text()) for p in (out / ".build" / "videos").glob("*.json")]
    for st in states:
        kept = {c["id"] for c in st["clips"]}
        fp = st["fingerprints"]
        assert set(fp.get("clips", {})) == kept and (not kept or (fp["fps"], fp["width"]) in ((FPS, 320), (FPS, 240)))
        for c in fp.get("clips", {}).values():
            n = c["end"] - c["start"]
            assert len(unpack(c["hash"])) == n and len(unpack(c["mirror"])) == len(sample_frames(c["start"], c["end"], FPS))
            assert np.count_nonzero(unpack(c["hash"])) > 0.8 * n  # the dancer moves: almost every frame has a hash
