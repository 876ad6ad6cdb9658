"""``macedance eval``: motion and video metrics of generated dance against ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from macedance.cli import user_errors
from macedance.cli._ui import body_model, body_skeleton, console, err_console, motion_result_table, progress_bar
from macedance.metrics.spec import known_metric, metric_spec

app = typer.Typer(help="Evaluate generated dance against ground truth.", no_args_is_help=True)


@app.command("motion")
def eval_motion_cmd(
    pred: Annotated[Path, typer.Option(help="Folder of generated sequences, in any layout that --format names (a method's own output files).")],
    gt: Annotated[Path, typer.Option(help="Folder of ground-truth sequences (the reference distribution), any layout as --pred.")],
    preset: Annotated[str, typer.Option(help="Metric preset: clean, bailando-aistpp, fact-aistpp, edge-aistpp, lodge-finedance, mace-video2d.")] = "clean",
    music: Annotated[Optional[Path], typer.Option(help="Folder of music beat files (.npy/.npz/.txt beat times in s; audio for mace-video2d), paired by stem.")] = None,
    fps: Annotated[Optional[float], typer.Option(help="Frame rate of plain joint/keypoint arrays; for method outputs that store none, "
                                                 "overrides the method's documented rate (EDGE/FineDance 30, AIST++/FACT 60).")] = None,
    up_axis: Annotated[Optional[str], typer.Option("--up-axis", help="Up axis of plain joint arrays: y or z; for method outputs, "
                                                   "overrides the documented one (EDGE z, others y).")] = None,
    motion_format: Annotated[str, typer.Option("--format", help="Layout of 3D files: auto (detected per file from suffix, keys and shape), "
                                               "macedance, edge (EDGE/MACE-Dance/POPDG .pkl), finedance (FineDance/LODGE .npy T×135|139|315|319), "
                                               "finedance-pkl, aistpp (AIST++/Bailando++ .pkl), fact (FACT .npy T×225), smplx (AMASS/SMPL-X .npz), "
                                               "bailando (Bailando's NAME.pkl.npy joint positions), joints (plain positions).")] = "auto",
    smpl_model: Annotated[Optional[Path], typer.Option(help="Your SMPL model for FK of motion .npz files (default: $MACEDANCE_SMPL_DIR, else the built-in skeleton).")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the result record (with provenance) as JSON.")] = None,
    executor: Annotated[str, typer.Option(help="local (threads) or ray (files fanned out as Ray tasks, states merged).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (auto, ray://host:10001); default: a local Ray instance.")] = None,
) -> None:
    """Compute FID_k, FID_g, Div_k, Div_g, BAS, PFC, FSR (as the preset defines) and print a table.

    Reads macedance motion and joints3d .npz files, the native outputs of EDGE, MACE-Dance, POPDG, FineDance, LODGE,
    Bailando, Bailando++ and FACT, AIST++ and SMPL-X files (detected, or --format), plain joint arrays (T×J×3 or T×3J
    in .npy/.npz/.csv with --fps and --up-axis) or, for mace-video2d, keypoint files (.json as written by
    easy_ViTPose, keypoints2d .npz). Sequences that cannot be evaluated are listed with the reason.
    """
    from macedance.fileio import write_json
    from macedance.metrics.motion.evaluate import evaluate_motion_dirs
    from macedance.metrics.motion.presets import get_preset
    from macedance.schema._check import choice

    with user_errors():
        p = get_preset(preset)
        if up_axis is not None:
            choice("--up-axis", up_axis, ("y", "z"))
        model = body_model(smpl_model)
        skel = None if model is None else body_skeleton(model, "neutral")
        with progress_bar(f"eval {p.name}") as progress:
            result = evaluate_motion_dirs(pred, gt, preset=p, music=music, fps=fps, up_axis=up_axis, skeleton=skel, progress=progress, executor=executor, address=address,
                                          motion_format=motion_format)
        if json_out:
            write_json(json_out, result, strict=True)
    console.print(motion_result_table(result))
    for w in result["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    for s in result["inputs"]["skipped"]:
        err_console.print(f"[yellow]skipped[/yellow] {s['file']} ({s['set']}): {s['reason']}", highlight=False)
    pool = result["inputs"]["gt_pool"]
    for s in pool["left_out"]:
        err_console.print(f"[yellow]left out[/yellow] {s['file']} ({s['set']}): {s['reason']}", highlight=False)
    err_console.print(f"GT pool: {len(pool['gt_used'])} file(s) ({pool['rule']})", highlight=False)
    undefined = [(k, v["undefined_reason"]) for k, v in result["scores"].items() if v["value"] is None]
    for k, reason in undefined:
        err_console.print(f"[yellow]{k} undefined:[/yellow] {reason}", highlight=False)


@app.command("video")
def eval_video_cmd(
    pred: Annotated[Path, typer.Option(help="Folder of generated videos.")],
    gt: Annotated[Path, typer.Option(help="Folder of ground-truth videos (frame metrics pair files by stem).")],
    ref: Annotated[Optional[Path], typer.Option(help="Folder of reference images (or videos: first frame) by stem, for identity.")] = None,
    music: Annotated[Optional[Path], typer.Option(help="Folder of music by stem for motion-2d's BAS (default: the ground-truth videos' audio).")] = None,
    pose_backend: Annotated[str, typer.Option(help="2D pose backend of motion-2d: mediapipe (offline), vitpose (easy_ViTPose ViTPose-S COCO-25, the official "
                                                          "Evaluation-Motion network: `macedance weights import vitpose-s-coco25 FILE`) or rtmlib (--pose-weights).")] = "mediapipe",
    pose_weights: Annotated[Optional[Path], typer.Option(help="ONNX pose model for --pose-backend rtmlib; for vitpose, a vitpose-s-coco_25.pth (default: the imported one).")] = None,
    metrics: Annotated[str, typer.Option(help="Comma list of fvd, cd-fvd (VideoMAE-v2, user-imported), fid (frames; user-imported Inception), fid-vid (DisCo, user-imported 3D-ResNet-50), identity (needs --ref; dlib, offline), identity-arcface (needs --ref and an imported ArcFace ONNX), VBench no-reference metrics of the generated videos with the ground truth's value beside them: subject-consistency (DINO), background-consistency (CLIP), motion-smoothness (AMT-S), temporal-flickering; motion-2d (FID_k/FID_g/Div/BAS on estimated 2D keypoints, mace-video2d preset), ssim, psnr, l1, lpips (alex; vgg under disco-legacy), lpips-alex, lpips-vgg.")] = "fvd,ssim,psnr,l1,lpips",
    preset: Annotated[str, typer.Option(help="clean, or disco-legacy (DisCo's grayscale SSIM, uint8-overflow PSNR, LPIPS-VGG on [0, 1]).")] = "clean",
    fvd_preset: Annotated[str, typer.Option(help="stylegan-v (bilinear) or disco (bicubic) resizing to 224.")] = "stylegan-v",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the result record as JSON.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    executor: Annotated[str, typer.Option(help="local, or ray (per-video results computed by Ray tasks into the shared cache, then scored).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (auto, ray://host:10001); default: a local Ray instance.")] = None,
    task_gpus: Annotated[float, typer.Option(min=0.0, help="Ray: GPUs requested per shard task (use with --device cuda).")] = 0.0,
) -> None:
    """Video metrics: FVD (I3D) and LPIPS from offline weights; SSIM, PSNR and L1; cd-FVD, FID, FID-VID, identity and VBench
    consistency with imported weights; motion on 2D keypoints."""
    from macedance.fileio import write_json
    from macedance.metrics.video.evaluate import evaluate_videos

    with user_errors():
        with progress_bar("eval video") as progress:
            result = evaluate_videos(pred, gt, metrics=tuple(m.strip() for m in metrics.split(",") if m.strip()), preset=preset,
                                     fvd_preset=fvd_preset, device=device, progress=progress, ref=ref, music=music, pose_backend=pose_backend, pose_weights=pose_weights, executor=executor, address=address,
                                     task_gpus=task_gpus)
        if json_out:
            write_json(json_out, result, strict=True)
    table = Table(title=f"Video metrics ({preset})", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("metric", "value", "n", "ground truth"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for k, s in result["scores"].items():
        gt_value = s.get("details", {}).get("gt_value")
        table.add_row(metric_spec(k).heading(unit=True) if known_metric(k) else k, "undefined" if s["value"] is None else f"{s['value']:.4g}", str(s.get("n", "")),
                      "" if gt_value is None else f"{gt_value:.4g}")
    console.print(table)
    for w in result["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    for k, s in result["scores"].items():
        if s["value"] is None:
            err_console.print(f"[yellow]{k} undefined:[/yellow] {s['undefined_reason']}", highlight=False)
