"""``macedance data build`` throughput: real-time factor and frames/s per stage on 720p 30 fps input.

Generates one raw dance video (default 60 s, 1280×720, 30 fps, H.264 + AAC drum track; a cartoon
dancer that MediaPipe tracks in every frame, with a cut every 12 s), then builds it with the default
backend into a fresh output folder and an empty cache (nothing reused), and prints per stage the
seconds and the source frames per second, and the real-time factor (video seconds / build seconds;
target ≥ 1 on 2 CPU cores). ``--workers 2 --videos 2`` measures the process-parallel speed-up on two
videos side by side with one worker. ``--compare-clip-videos`` builds the same input a second time with
``--no-videos`` (no ``videos/<clip>.mp4``) and prints what writing the clip videos costs.

    .venv/bin/python benchmarks/bench_data_build.py [--seconds 60] [--size 1280x720] [--videos 1] [--workers 1] [--compare-clip-videos]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from _timing import share_installed_weights


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--videos", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="also run with this many workers when > 1")
    ap.add_argument("--compare-clip-videos", action="store_true", help="also build without videos/<clip>.mp4")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["MACEDANCE_CACHE_DIR"] = str(tmp / "cache")
        from macedance.datasets.from_video import BuildParams, build_dataset
        from macedance.datasets.synthetic_video import ShotSpec, write_dance_video

        raw = tmp / "raw"
        raw.mkdir()
        t0 = time.perf_counter()
        n_shots = max(1, round(a.seconds / 12))
        for v in range(a.videos):
            write_dance_video(raw / f"dance{v}.mp4", [ShotSpec(a.seconds / n_shots, bpm=96 + 8 * k) for k in range(n_shots)],
                              fps=a.fps, size=(w, h), seed=v)
        print(f"generated {a.videos} × {a.seconds:g} s {w}×{h} @ {a.fps:g} fps in {time.perf_counter() - t0:.1f} s")
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        runs = [(1, True)] + ([(a.workers, True)] if a.workers > 1 else []) + ([(1, False)] if a.compare_clip_videos else [])
        totals, exports = {}, {}
        for workers, clip_videos in runs:
            share_installed_weights(tmp / f"cache-{workers}-{clip_videos}")  # TransNet V2, the default cut detector
            os.environ["MACEDANCE_CACHE_DIR"] = str(tmp / f"cache-{workers}-{clip_videos}")
            t0 = time.perf_counter()
            rep = build_dataset(raw, tmp / f"out-{workers}-{clip_videos}", params=BuildParams(videos=clip_videos), workers=workers)
            wall = time.perf_counter() - t0
            totals[workers, clip_videos] = wall
            exports[clip_videos] = rep.stage_seconds.get("export", 0.0)
            video_s = a.videos * a.seconds
            print(f"\nworkers={workers}, clip videos {'on' if clip_videos else 'off'}: {rep.clips} clips kept of {rep.candidates} candidates; wall {wall:.1f} s; "
                  f"real-time factor {video_s / wall:.2f}× ({rep.frames_processed / wall:.1f} source frames/s)")
            print(f"{'stage':<8} {'seconds':>8} {'frames/s':>9}")
            for stage, sec in sorted(rep.stage_seconds.items(), key=lambda kv: -kv[1]):
                print(f"{stage:<8} {sec:8.1f} {rep.frames_processed / max(sec, 1e-9):9.0f}")
        if a.workers > 1:
            print(f"\nspeed-up {a.workers} workers vs 1: {totals[1, True] / totals[a.workers, True]:.2f}×")
        if a.compare_clip_videos:
            extra = exports[True] - exports[False]
            print(f"\nclip videos: export stage {exports[True]:.1f} s vs {exports[False]:.1f} s without (+{extra:.1f} s = "
                  f"{extra / (a.videos * a.seconds):.3f} s per second of video); wall {totals[1, True]:.1f} s vs {totals[1, False]:.1f} s")


if __name__ == "__main__":
    main()
