"""Clip-video encoding: libx264's default slice threads (macedance ≤ 1093ac1) against the pinned settings of
``macedance.io.video.write_video`` (4 frame threads, x264 cpu-independent), side by side in one run: time per
frame and whether repeated encodes of the same frames give the same bytes.

    python benchmarks/bench_encode.py [--seconds 10] [--size 1280x720] [--repeat 5]

The source is a generated dance video (``write_dance_video``) of the given size at 30 fps.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import av

    import macedance.io.video as vio
    from macedance.datasets.synthetic_video import ShotSpec, write_dance_video

    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-encode-"))
    src = tmp / "src.mp4"
    write_dance_video(src, [ShotSpec(args.seconds, bpm=110)], fps=30.0, size=(w, h), seed=0, audio=False)
    frames = int(round(args.seconds * 30))
    results = {}
    for name in ("legacy: default slice threads", "pinned: 4 frame threads, cpu-independent"):
        hashes, times = set(), []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            if name.startswith("legacy"):
                out = _legacy_clip(src, tmp / "out.mp4", frames)
            else:
                out = vio.write_clip(src, tmp / "out.mp4", start=0, end=frames, fps=30.0)
            times.append(time.perf_counter() - t0)
            c = av.open(str(out))
            hashes.add(hashlib.sha256(b"".join(bytes(p) for p in c.demux(c.streams.video[0]) if p.size)).hexdigest()[:12])
            c.close()
        results[name] = (min(times) / frames * 1e3, len(hashes))
    print(f"{args.seconds:g} s of {w}×{h} at 30 fps, {args.repeat} encodes each")
    print(f"{'settings':<45} {'ms/frame':>9} {'distinct bitstreams':>20}")
    for name, (ms, n) in results.items():
        print(f"{name:<45} {ms:>9.2f} {n:>20}")
    legacy_ms, pinned_ms = results["legacy: default slice threads"][0], results["pinned: 4 frame threads, cpu-independent"][0]
    print(f"speed ratio legacy/pinned: {legacy_ms / pinned_ms:.2f}×")


def _legacy_clip(src: Path, out: Path, frames: int) -> Path:
    """write_clip with libx264's defaults of ≤ 1093ac1 (slice threads, count from the CPU count)."""
    import fractions

    import av

    from macedance.io.video import iter_av_frames

    with av.open(str(out), "w", format="mp4") as container:
        stream = None
        for n, frame in enumerate(iter_av_frames(src, 0, frames)):
            if stream is None:
                stream = container.add_stream("libx264", rate=fractions.Fraction(30))
                stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuv420p"
                stream.options = {"crf": "20", "preset": "veryfast"}
            frame.pict_type = 0
            frame.pts, frame.time_base = n, fractions.Fraction(1, 30)
            for pkt in stream.encode(frame):
                container.mux(pkt)
        for pkt in stream.encode():
            container.mux(pkt)
    return out


if __name__ == "__main__":
    main()
