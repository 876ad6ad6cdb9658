"""The video benchmark tasks (madata-animation, madata-music2video) with the tiny Wan-Animate pipeline: video methods
(wan-animate, a cascade, folder) under `bench run`, ground truth on the task canvas, resume, reports of missing and extra
files, weight checks, records and boards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from macedance.appearance.pipeline import AnimateConfig
from macedance.benchmark.records import load_record
from macedance.benchmark.tasks import TASKS, get_task
from macedance.benchmark.video_runner import run_video_benchmark
from macedance.cli import app
from macedance.errors import MaceDanceError
from macedance.leaderboard.build import build_boards
from macedance.leaderboard.render import csv_text, markdown
from macedance.methods.video import VideoFolderMethod, load_video_method

runner = CliRunner()
PIXEL = ("ssim", "psnr", "l1")  # the animation metrics that need no weights
SMALL = AnimateConfig(width=144, height=256, steps=1, segment_frames=17)  # the canvas aspect, 16-px multiples; one 17-frame segment


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory: pytest.TempPathFactory):
    # an empty cache of its own: no weights installed, nothing shared with other test modules
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MACEDANCE_CACHE_DIR", str(tmp_path_factory.mktemp("video-bench-cache")))
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 1-s test clips (10 fps source: 16 frames at the task's 16 fps) of the cartoon dancer, 144×256."""
    from macedance.datasets.synthetic_video import write_appearance_dataset

    return write_appearance_dataset(tmp_path_factory.mktemp("vdata"), seconds=1.0, fps=10.0, size=(144, 256), test=2)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from macedance.appearance.tiny import write_tiny_pipeline

    return write_tiny_pipeline(tmp_path_factory.mktemp("vwan") / "tiny-wan-animate")


@pytest.fixture(scope="module")
def animated(data: Path, model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, Path]:
    out = tmp_path_factory.mktemp("vres")
    rec, path = run_video_benchmark(get_task("madata-animation"), load_video_method("wan-animate", model=model, cfg=SMALL), data=data,
                                    out=out, metrics=PIXEL)
    return rec, path, out


def test_tasks_list_both_video_tasks_with_their_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    from macedance.cli import _ui

    monkeypatch.setattr(_ui.console, "width", 200)  # no wrapping inside the names
    r = runner.invoke(app, ["bench", "tasks"])
    assert r.exit_code == 0, r.output
    for name in ("madata-animation", "madata-music2video", "madata-motion"):
        assert name in r.output
    anim, m2v = TASKS["madata-animation"], TASKS["madata-music2video"]
    assert (anim.kind, anim.fps, anim.size, anim.main_score) == ("animation", 16.0, (720, 1280), "fvd")
    assert {"fvd", "ssim", "lpips", "psnr", "l1", "fid", "fid-vid", "identity"} == set(anim.metrics)
    assert m2v.scores[-5:] == ("fid_k-2d", "fid_g-2d", "div_k-2d", "div_g-2d", "bas-2d")
    assert anim.weights(("ssim", "psnr", "l1")) == () and "i3d-kinetics-400" in anim.weights()
    assert {"musiq-spaq", "clip-vit-l14", "laion-aesthetic-l14", "dino-vitb16", "clip-vit-b32", "amt-s"} <= set(m2v.weights())
    # the motion tasks keep their published hashes (the video fields are left out at their defaults)
    assert TASKS["madata-motion"].hash == "83345feaea544c14" and TASKS["aistpp-motion"].hash == "a2041b12e5abc82e"


def test_missing_weights_are_one_line_naming_the_commands_before_anything_runs(data: Path, model: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["bench", "run", "--task", "madata-animation", "--method", "wan-animate", "--data", str(data),
                            "--model", str(model), "--out", str(tmp_path)])
    assert r.exit_code == 2
    flat = " ".join(r.output.split())  # one message (the terminal may wrap it)
    assert flat.startswith("error: madata-animation needs weights that are not installed") or "needs weights that are not installed" in flat
    assert "macedance weights fetch i3d-kinetics-400" in flat and "--metrics ssim,psnr,l1" in flat
    assert not (tmp_path / "madata-animation").exists()  # nothing generated
    with pytest.raises(MaceDanceError, match="metrics"):
        get_task("madata-animation").check_metrics(("temporal-flickering",))


def test_wan_animate_on_madata_animation_writes_a_record_and_resumes(animated: tuple[dict, Path, Path], data: Path, model: Path,
                                                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from macedance.io.video import probe_video

    rec, path, out = animated
    assert load_record(path)["scores"].keys() == set(PIXEL)
    assert rec["task"]["kind"] == "animation" and rec["task"]["metrics"] == list(PIXEL)
    assert rec["dataset"]["clips"] == 2 and rec["dataset"]["skipped"] == []
    assert all(rec["scores"][m]["n"] == 2 and rec["scores"][m]["value"] is not None for m in PIXEL)
    assert rec["evaluation"]["canvas"] == [720, 1280] and rec["evaluation"]["policy"]["resized"] == 2
    gt = probe_video(out / "madata-animation" / "v1" / "ground-truth" / "t0.mp4")
    assert (gt.width, gt.height, gt.frames, gt.fps) == (720, 1280, 16, 16.0)
    made = probe_video(out / "madata-animation" / "v1" / "wan-animate" / "outputs" / "t0.mp4")
    assert (made.width, made.height, made.frames) == (144, 256, 16)
    assert rec["method"]["capabilities"] == ["animation"] and rec["method"]["config"]["parameters"] > 0
    assert list(rec["method"]["weights"]) == ["tiny-wan-animate/"]
    # a rerun generates nothing (same inputs → cached outputs) and gives the same scores
    import macedance.methods.video as video

    monkeypatch.setattr(video.AppearanceMethod, "animate", lambda *a, **k: pytest.fail("regenerated a cached clip"))
    again, _ = run_video_benchmark(get_task("madata-animation"), load_video_method("wan-animate", model=model, cfg=SMALL), data=data,
                                   out=out, metrics=PIXEL)
    assert again["scores"] == rec["scores"]
    # other sampling settings (here 2 steps) are other videos: both clips are made again (in a copy of the results)
    calls: list[int] = []
    monkeypatch.setattr(video.AppearanceMethod, "animate",
                        lambda self, ref, pose, face, seed, progress: calls.append(seed) or np.zeros((len(pose), 256, 144, 3), np.uint8))
    shutil.copytree(out / "madata-animation", tmp_path / "copy" / "madata-animation")
    steps2 = AnimateConfig(width=144, height=256, steps=2, segment_frames=17)
    run_video_benchmark(get_task("madata-animation"), load_video_method("wan-animate", model=model, cfg=steps2), data=data,
                        out=tmp_path / "copy", metrics=("l1",))
    assert len(calls) == 2


def test_folder_method_reports_missing_and_extra_videos(animated: tuple[dict, Path, Path], data: Path, tmp_path: Path) -> None:
    _, _, out = animated
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copyfile(out / "madata-animation" / "v1" / "wan-animate" / "outputs" / "t0.mp4", folder / "t0.mp4")
    shutil.copyfile(out / "madata-animation" / "v1" / "wan-animate" / "outputs" / "t1.mp4", folder / "t9.mp4")  # a wrong clip id
    r = runner.invoke(app, ["bench", "run", "--task", "madata-animation", "--method", "folder", "--outputs", str(folder), "--name",
                            "my-method", "--data", str(data), "--out", str(tmp_path / "res"), "--metrics", "psnr,l1"])
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "res" / "madata-animation@v1__my-method.json").read_text())
    assert rec["method"]["name"] == "my-method" and rec["dataset"]["extra_outputs"] == ["t9.mp4"]
    assert [s["clip"] for s in rec["dataset"]["skipped"]] == ["t1"] and "no video for clip t1" in rec["dataset"]["skipped"][0]["reason"]
    assert rec["scores"]["psnr"]["n"] == 1
    flat = " ".join(r.output.split())
    assert "skipped t1" in flat and "not used t9.mp4" in flat
    # the same file scored as given: equal to the wan-animate record's t0 values is not required (one pair), but finite
    assert np.isfinite(rec["scores"]["l1"]["value"])


def test_cascade_on_music2video_scores_vbench_and_2d_motion(data: Path, model: Path, tmp_path: Path) -> None:
    """`folder+wan-animate`: the ground-truth motions as a motion method's outputs, animated by the tiny pipeline. The
    ground truth's 2D motion is found (the cartoon dancer), the tiny model's noise has no person: its 2D scores are
    undefined with the reason, the other metrics are scored."""
    motions = tmp_path / "motions"
    motions.mkdir()
    for cid in ("t0", "t1"):
        shutil.copyfile(data / "motions" / f"{cid}.npz", motions / f"{cid}.npz")
    method = load_video_method("folder+wan-animate", model=model, cfg=SMALL, motion_outputs=motions)
    assert method.meta.capabilities == ("music2video",)
    with pytest.raises(MaceDanceError, match="needs a animation method"):
        run_video_benchmark(get_task("madata-animation"), method, data=data, out=tmp_path, metrics=PIXEL)
    rec, path = run_video_benchmark(get_task("madata-music2video"), method, data=data, out=tmp_path,
                                    metrics=("temporal-flickering", "motion-2d"))
    s = load_record(path)["scores"]
    assert 0.0 < s["temporal-flickering"]["value"] <= 1.0 and s["temporal-flickering"]["n"] == 2
    assert set(s) == {"temporal-flickering", "fid_k-2d", "fid_g-2d", "div_k-2d", "div_g-2d", "bas-2d"}
    assert "temporal-flickering" in rec["ground_truth_scores"]  # the reference row's value
    from macedance.io.video import probe_video

    made = probe_video(tmp_path / "madata-music2video" / "v1" / "folder+wan-animate" / "outputs" / "t1.mp4")
    assert (made.width, made.height, made.frames) == (144, 256, 16)  # the clip's frame count at 16 fps
    # 2D motion needs 64 frames per video under mace-video2d: undefined, with the reason, and the run goes on
    assert s["fid_k-2d"]["value"] is None and "64" in s["fid_k-2d"]["undefined_reason"]
    board = build_boards([rec])[0]
    assert board.reference is not None and "madata-music2video" in markdown(board) and "folder+wan-animate" in csv_text(board)


def test_video_folder_method_needs_one_file_per_clip(tmp_path: Path) -> None:
    from macedance.methods.video import VideoJob

    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "a.mkv").write_bytes(b"x")
    m = VideoFolderMethod(tmp_path)
    job = VideoJob("a", 0, None, 16.0, 16, (720, 1280), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(MaceDanceError, match="several videos for clip a"):
        m.generate_video(job)
    with pytest.raises(MaceDanceError, match="no video for clip b"):
        m.generate_video(VideoJob("b", 0, None, 16.0, 16, (720, 1280), np.zeros((4, 4, 3), np.uint8)))


def test_video_method_names_and_options_are_checked(model: Path, tmp_path: Path) -> None:
    with pytest.raises(MaceDanceError, match="appearance-expert"):
        load_video_method("wan-animate", model=model, adapter=tmp_path)
    with pytest.raises(MaceDanceError, match="neither"):
        load_video_method("appearance-expert", model=model)
    with pytest.raises(MaceDanceError, match="model"):
        load_video_method("edge+wan-animate")
    with pytest.raises(MaceDanceError, match="method"):
        load_video_method("edge+stable-diffusion", model=model)
    r = runner.invoke(app, ["bench", "run", "--task", "madata-motion", "--method", "edge", "--data", str(tmp_path), "--metrics", "fid_k"])
    assert r.exit_code == 2 and "motion task" in r.output


@pytest.fixture(scope="module")
def expert_weights(model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A Body Adapter and a LoRA in the original Wan layout (as MACE-Dance's Adapter.safetensors / LoRA.safetensors hold
    them): perturbed copies of the tiny pipeline's tensors."""
    import torch
    from safetensors.torch import save_file

    from macedance.appearance.pipeline import load_pipeline

    folder = tmp_path_factory.mktemp("expert")
    pipe = load_pipeline(model)
    g = torch.Generator().manual_seed(0)
    adapter = {f"pipe.animate_adapter.pose_patch_embedding.{k}": v + 0.5 * torch.randn(v.shape, generator=g)
               for k, v in pipe.transformer.pose_patch_embedding.state_dict().items()}
    q = pipe.transformer.blocks[0].attn1.to_q.weight
    lora = {"blocks.0.self_attn.q.lora_A.default.weight": torch.randn(4, q.shape[1], generator=g),
            "blocks.0.self_attn.q.lora_B.default.weight": torch.randn(q.shape[0], 4, generator=g)}
    save_file(adapter, str(folder / "Adapter.safetensors"))
    save_file(lora, str(folder / "LoRA.safetensors"))
    return folder / "Adapter.safetensors", folder / "LoRA.safetensors"


def test_appearance_expert_loads_its_adapter_and_lora_and_is_recorded(animated: tuple[dict, Path, Path], data: Path, model: Path,
                                                                     expert_weights: tuple[Path, Path], tmp_path: Path) -> None:
    """The Appearance Expert is Wan-Animate with a Body Adapter and a LoRA: both hashes go into the record, and its
    videos differ from plain Wan-Animate's."""
    from macedance.io.video import read_video

    adapter, lora = expert_weights
    method = load_video_method("appearance-expert", model=model, adapter=adapter, lora=lora, cfg=SMALL)
    rec, _ = run_video_benchmark(get_task("madata-animation"), method, data=data, out=tmp_path / "res", metrics=("psnr", "l1"))
    assert set(rec["method"]["weights"]) == {"tiny-wan-animate/", "Adapter.safetensors", "LoRA.safetensors"}
    assert rec["method"]["config"]["lora_alpha"] == 0.5 and "Appearance Expert" in rec["method"]["description"]
    plain, _ = read_video(animated[2] / "madata-animation" / "v1" / "wan-animate" / "outputs" / "t0.mp4")
    expert, _ = read_video(tmp_path / "res" / "madata-animation" / "v1" / "appearance-expert" / "outputs" / "t0.mp4")
    assert plain.shape == expert.shape and np.abs(plain.astype(int) - expert.astype(int)).mean() > 1.0


def test_mace_dance_is_registered_on_the_video_tasks_from_its_released_files(data: Path, model: Path, expert_weights: tuple[Path, Path],
                                                                            tmp_path: Path) -> None:
    """`--method mace-dance` on a video task: the released Motion Expert (here the original code's own tiny checkpoint)
    cascaded into the Appearance Expert, one row named mace-dance whose card holds every weight's sha256."""
    import hashlib

    ckpt = Path(__file__).parent / "parity" / "mace_official_tiny.pt"
    adapter, lora = expert_weights
    r = runner.invoke(app, ["bench", "run", "--task", "madata-music2video", "--method", "mace-dance", "--ckpt", str(ckpt), "--model", str(model),
                            "--adapter", str(adapter), "--lora", str(lora), "--width", "144", "--height", "256", "--steps", "1", "--segment-frames", "17",
                            "--metrics", "temporal-flickering", "--data", str(data), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "madata-music2video@v1__mace-dance.json").read_text())
    assert rec["method"]["name"] == "mace-dance" and rec["method"]["capabilities"] == ["music2video"]
    assert rec["method"]["weights"]["mace_official_tiny.pt"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert {"Adapter.safetensors", "LoRA.safetensors", "tiny-wan-animate/"} <= set(rec["method"]["weights"])
    assert rec["method"]["config"]["motion"]["name"] == "mace-dance-official" and rec["scores"]["temporal-flickering"]["n"] == 2
