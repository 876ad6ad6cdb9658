"""Speed of ``data export`` and of the training loader, beside copying the dataset's files.

Builds a dataset from generated dance videos (``data build``, histogram cuts, 640×360 at 30 fps; or takes
``--dataset DIR``), copies every clip ``--replicate`` times under new ids, then times side by side in one run: ``shutil.copytree`` of the dataset (the floor: every
byte read and written once), ``data export --format hf`` and ``--format webdataset`` (each including the
Croissant validation), and ``MotionMusicWindows`` (rot6d, 120-frame windows) over the folder and both exports.
Prints seconds, MB/s and the ratio to the copy. Numbers go to benchmarks/RESULTS.md "Dataset export".

    .venv/bin/python benchmarks/bench_export.py [--dataset DIR] [--videos 8] [--seconds 12] [--replicate 25]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _build(root: Path, videos: int, seconds: float) -> Path:
    from macedance.datasets.from_video import BuildParams, build_dataset
    from macedance.datasets.from_video.shots import ShotParams
    from macedance.datasets.synthetic_video import ShotSpec, write_dance_video

    raw = root / "raw"
    for i in range(videos):
        genre = raw / ("jazz", "popping", "house")[i % 3]
        genre.mkdir(parents=True, exist_ok=True)
        write_dance_video(genre / f"v{i}.mp4", [ShotSpec(seconds, bpm=90 + 5 * i)], fps=30.0, size=(640, 360), seed=i)
    build_dataset(raw, root / "data", params=BuildParams(shots=ShotParams(detector="histogram")), command="bench_export", workers=2)
    return root / "data"


def _replicate(data: Path, out: Path, times: int) -> Path:
    """``data`` with every clip copied ``times`` times under new ids (files, clips.jsonl, manifest rows): a dataset
    large enough that the exports' fixed costs (Croissant validation, the datasets builder) do not dominate."""
    import dataclasses
    import json

    from macedance.datasets.curation.manifest import read_manifest, write_manifest
    from macedance.datasets.curation.outcome import ManifestRow
    from macedance.schema.clip import PATH_FIELDS

    shutil.copytree(data, out)
    clips = [json.loads(line) for line in (data / "clips.jsonl").read_text().splitlines() if line.strip()]
    rows = {r["candidate_id"]: ManifestRow.from_dict(r) for r in read_manifest(data / "manifest.parquet")}
    lines, new_rows = [], list(rows.values())
    for k in range(1, times):
        for c in clips:
            cid = f"{c['id']}-r{k}"
            copy = {**c, "id": cid}
            for f in PATH_FIELDS:
                if c.get(f):
                    rel = Path(c[f]).with_name(cid + Path(c[f]).suffix)
                    shutil.copyfile(data / c[f], out / rel)
                    copy[f] = str(rel)
            lines.append(json.dumps(copy))
            new_rows.append(dataclasses.replace(rows[c["id"]], candidate_id=cid, motion_path=copy.get("motion_path")))
    with open(out / "clips.jsonl", "a") as f:
        f.write("".join(line + "\n" for line in lines))
    write_manifest(out / "manifest.parquet", new_rows)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", type=Path, help="an existing dataset folder (default: build one from generated videos)")
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--replicate", type=int, default=25, help="copies of every clip (new ids) in the timed dataset")
    args = ap.parse_args()
    from macedance.datasets.loader import MotionMusicWindows
    from macedance.datasets.publish.export import export_dataset

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ.setdefault("MACEDANCE_CACHE_DIR", str(work / "cache"))
        data = _replicate(args.dataset or _build(work, args.videos, args.seconds), work / "timed", args.replicate)
        n_clips = len((data / "clips.jsonl").read_text().splitlines())
        mb = _size(data) / 1e6
        rows = []

        def timed(label: str, fn) -> float:
            t = time.perf_counter()
            fn()
            s = time.perf_counter() - t
            rows.append((label, s))
            return s

        base = timed("copytree (floor)", lambda: shutil.copytree(data, work / "copy"))
        timed("export hf", lambda: export_dataset(data, work / "hf", format="hf"))
        timed("export webdataset", lambda: export_dataset(data, work / "wds", format="webdataset"))
        for label, src in (("loader: folder", data), ("loader: hf", work / "hf"), ("loader: webdataset", work / "wds")):
            timed(label, lambda src=src: MotionMusicWindows(src, split=None, representation="rot6d", window=120, stride=60))
        print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; dataset {data}: {n_clips} clips, {mb:.1f} MB")
        print(f"{'':24s} {'seconds':>8s} {'MB/s':>8s} {'× copy':>8s}")
        for label, s in rows:
            print(f"{label:24s} {s:8.2f} {mb / s:8.1f} {s / base:8.1f}")


if __name__ == "__main__":
    main()
