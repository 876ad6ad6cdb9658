"""Benchmark runner, result records (schema, migration, validation) and leaderboards, including the
HTML page in headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from macedance.benchmark.records import SCHEMA_VERSION, load_record, migrate, validate
from macedance.benchmark.runner import run_benchmark
from macedance.benchmark.tasks import get_task
from macedance.cli import app
from macedance.datasets.importers.aistpp import GENRES, import_aistpp
from macedance.datasets.synthetic import synthetic_motion, write_aistpp_pkl
from macedance.errors import DataFormatError, MaceDanceError, ValidationError
from macedance.leaderboard.build import build_boards, load_records
from macedance.leaderboard.render import csv_text, html_page, markdown, write_site
from macedance.methods.registry import FolderMethod, load_method
from macedance.music.synth import beat_times, drum_track

HISTORIC = Path(__file__).parent / "historic_results"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    """An imported AIST++-format dataset (9 sequences, 3 in the test split) with drum tracks."""
    root = tmp_path_factory.mktemp("bench")
    raw, music = root / "raw" / "motions", root / "music"
    raw.mkdir(parents=True)
    music.mkdir()
    (root / "raw" / "splits").mkdir()
    genres, train, test = list(GENRES), [], []
    for i in range(9):
        g = genres[i % len(genres)]
        stem, bpm = f"{g}_sBM_cAll_d{i + 1:02d}_m{g[1:]}{i % 6}_ch01", 90 + 5 * i
        write_aistpp_pkl(synthetic_motion(seconds=6, fps=60, bpm=bpm, seed=i), raw / f"{stem}.pkl")
        sf.write(music / f"{stem}.wav", drum_track(beat_times(bpm, 6.0, start=0.0), 6.0, sr=22050), 22050)
        (test if i % 3 == 0 else train).append(stem)
    (root / "raw" / "splits" / "crossmodal_train.txt").write_text("\n".join(train) + "\n")
    (root / "raw" / "splits" / "crossmodal_test.txt").write_text("\n".join(test) + "\n")
    import_aistpp(raw, root / "data", fps=30)
    return root / "data", music


def _reference_run(dataset, tmp_path, method):
    data, music = dataset
    r = runner.invoke(app, ["train", "motion", "--data", str(data), "--music", str(music), "--out", str(tmp_path / method),
                            "--method", method])
    assert r.exit_code == 0, r.output
    return tmp_path / method


def test_bench_run_record_and_resume(dataset, tmp_path, monkeypatch):
    data, music = dataset
    task = get_task("madata-motion")
    method = load_method("retrieval", ckpt=_reference_run(dataset, tmp_path, "retrieval"))
    record, path = run_benchmark(task, method, data=data, out=tmp_path / "results", music=music, bootstrap=30)
    assert path.is_file() and load_record(path)["method"]["name"] == "retrieval"
    assert record["schema_version"] == SCHEMA_VERSION and record["task"]["preset_hash"]
    assert record["dataset"]["clips"] == 3 and len(record["dataset"]["manifest_sha256"]) == 64
    prov = record["provenance"]
    assert prov["macedance_version"] and prov["hardware"] and prov["wall_seconds"] > 0 and prov["seeds"] == [0]
    assert list(record["method"]["weights"].values())[0]  # checkpoint sha256 recorded
    fid = record["scores"]["fid_k"]
    # the 2.5th and 97.5th percentiles of one sorted bootstrap sample: ordered by construction
    assert fid["value"] is not None and fid["ci95"][0] <= fid["ci95"][1]
    bas = record["scores"]["bas"]
    assert 0 <= bas["value"] <= 1
    # resumable: a second run reuses every generated clip
    monkeypatch.setattr(type(method), "generate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("regenerated")))
    again, _ = run_benchmark(task, method, data=data, out=tmp_path / "results", music=music, bootstrap=30)
    # Exact: the same files, and in this process the same code and thread count. The motion features use no
    # thread-split BLAS (einsum without optimize, 3×3 products below OpenBLAS's threading threshold), the beats
    # come from the cache or a one-BLAS-thread analysis (the same bytes), and the Fréchet distance runs on the
    # main thread after the feature workers, so sqrtm sees the same BLAS thread count in both runs.
    assert again["scores"]["fid_k"]["value"] == fid["value"]


def test_folder_method_and_cli(dataset, tmp_path):
    data, music = dataset
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    for clip in [json.loads(line) for line in (data / "clips.jsonl").read_text().splitlines()]:
        if clip["split"] == "test":
            shutil.copy(data / clip["motion_path"], outputs / f"{clip['id']}.npz")  # "generated" = ground truth
    r = runner.invoke(app, ["bench", "run", "--task", "madata-motion", "--method", "folder", "--outputs", str(outputs),
                            "--data", str(data), "--music", str(music), "--out", str(tmp_path / "res"), "--bootstrap", "20"])
    assert r.exit_code == 0, r.output
    rec = load_record(next((tmp_path / "res").glob("*.json")))
    assert rec["method"]["name"] == "folder"
    # identical sets: the value is sqrtm round-off (float64 Schur/LAPACK, kernels differ between CPUs), measured
    # 2.6e-5 with AVX-512 and 2.4e-5 with forced-AVX2 kernels; 1e-3 leaves ≥ 38×
    assert rec["scores"]["fid_k"]["value"] == pytest.approx(0.0, abs=1e-3)  # identical sets (sqrtm round-off)
    r = runner.invoke(app, ["bench", "run", "--task", "nope", "--method", "folder", "--data", str(data)])
    assert r.exit_code == 2 and "--task" in r.stderr
    r = runner.invoke(app, ["bench", "run", "--task", "madata-motion", "--method", "mace-dance", "--data", str(data)])
    assert r.exit_code == 2 and "--ckpt" in r.stderr
    with pytest.raises(MaceDanceError, match="`outputs` folder not found"):
        FolderMethod(tmp_path / "missing")


def test_entry_point_methods(monkeypatch, tmp_path):
    from macedance.methods import registry as mm

    class EP:
        def load(self):
            return lambda ckpt: FolderMethod(tmp_path, name="plugin-method")

    monkeypatch.setattr(mm, "plugin_methods", lambda: {"plugin-method": EP()})
    assert "plugin-method" in mm.list_methods()
    assert load_method("plugin-method").meta.name == "plugin-method"


def test_migration_of_a_stored_v1_record():
    old = json.loads((HISTORIC / "motion-evaluation-v1.json").read_text())
    assert old["schema_version"] == 1 and old["kind"] == "motion-evaluation"
    new = migrate(old)
    validate(new)
    assert new["schema_version"] == SCHEMA_VERSION and new["migrated_from"] == 1
    assert new["task"]["name"] == "custom:clean" and new["method"]["name"] == "unknown"
    assert new["scores"]["fid_k"]["value"] == old["scores"]["fid_k"]["value"]  # copied through the migration: exact
    assert "fid_k_gt" not in new["scores"]
    assert load_record(HISTORIC / "motion-evaluation-v1.json")["migrated_from"] == 1


def _good_record() -> dict:
    from macedance.benchmark.tasks import TASKS
    from macedance.metrics.motion.presets import PRESETS

    t = TASKS["madata-motion"]
    return {"schema_version": 2, "kind": "macedance-result",
            "task": {"name": t.name, "version": t.version, "hash": t.hash, "split": "test", "preset": t.preset,
                     "preset_hash": PRESETS[t.preset].hash, "main_score": "fid_k"},
            "method": {"name": "m"}, "scores": {"fid_k": {"value": 3.0, "ci95": [2.0, 4.0], "n": 5},
                                                "bas": {"value": None, "undefined_reason": "no music"}},
            "provenance": {"created": "2026-01-01"}}


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["scores"]["fid_k"].update(value=-1.0), "scores.fid_k: expected a value in"),
    (lambda r: r["task"].update(version=2), "upgrade macedance"),
    (lambda r: r["scores"].update(bas={"value": 1.5}), "scores.bas: expected a value in [0.0, 1.0]"),
    (lambda r: r["scores"]["fid_k"].update(ci95=[4.0, 2.0]), "ci95"),
    (lambda r: r["scores"]["bas"].pop("undefined_reason"), "null without a reason"),
    (lambda r: r["task"].update(preset_hash="0" * 16), "task.preset"),
    (lambda r: r["task"].update(name="other"), "task.name"),
    (lambda r: r.pop("method"), "record.method"),
    (lambda r: r["scores"].update(pfc_x={"value": 1.0}), "only the task's scores"),
])
def test_validation_rejects_broken_records(mutate, message):
    r = _good_record()
    validate(r)
    mutate(r)
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate(r)


def test_nan_and_non_json_are_rejected(tmp_path):
    (tmp_path / "nan.json").write_text(json.dumps(_good_record()).replace("3.0", "NaN"))
    with pytest.raises(DataFormatError, match="NaN is not allowed"):
        load_record(tmp_path / "nan.json")
    (tmp_path / "x.json").write_bytes(b"\x80\x04pickle?")
    with pytest.raises(DataFormatError):
        load_record(tmp_path / "x.json")
    r = runner.invoke(app, ["board", "validate", str(tmp_path / "nan.json")])
    assert r.exit_code == 2 and "NaN" in r.stderr
    (tmp_path / "ok.json").write_text(json.dumps(_good_record()))
    assert runner.invoke(app, ["board", "validate", str(tmp_path / "ok.json")]).exit_code == 0


def _records() -> list[dict]:
    a, b, c = _good_record(), _good_record(), _good_record()
    a["method"]["name"], b["method"]["name"], c["method"]["name"] = "alpha", "beta", "gamma"
    a["scores"]["bas"] = {"value": 0.3, "ci95": [0.2, 0.4], "n": 5}
    b["scores"]["fid_k"] = {"value": 1.0, "ci95": [0.5, 1.5], "n": 5}
    c["scores"] = {"fid_k": {"value": 2.0, "ci95": None, "n": 5}}  # no BAS at all
    d = _good_record()
    d["task"]["version"], d["method"]["name"] = 0, "old-version"
    return [a, b, c, d]


def test_boards_separate_versions_and_keep_missing_missing():
    boards = build_boards(_records())
    assert [(b.task, b.version) for b in boards] == [("madata-motion", 0), ("madata-motion", 1)]
    b = boards[1]
    assert [r["method"] for r in b.sorted_rows()] == ["beta", "gamma", "alpha"]  # FID ↓
    md = markdown(b)
    assert "| 1 | beta | 1 [0.5, 1.5] | — |" in md and "| 2 | gamma | 2 | — |" in md
    assert "| 3 | alpha | 3 [2, 4] | 0.3 [0.2, 0.4] |" in md
    csv = csv_text(b).splitlines()
    assert csv[0].startswith("task,version,preset,method,fid_k,fid_k_ci_low")
    assert ",gamma,2.0,,," in csv[2]  # missing stays empty, never 0


def test_sample_videos_are_copied_next_to_the_page_and_never_from_outside_the_record_folder(tmp_path):
    from macedance.io.video import write_video

    results = tmp_path / "results"
    write_video(results / "madata-motion" / "v1" / "alpha" / "samples" / "c0.mp4", [np.zeros((32, 32, 3), np.uint8)] * 4, 16.0)
    write_video(tmp_path / "outside.mp4", [np.zeros((32, 32, 3), np.uint8)] * 4, 16.0)
    a = _records()[0]
    a["samples"] = [{"clip": "c0", "file": "madata-motion/v1/alpha/samples/c0.mp4"}, {"clip": "c1", "file": "../outside.mp4"},
                    {"clip": "c2", "file": "madata-motion/v1/alpha/samples/missing.mp4"}]
    (results / "r.json").write_text(json.dumps(a))
    records, bad = load_records([results])
    assert not bad and [s["clip"] for s in build_boards(records)[0].rows[0]["samples"]] == ["c0"]
    files = write_site(build_boards(records), tmp_path / "site")
    page = files["html"].read_text()
    assert page.count("<video ") == 1 and "samples/madata-motion_v1_" in page
    assert len(list((tmp_path / "site" / "samples").rglob("*.mp4"))) == 1


def test_ground_truth_is_an_unranked_reference_row():
    """The ground truth's values (``<metric>_gt`` scores; for video metrics ``details.gt_value``) become one unranked
    row above the ranked ones in every output, not columns; records that disagree on them give no row but a note."""
    a, b = _good_record(), _good_record()
    b["method"]["name"] = "beta"
    b["scores"]["fid_k"] = {"value": 1.0, "ci95": None, "n": 5}
    for r in (a, b):
        r["scores"]["div_k"] = {"value": 8.0, "n": 5}
    a["scores"]["div_k_gt"] = {"value": 9.5, "n": 5}  # as `eval motion --json` writes it
    b["ground_truth_scores"] = {"div_k": {"value": 9.5, "n": 5}}  # as `bench run` writes it
    a["scores"]["bas"] = {"value": 0.2, "n": 5, "details": {"gt_value": 0.25}}
    board = build_boards([a, b])[0]
    assert "div_k_gt" not in board.metrics and board.reference == {"method": "ground truth", "scores": {"div_k": {"value": 9.5},
                                                                                                         "bas": {"value": 0.25}}}
    md = markdown(board)
    ref_line = next(line for line in md.splitlines() if "*ground truth*" in line)
    assert ref_line.startswith("| | *ground truth* |") and "9.5" in ref_line and "0.25" in ref_line and "—" in ref_line  # no FID of the GT
    assert md.index("*ground truth*") < md.index("| 1 | beta |")
    csv = csv_text(board).splitlines()
    assert "div_k_gt" not in csv[0] and csv[1].split(",")[3] == "ground truth" and csv[2].split(",")[3] == "beta"
    page = html_page([board])
    assert page.index("<tbody class='reference'>") < page.index("<em>ground truth</em>") < page.index(">beta<")
    assert "t.tBodies[t.tBodies.length-1]" in page  # sorting moves the method rows only
    b["ground_truth_scores"]["div_k"]["value"] = 7.0
    board = build_boards([a, b])[0]
    assert board.reference is None and "disagree on the ground truth's div_k (9.5 vs 7" in markdown(board)


def test_method_cards_come_from_the_records():
    """Each row's card (description, paper, licences, weights sha256, run time per clip on its hardware) is a pure
    function of its record, shown under the table in Markdown and on the page, and kept in boards.json."""
    a = _good_record()
    a["method"].update(name="edge-official", version="released weights sha256 4b14f0057284", description="EDGE from its checkpoint",
                       paper="EDGE, Tseng et al., CVPR 2023", licence="code: MIT", weights={"checkpoint.pt": "4b14f00572845f91" + "0" * 48},
                       config={"parameters": 49_464_471})
    a["provenance"].update(wall_seconds=38.6, hardware="CPU x86_64 × 2")
    a["dataset"] = {"clips": 4}
    b = _good_record()  # no metadata, no timing: an empty card is not shown
    b["method"]["name"] = "bare"
    board = build_boards([a, b])[0]
    card = next(r["card"] for r in board.rows if r["method"] == "edge-official")
    assert card["seconds_per_clip"] == 9.65 and card["weights"] == a["method"]["weights"] and card["paper"].startswith("EDGE")
    assert next(r["card"] for r in board.rows if r["method"] == "bare") == {}
    md = markdown(board)
    line = next(x for x in md.splitlines() if x.startswith("- **edge-official**"))
    assert "checkpoint.pt sha256 4b14f0057284" in line and "9.65 s per clip (generation and scoring) on CPU x86_64 × 2" in line
    assert "49.5 M parameters" in line and card["parameters"] == 49_464_471
    assert "**bare**" not in md
    page = html_page([board])
    assert "<summary>Method cards</summary>" in page and "EDGE, Tseng et al., CVPR 2023" in page


def test_board_build_cli(tmp_path):
    for i, r in enumerate(_records()):
        (tmp_path / f"r{i}.json").write_text(json.dumps(r))
    (tmp_path / "broken.json").write_text("{}")
    res = runner.invoke(app, ["board", "build", str(tmp_path), "--out", str(tmp_path / "site")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "site" / "index.html").is_file() and (tmp_path / "site" / "leaderboard.md").is_file()
    assert len(list((tmp_path / "site").glob("*.csv"))) == 2 and "ignored" in res.stderr


def test_html_page_in_headless_chromium(tmp_path, chromium):
    records = _records()
    for r in records[:3]:  # the version-1 board gets a ground-truth row; sorting must leave it on top
        r["scores"]["div_k_gt"] = {"value": 9.5, "n": 5}
    files = write_site(build_boards(records), tmp_path / "site")
    driver = chromium
    from selenium.webdriver.common.by import By

    driver.get(files["html"].resolve().as_uri())
    assert "macedance leaderboard" in driver.title
    table = driver.find_element(By.ID, "table-1")

    def methods() -> list[str]:
        return [row.find_elements(By.TAG_NAME, "td")[1].text for row in table.find_elements(By.CSS_SELECTOR, "tbody:not(.reference) tr")]

    def first_row() -> str:
        return table.find_elements(By.CSS_SELECTOR, "tbody tr")[0].find_elements(By.TAG_NAME, "td")[1].text

    assert methods() == ["beta", "gamma", "alpha"] and first_row() == "ground truth"
    headers = table.find_elements(By.TAG_NAME, "th")
    headers[1].click()  # sort by method name, ascending
    assert methods() == ["alpha", "beta", "gamma"]
    headers[1].click()  # descending
    assert methods() == ["gamma", "beta", "alpha"]
    bas = [h.text for h in headers].index("BAS ↑")
    headers[bas].click()  # missing values sort last, whatever the direction
    assert methods()[0] == "alpha" and set(methods()[1:]) == {"beta", "gamma"}
    headers[bas].click()  # descending: missing values still last
    assert methods()[0] == "alpha" and set(methods()[1:]) == {"beta", "gamma"}
    assert first_row() == "ground truth"  # never sorted with the methods
    assert driver.find_elements(By.CSS_SELECTOR, "svg.plot") and driver.find_elements(By.CSS_SELECTOR, "svg.ci")
    png = tmp_path / "board.png"
    assert driver.save_screenshot(str(png)) and png.stat().st_size > 5000
    assert "—" in html_page(build_boards(_records()))


def test_bench_run_released_methods(dataset, tmp_path):
    """A released checkpoint (the original code's own file, tiny sizes) runs as a benchmark method: features from the
    clips' audio, the official sampler, a record with the checkpoint's sha256 and the released metadata."""
    import hashlib

    data, music = dataset
    ckpt = Path(__file__).parent / "parity" / "mace_official_tiny.pt"
    r = runner.invoke(app, ["bench", "run", "--task", "madata-motion", "--method", "mace-dance-official", "--ckpt", str(ckpt),
                            "--data", str(data), "--music", str(music), "--out", str(tmp_path / "res"), "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    rec = load_record(next((tmp_path / "res").glob("*.json")))
    assert rec["method"]["weights"] == {ckpt.name: hashlib.sha256(ckpt.read_bytes()).hexdigest()}
    assert rec["method"]["config"]["weights"] == "model" and "cc-by-4.0" in rec["method"]["licence"]
    import torch

    from macedance.methods.official.checkpoint import read_released_checkpoint

    state = read_released_checkpoint(ckpt, weights="model").state_dict  # the network's own tensors, for the card
    assert rec["method"]["config"]["parameters"] == sum(v.numel() for v in state.values() if isinstance(v, torch.Tensor))
    assert rec["scores"]["fid_k"]["value"] is not None


def test_released_edge_on_audio_slices_windows_like_test_py(tmp_path):
    """A 35-d EDGE checkpoint on audio: windows of seq_len frames (5 s when released) every half window, analysed one by one."""
    from macedance.methods.official.edge import edge_windows

    wav = tmp_path / "song.wav"
    sf.write(wav, drum_track(beat_times(120, 1.5, start=0.0), 1.5, sr=22050), 22050)
    w, frames = edge_windows(wav, dim=35, window=20)  # 0.667-s windows every 0.333 s covering 1.5 s: 4 (the last padded)
    assert w.shape == (4, 20, 35) and w.dtype == "float32" and frames == 45
    w, _ = edge_windows(wav, dim=35, window=20, frames=30)  # 1 s: 2 windows
    assert w.shape == (2, 20, 35)
    with pytest.raises(MaceDanceError, match="asked for 2.00 s"):
        edge_windows(wav, dim=35, window=20, frames=60)
