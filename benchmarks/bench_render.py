"""``macedance data render`` throughput: frames per second of the 3D renderer at 720×1280.

Renders a generated dance (default 10 s at 30 fps) with the capsule character — and the user's SMPL
mesh with ``--smpl-model`` — and prints, per character and device:

* ``render``: rasterise + shade + copy to host (frames/s), the renderer alone;
* ``render+encode``: the whole clip written as ``data render`` writes it (renderer in a background
  thread, H.264 encoding of the frames, no audio), frames/s;

with wall and CPU seconds (the CPU time shows the cost when the cores are shared), the triangle
count and the share of covered pixels.

    .venv/bin/python benchmarks/bench_render.py [--seconds 10] [--size 720x1280] [--device cpu|cuda] [--batch 1]
        [--threads 1] [--smpl-model DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", default="720x1280")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=None, help="frames rasterised together (default 1 on CPU, 8 on CUDA)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads of the renderer")
    ap.add_argument("--smpl-model", default=None)
    a = ap.parse_args()
    import torch

    from macedance.datasets.from_motion.clips import face_camera, in_thread
    from macedance.datasets.synthetic import synthetic_motion
    from macedance.io.video import write_video
    from macedance.render.character import capsule_character, smpl_character
    from macedance.render.scene import Look, Renderer, frame_camera

    w, h = (int(v) for v in a.size.split("x"))
    batch = a.batch or (8 if a.device.startswith("cuda") else 1)
    motion = synthetic_motion(seconds=a.seconds, fps=a.fps, seed=0)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"torch {torch.__version__}, device {a.device}" + (f" ({torch.cuda.get_device_name(0)})" if a.device.startswith("cuda") else ""))
    characters = [("capsule", capsule_character())]
    if a.smpl_model:
        characters.append(("smpl", smpl_character(a.smpl_model)))
    print(f"{motion.num_frames} frames at {w}×{h}, batch {batch}, renderer threads {a.threads}")
    print(f"{'character':<10} {'faces':>6} {'covered':>8} {'stage':<14} {'wall s':>7} {'cpu s':>7} {'frames/s':>9} {'cpu ms/frame':>13}")
    for name, body in characters:
        r = Renderer(body, (w, h), a.device, batch, threads=a.threads)
        poses, trans, _, _ = face_camera(motion.poses, motion.trans, body.rest)
        verts, normals, joints = r.pose(poses, trans)
        camera = frame_camera(verts.reshape(-1, 3).cpu().numpy(), (w, h))
        list(r.render(verts[:2], normals[:2], joints[:2], camera, Look()))  # warm-up
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()
        t, c = time.perf_counter(), time.process_time()
        n = sum(1 for _ in r.render(verts, normals, joints, camera, Look()))  # frames are not kept
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        from macedance.render.raster import rasterize

        covered = len(rasterize(camera.project(verts[:1]), camera.cam_z - verts[:1, :, 2], r.faces, (w, h)).pixel) / (w * h)
        print(f"{name:<10} {len(body.faces):>6} {covered:>8.1%} {'render':<14} {wall:>7.2f} {cpu:>7.2f} {n / wall:>9.1f} {1000 * cpu / n:>13.1f}")
        with tempfile.TemporaryDirectory() as tmp:
            t, c = time.perf_counter(), time.process_time()
            write_video(Path(tmp) / "clip.mp4", in_thread(r.render(verts, normals, joints, camera, Look())), a.fps)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
        print(f"{name:<10} {len(body.faces):>6} {covered:>8.1%} {'render+encode':<14} {wall:>7.2f} {cpu:>7.2f} {n / wall:>9.1f} {1000 * cpu / n:>13.1f}")
        del verts, normals, joints


if __name__ == "__main__":
    main()
