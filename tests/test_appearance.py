"""Appearance Expert: pose rendering geometry, the tiny offline Wan-Animate pipeline end to end (cascade,
relay segments), both fine-tuning stages (what changes, LoRA size, resume) and the LoRA merge."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")

from macedance.appearance.conditions import (
    face_box,
    fit_alignment,
    keypoints_to_wan20,
    letterbox,
    motion_conditions,
    smpl_to_wan20,
)
from macedance.datasets.synthetic import synthetic_motion
from macedance.datasets.synthetic_video import draw_dancer
from macedance.motion.camera import project_front
from macedance.render.wan_pose import WAN_BODY20, WAN_COLORS, draw_wan_pose, stick_width

W, H = 32, 48  # tiny output size (multiples of 16)
I = {n: i for i, n in enumerate(WAN_BODY20)}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from macedance.appearance.tiny import write_tiny_pipeline

    return write_tiny_pipeline(tmp_path_factory.mktemp("wan") / "tiny-wan-animate")


@pytest.fixture(scope="module")
def pipe(tiny_model: Path):
    from macedance.appearance.pipeline import load_pipeline

    return load_pipeline(tiny_model)


def _cartoon(motion, scale: float, offset: tuple[float, float], size: tuple[int, int], frame: int = 0) -> np.ndarray:
    uv = project_front(motion.to_up_axis("y").joints()[frame])
    img = np.full((size[1], size[0], 3), 235, np.uint8)
    draw_dancer(img, scale * uv + np.asarray(offset))
    return img


# ----- pose rendering --------------------------------------------------------------------------


def test_pose_image_draws_each_joint_where_the_keypoints_say() -> None:
    rng = np.random.default_rng(0)
    size = (400, 600)
    kp = np.column_stack([rng.uniform(40, 360, 20), rng.uniform(40, 560, 20), np.ones(20)])
    kp[I["left_toe"], 2] = 0.2  # below the confidence threshold: not drawn
    img = draw_wan_pose(size, kp)
    assert img.shape == (600, 400, 3) and img.dtype == np.uint8 and stick_width(*size) == 1
    last = {}
    for j, (x, y, c) in enumerate(kp):  # joints are drawn after the limbs, in order: the last disc on a pixel wins
        if c >= 0.5:
            last[(int(x), int(y))] = j
    for (x, y), j in last.items():
        assert tuple(img[y, x]) == WAN_COLORS[j]
    x, y = int(kp[I["left_toe"], 0]), int(kp[I["left_toe"], 1])
    assert tuple(img[y, x]) != WAN_COLORS[I["left_toe"]]
    blank = draw_wan_pose(size, np.zeros((20, 3)))
    assert not blank.any()


def test_smpl_keypoints_follow_fk_and_projection_and_face_points_hide_when_turned_away() -> None:
    m = synthetic_motion(seconds=1.0, fps=30, seed=1)
    pts = smpl_to_wan20(m)
    joints = m.to_up_axis("y").joints()
    # the same float64 FK on both sides, copied or averaged over 2 joints (exact halving): measured bit-identical
    np.testing.assert_allclose(pts[:, I["left_wrist"], :3], joints[:, 20])
    np.testing.assert_allclose(pts[:, I["neck"], :3], joints[:, [16, 17]].mean(1))
    uv = project_front(pts[..., :3])
    np.testing.assert_allclose(uv[..., 0], pts[..., 0]) and np.testing.assert_allclose(uv[..., 1], -pts[..., 1])
    # visibility thresholds on the head axes: facing ≥ 0.95 vs > -0.1 here, ≤ -0.96 turned around: no round-off can flip them
    assert (pts[:, [I["nose"], I["left_eye"], I["right_eye"]], 3] == 1).all()  # the dance faces the camera
    poses = m.poses.copy()
    poses[:, 0] = [0.0, np.pi, 0.0]  # turned around (about y)
    back = smpl_to_wan20(m.replace(poses=poses, up_axis="y"))
    assert (back[:, [I["nose"], I["left_eye"], I["right_eye"]], 3] == 0).all()
    # left joints appear on the image's right for a dancer facing the camera
    assert (uv[:, I["left_shoulder"], 0] > uv[:, I["right_shoulder"], 0]).all()  # by ≥ 0.38 m


def test_alignment_is_exact_on_exact_keypoints_and_lands_the_joints() -> None:
    m = synthetic_motion(seconds=1.0, fps=30, seed=2)
    uv = project_front(smpl_to_wan20(m)[..., :3])
    ref = np.concatenate([140.0 * uv[0] + np.array([90.0, 210.0]), np.ones((20, 1))], axis=1)
    a = fit_alignment(uv[0], ref)
    # float64 least squares on exact correspondences: the residual is round-off, measured 3e-14 px on ~400 px
    # (kernels may change it by a few ulp); approx's 1e-6, allclose's 1e-5 and 1e-9 px leave ≥ 3e4×
    assert a.scale == pytest.approx(140.0) and np.allclose(a.offset, (90.0, 210.0))
    np.testing.assert_allclose(a.apply(uv[0]), ref[:, :2], atol=1e-9)
    ref[I["left_hip"], 2] = 0.1
    with pytest.raises(Exception, match="no person"):
        fit_alignment(uv[0], ref)


def test_pose_video_is_aligned_to_the_person_detected_in_the_reference_image() -> None:
    """A cartoon dancer drawn from the motion's first frame at a known scale and offset; MediaPipe finds
    it and the rendered skeleton lands on it (scale within 5 %, mid-hip within 3 % of the height).

    MediaPipe's float32 kernels differ between CPUs; the bounds are far from the measured errors: scale
    1.4 %, mid-hip 1.3 px (bound 14.4 px), median keypoint 1.1 px (bound 19.2 px)."""
    m = synthetic_motion(seconds=2.0, fps=30, seed=3)
    size = (320, 480)
    img = _cartoon(m, 150.0, (170.0, 260.0), size)
    c = motion_conditions(m, img, size, fps=15, face_size=16)
    assert abs(c.alignment.scale / 150.0 - 1) < 0.05
    kp0 = c.keypoints[0]
    uv0 = project_front(smpl_to_wan20(m)[0, :, :3])
    truth = 150.0 * uv0 + np.array([170.0, 260.0])
    mid_hip = [I["left_hip"], I["right_hip"]]
    assert np.linalg.norm(kp0[mid_hip, :2].mean(0) - truth[mid_hip].mean(0)) < 0.03 * size[1]
    assert np.median(np.linalg.norm(kp0[:, :2] - truth, axis=1)) < 0.04 * size[1]
    assert len(c.pose) == len(c.face) == len(m.resample(15).poses)
    assert c.face[0].shape == (16, 16, 3) and c.face[0].any()
    # the reference is letterboxed into the output frame, and the keypoints with it
    small, s, (ox, oy) = letterbox(img, (160, 320))
    # scale min(160/320, 320/480) and offsets (320 − 480·0.5)/2: IEEE scalar arithmetic on exact values
    assert small.shape == (320, 160, 3) and s == pytest.approx(0.5) and (ox, oy) == (0.0, 40.0)


def test_detector_keypoints_map_to_wan20() -> None:
    from macedance.pose.mapping import smpl_joints_to_keypoints

    joints2d = project_front(synthetic_motion(seconds=0.5, fps=30).to_up_axis("y").joints()[0])
    kp, filled = smpl_joints_to_keypoints(joints2d, "mediapipe33")
    mp = np.concatenate([kp, filled[:, None].astype(float)], axis=1)
    w = keypoints_to_wan20(mp, "mediapipe33")
    # copies of the joints and a mean of two (float64, exact halving): measured bit-identical
    np.testing.assert_allclose(w[I["neck"], :2], joints2d[[16, 17]].mean(0))
    np.testing.assert_allclose(w[I["left_toe"], :2], joints2d[10])
    coco = keypoints_to_wan20(np.ones((17, 3)), "coco17")
    assert coco[I["left_toe"], 2] == 0 and coco[I["nose"], 2] == 1
    box = face_box(w, (100, 100))
    assert box is not None and box[2] >= 4


# ----- the tiny pipeline: cascade, relay segments -------------------------------------------------


def test_loader_refuses_a_folder_that_is_not_wan_animate(tmp_path: Path) -> None:
    from macedance.appearance.pipeline import check_model_dir
    from macedance.errors import InputNotFoundError, ValidationError

    with pytest.raises(InputNotFoundError, match="tiny-wan-animate"):
        check_model_dir(tmp_path)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    with pytest.raises(ValidationError, match="WanAnimatePipeline"):
        check_model_dir(tmp_path)


def test_relay_segments_give_exactly_the_pose_video_length_and_are_seeded(pipe) -> None:
    from macedance.appearance.pipeline import AnimateConfig, _segments, animate

    rng = np.random.default_rng(0)
    pose = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(7)]
    face = [rng.integers(0, 255, (16, 16, 3), dtype=np.uint8) for _ in range(7)]
    ref = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    cfg = AnimateConfig(width=W, height=H, steps=1, segment_frames=5, prev_frames=1)
    assert _segments(7, 5, 1) == 2 and _segments(11, 5, 1) == 3  # 5 + 4 (+ 4) frames, the last segment padded by mirroring
    calls = []
    v = animate(pipe, ref, pose, face, cfg=cfg, seed=3, progress=lambda i, n: calls.append((i, n)))
    assert v.shape == (7, H, W, 3) and v.dtype == np.uint8 and calls[-1] == (2, 2)
    # Bit-identical repeat: same process, same thread count, so the same float32 kernels and reduction splits
    # (a claim about repeat runs; another CPU or thread count may change the last bits, and so a uint8 level).
    assert np.array_equal(v, animate(pipe, ref, pose, face, cfg=cfg, seed=3))


@pytest.fixture(scope="module")
def motion_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny Motion Expert trained for 2 steps, and a 3-s drum track."""
    import soundfile as sf

    from macedance.models.diffusion import DiffusionConfig
    from macedance.models.motion_expert import ExpertConfig
    from macedance.music.synth import beat_times, drum_track
    from macedance.training.motion import TrainConfig, train_motion

    root = tmp_path_factory.mktemp("motion")
    (root / "m").mkdir()
    (root / "music").mkdir()
    synthetic_motion(seconds=3.0, fps=30, seed=0).save(root / "m" / "s0.npz")
    sf.write(root / "music" / "s0.wav", drum_track(beat_times(120, 3.0, start=0.0), 3.0, sr=22050), 22050)
    mp = pytest.MonkeyPatch()
    mp.setenv("MACEDANCE_CACHE_DIR", str(root / "cache"))
    try:
        train_motion(root / "m", root / "run", expert=ExpertConfig.tiny(), diffusion_cfg=DiffusionConfig(), train=TrainConfig(steps=2, batch=2, window=60), music_dir=root / "music")
    finally:
        mp.undo()
    return root / "run", root / "music" / "s0.wav"


def _diffsynth_archive(model: Path, tmp_path: Path) -> Path:
    """``Expert-Apprearance.7z`` as MACE-Dance publishes it (``models/train/{LoRA,Adapter}.safetensors``, DiffSynth
    names), with random tensors shaped for the tiny ``model``; skipped without py7zr."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    py7zr = pytest.importorskip("py7zr")
    with safe_open(str(next((model / "transformer").glob("*.safetensors"))), "pt") as f:
        shape = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    g = torch.Generator().manual_seed(3)
    out_dim, in_dim = shape["blocks.0.attn1.to_q.weight"]
    train = tmp_path / "mace" / "models" / "train"
    train.mkdir(parents=True)
    save_file({"blocks.0.self_attn.q.lora_A.default.weight": torch.randn(4, in_dim, generator=g),
               "blocks.0.self_attn.q.lora_B.default.weight": 0.1 * torch.randn(out_dim, 4, generator=g)}, str(train / "LoRA.safetensors"))
    save_file({f"pipe.animate_adapter.{k}": 0.1 * torch.randn(shape[k], generator=g) for k in shape if k.startswith("pose_patch_embedding.")},
              str(train / "Adapter.safetensors"))
    arc = tmp_path / "Expert-Apprearance.7z"
    with py7zr.SevenZipFile(arc, "w") as z:
        z.writeall(tmp_path / "mace" / "models", "models")
    return arc


def test_cascade_cli_music_and_reference_to_dance_video(tiny_model: Path, motion_run: tuple[Path, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image
    from typer.testing import CliRunner

    from macedance.cli import app
    from macedance.io.audio import load_audio
    from macedance.io.video import probe_video

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    run, song = motion_run
    Image.fromarray(_cartoon(synthetic_motion(seconds=1.0, fps=30, seed=5), 150.0, (160.0, 250.0), (320, 480))).save(tmp_path / "ref.png")
    model = tmp_path / "wan"
    r = CliRunner().invoke(app, ["weights", "tiny-wan-animate", str(model)])
    assert r.exit_code == 0, r.output
    arc = _diffsynth_archive(model, tmp_path)  # MACE-Dance's released layout, DiffSynth names, random tensors
    args = ["generate", "video", "--music", str(song), "--ref", str(tmp_path / "ref.png"), "--motion-ckpt", str(run), "--model", str(model),
            "--out", str(tmp_path / "dance.mp4"), "--seconds", "1.0", "--fps", "8", "--width", str(W), "--height", str(H), "--steps", "1",
            "--segment-frames", "5", "--pose-video", str(tmp_path / "pose.mp4"), "--face-video", str(tmp_path / "face.mp4"),
            "--lora", str(arc), "--adapter", str(arc), "--lora-alpha", "0.5"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    info = probe_video(tmp_path / "dance.mp4")
    assert (info.width, info.height, info.fps, info.frames) == (W, H, 8.0, 8) and info.has_audio  # 30 motion frames at 30 fps → 8 at 8 fps
    assert abs(load_audio(tmp_path / "dance.mp4").duration - 1.0) < 0.1  # AAC priming/padding (tens of ms), not round-off
    assert probe_video(tmp_path / "pose.mp4").frames == 8 and probe_video(tmp_path / "face.mp4").width == 16
    r = CliRunner().invoke(app, args[:5] + [str(tmp_path / "missing.png")] + args[6:])
    assert r.exit_code == 2 and "image not found" in r.stderr


# ----- fine-tuning ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from macedance.datasets.synthetic_video import write_appearance_dataset

    return write_appearance_dataset(tmp_path_factory.mktemp("clips"))


def _cfg(stage: str, steps: int, **kw):
    from macedance.training.appearance import AppearanceTrainConfig

    return AppearanceTrainConfig(stage=stage, steps=steps, width=W, height=H, frames=5, fps=8.0, checkpoint_every=1, log_every=1, **kw)


def _params(p) -> dict[str, np.ndarray]:
    return {f"{c}.{n}": t.detach().clone() for c in ("transformer", "vae", "text_encoder", "image_encoder")
            for n, t in getattr(p, c).named_parameters()}


def test_kinematic_step_changes_only_the_body_adapter_and_resumes_exactly(tiny_model: Path, clips: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from macedance.appearance.pipeline import load_pipeline
    from macedance.training.appearance import train_appearance

    p = load_pipeline(tiny_model)
    before = _params(p)
    s = train_appearance(clips, tiny_model, tmp_path / "k", cfg=_cfg("kinematic", 1), pipe=p)
    assert s["step"] == 1 and s["clips"] == 1 and [x["clip"] for x in s["skipped"]] == ["c1"]
    # exact: frozen parameters are never written; the trained ones move by Adam steps of ~lr, far above zero
    changed = {k for k, v in _params(p).items() if not torch.equal(v, before[k])}
    assert changed == {"transformer.pose_patch_embedding.weight", "transformer.pose_patch_embedding.bias"}
    saved = load_file(str(tmp_path / "k" / "adapter.safetensors"))
    assert torch.equal(saved["pose_patch_embedding.weight"], p.transformer.pose_patch_embedding.weight.detach())
    assert (tmp_path / "k" / "loss.png").is_file() and len((tmp_path / "k" / "loss.csv").read_text().splitlines()) == 2
    # resume: 1 + 1 steps equal 2 uninterrupted steps, bit for bit — both runs in this process with the same
    # thread count run the same float32 kernels, the checkpoint restores exact bits (weights, Adam, RNG); measured
    # with 1 and 2 threads and with AVX-512 and forced-AVX2 kernels
    train_appearance(clips, tiny_model, tmp_path / "k", cfg=_cfg("kinematic", 2), resume=True, pipe=load_pipeline(tiny_model))
    train_appearance(clips, tiny_model, tmp_path / "k2", cfg=_cfg("kinematic", 2), pipe=load_pipeline(tiny_model))
    a, b = (load_file(str(tmp_path / r / "adapter.safetensors")) for r in ("k", "k2"))
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["pose_patch_embedding.weight"], saved["pose_patch_embedding.weight"])
    assert [ln.split(",")[0] for ln in (tmp_path / "k" / "loss.csv").read_text().splitlines()] == ["step", "1", "2"]
    with pytest.raises(Exception, match="already holds a run"):
        train_appearance(clips, tiny_model, tmp_path / "k2", cfg=_cfg("kinematic", 2))


def test_aesthetic_stage_trains_only_rank_32_lora_and_merges_at_alpha(tiny_model: Path, clips: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    from macedance.appearance.pipeline import apply_lora, load_adapter, load_pipeline
    from macedance.training.appearance import lora_parameter_count, train_appearance

    train_appearance(clips, tiny_model, tmp_path / "k", cfg=_cfg("kinematic", 1), pipe=load_pipeline(tiny_model))
    p = load_pipeline(tiny_model)
    load_adapter(p, tmp_path / "k")
    before = _params(p)
    s = train_appearance(clips, tiny_model, tmp_path / "a", cfg=_cfg("aesthetic", 2), init=tmp_path / "k", pipe=p)
    assert s["trainable_parameters"] == lora_parameter_count(p.transformer, 32) == 2 * (16 * 32 * 24 + 2 * 32 * (24 + 32))
    after = {k.replace(".base_layer.", "."): v for k, v in _params(p).items()}  # peft wraps the targeted layers
    base = {k for k in after if "lora_" not in k}
    assert base == set(before) and all(torch.equal(after[k], before[k]) for k in base)  # DiT, adapter, VAE, encoders frozen
    lora = {k for k in after if "lora_" in k}
    assert len(lora) == 2 * 10 * 2 and any(not torch.equal(after[k], torch.zeros_like(after[k])) for k in lora if "lora_B" in k)
    sd = load_file(str(tmp_path / "a" / "pytorch_lora_weights.safetensors"))
    assert sum(v.numel() for v in sd.values()) == s["trainable_parameters"]
    assert torch.equal(load_file(str(tmp_path / "a" / "adapter.safetensors"))["pose_patch_embedding.weight"],
                       load_file(str(tmp_path / "k" / "adapter.safetensors"))["pose_patch_embedding.weight"])
    # merge at alpha: W' = W + alpha · B·A (lora_alpha = rank → scale 1). float32, rank 32: another summation
    # order moves an entry by ≤ 32·2^-24·(|B|·|A|) plus one rounding of W' (≤ 2^-24·0.2): ~1e-8 here, far inside
    # atol 1e-6 + rtol 1e-5 (measured bit-identical)
    key = "blocks.0.attn1.to_q"
    A, B = sd[f"transformer.{key}.lora_A.weight"], sd[f"transformer.{key}.lora_B.weight"]
    for alpha in (0.5, 1.0):
        q = load_pipeline(tiny_model)
        w0 = q.transformer.blocks[0].attn1.to_q.weight.detach().clone()
        apply_lora(q, tmp_path / "a", alpha)
        assert not any("lora" in n for n, _ in q.transformer.named_parameters())
        torch.testing.assert_close(q.transformer.blocks[0].attn1.to_q.weight.detach(), w0 + alpha * B @ A, rtol=1e-5, atol=1e-6)
    # the same LoRA under the original Wan / DiffSynth names merges to the same weights
    names = {"attn1.": "self_attn.", "attn2.": "cross_attn.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.", "to_out.0.": "o.",
             "ffn.net.0.proj.": "ffn.0.", "ffn.net.2.": "ffn.2."}
    wan = {}
    for k, v in sd.items():
        k = k.removeprefix("transformer.")
        for a, b in names.items():
            k = k.replace(a, b)
        wan[k] = v
    save_file(wan, str(tmp_path / "wan_lora.safetensors"))
    q = load_pipeline(tiny_model)
    apply_lora(q, tmp_path / "wan_lora.safetensors", 0.5)
    torch.testing.assert_close(q.transformer.blocks[0].attn1.to_q.weight.detach(), w0 + 0.5 * B @ A, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_tiny_pipeline_bf16_on_cuda_animates_and_trains_both_stages(tiny_model: Path, clips: Path, tmp_path: Path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from macedance.appearance.pipeline import AnimateConfig, animate, load_pipeline
    from macedance.training.appearance import train_appearance

    p = load_pipeline(tiny_model, device="cuda")
    assert p.transformer.dtype == torch.bfloat16 and p.vae.dtype == torch.float32
    rng = np.random.default_rng(0)
    v = animate(p, rng.integers(0, 255, (H, W, 3), dtype=np.uint8), [rng.integers(0, 255, (H, W, 3), dtype=np.uint8)] * 9,
                [rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)] * 9, cfg=AnimateConfig(width=W, height=H, steps=2, segment_frames=5))
    assert v.shape == (9, H, W, 3)
    k = train_appearance(clips, tiny_model, tmp_path / "k", cfg=_cfg("kinematic", 1, device="cuda"))
    a = train_appearance(clips, tiny_model, tmp_path / "a", cfg=_cfg("aesthetic", 1, device="cuda"), init=tmp_path / "k")
    assert np.isfinite(k["last_loss"]) and np.isfinite(a["last_loss"])


def test_mace_dance_archive_loads_lora_and_adapter(tiny_model: Path, tmp_path: Path) -> None:
    """MACE-Dance's ``Expert-Apprearance.7z`` layout (``models/train/{LoRA,Adapter}.safetensors``, DiffSynth names: the
    LoRA with peft's ``.default``, the adapter under ``pipe.animate_adapter.`` beside face-module tensors) is read
    directly: the LoRA fused as DiffSynth fuses it (W + 0.5·B·A), only ``pose_patch_embedding`` taken from the adapter."""
    import torch
    from safetensors.torch import save_file

    from macedance.appearance.pipeline import apply_lora, load_adapter, load_pipeline
    from macedance.errors import DataFormatError

    py7zr = pytest.importorskip("py7zr")
    p = load_pipeline(tiny_model)
    tr = p.transformer
    g = torch.Generator().manual_seed(0)
    w = tr.blocks[1].attn2.to_v.weight.detach().clone()
    A, B = torch.randn(4, w.shape[1], generator=g), torch.randn(w.shape[0], 4, generator=g)
    pose = {k: torch.randn(v.shape, generator=g) for k, v in tr.pose_patch_embedding.state_dict().items()}
    train = tmp_path / "models" / "train"
    train.mkdir(parents=True)
    save_file({"blocks.1.cross_attn.v.lora_A.default.weight": A, "blocks.1.cross_attn.v.lora_B.default.weight": B},
              str(train / "LoRA.safetensors"))
    save_file({**{f"pipe.animate_adapter.pose_patch_embedding.{k}": v for k, v in pose.items()},
               "pipe.animate_adapter.face_encoder.padding_tokens": torch.zeros(1, 1, 1, 24)}, str(train / "Adapter.safetensors"))
    arc = tmp_path / "Expert-Apprearance.7z"
    with py7zr.SevenZipFile(arc, "w") as z:
        z.writeall(tmp_path / "models", "models")
    apply_lora(p, arc, 0.5)
    load_adapter(p, arc)
    torch.testing.assert_close(tr.blocks[1].attn2.to_v.weight.detach(), w + 0.5 * torch.mm(B, A), rtol=0, atol=0)  # DiffSynth's ops
    for k, v in tr.pose_patch_embedding.state_dict().items():
        assert torch.equal(v, pose[k])
    save_file({"blocks.1.cross_attn.v.lora_A.weight": A[:, :3].contiguous(), "blocks.1.cross_attn.v.lora_B.weight": B}, str(train / "LoRA.safetensors"))
    with pytest.raises(DataFormatError, match=r"mis-shaped \(1\): blocks.1.cross_attn.v B\(24, 4\)·A\(4, 3\)"):
        apply_lora(p, train / "LoRA.safetensors", 0.5)
