"""``macedance data render`` over a whole folder: every source motion (in this process, worker processes or
Ray tasks), then the manifest, splits (the imported official ones when every source has one), card and
report (see the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from macedance import __version__
from macedance.datasets.curation.finalize import finalize
from macedance.datasets.curation.kind import CardText, DatasetKind
from macedance.datasets.curation.outcome import SourceOutcome
from macedance.datasets.curation.runner import BuildProgress, BuildReport, RayOptions, run_sources, worker_threads
from macedance.datasets.curation.state import check_state, pending_sources
from macedance.datasets.from_motion.clips import render_source
from macedance.datasets.from_motion.params import RENDER_VERSION, RenderParams
from macedance.datasets.from_motion.sources import find_motions, index_music
from macedance.errors import MaceDanceError
from macedance.fileio import write_json
from macedance.folder_lock import folder_lock

OUTPUT_DIRS = ("motions", "keypoints", "music", "audio", "reference", "videos", "splits", "stats", ".build")
OUTPUT_FILES = ("manifest.parquet", "clips.jsonl", "README.md", "render_report.json")
RENDER = DatasetKind(RENDER_VERSION, OUTPUT_DIRS, OUTPUT_FILES, CardText(
    intro="Rendered by `macedance data render`, the 3D-rendered subset of MA-Data: imported SMPL motions drawn on a 3D "
          "character from a fixed front camera, the matching music muxed in, cut into seeded 5–10 s windows "
          "(`videos/<clip>.mp4`). The ground truth of every clip is exact: `motions/` (the rendered motion), "
          "`keypoints/` (its projected SMPL-24 joints, `smpl24`), `music/`, `audio/`, `reference/`.",
    source="source motions", by="source motion", genres="from the motion's metadata or its first sub-folder",
    program="Renderer",
    motion="Motion: SMPL-24 axis-angle + root translation in metres, y-up, in the world convention of `data build` (the "
           "camera is level and looks along −z; pelvis of the clip's first frame at x = z = 0, lowest foot joint at y = 0); "
           "each motion's `meta` holds the camera (`camera`, `macedance.motion.camera.PinholeCamera.to_dict()`), the yaw and offset "
           "applied to the source motion, the character and the skeleton. See docs/data-render.md in macedance.",
))


def _work(path: str, rel: str, out: str, params: RenderParams, genre: str | None, music_index: dict[str, list[str]],
          frames_q: Any) -> SourceOutcome:
    """One source in a worker process (the character is built once per process)."""
    report = (lambda n: frames_q.put(n)) if frames_q is not None else None
    return render_source(Path(path), rel, Path(out), params, genre, music_index, report)


def _frames_hint(path: Path, fps: float) -> int:
    try:
        from macedance.schema import load_motion

        m = load_motion(path)
        return int(m.duration * fps)
    except MaceDanceError:
        return 0


def render_dataset(motion_dir: str | Path, out: str | Path, *, params: RenderParams | None = None, music_dir: str | Path | None = None,
                   workers: int = 1, resume: bool = False, overwrite: bool = False,
                   progress: Callable[[BuildProgress], None] | None = None, command: str | None = None,
                   executor: str = "local", address: str | None = None, task_cpus: int = 1, task_gpus: float = 0.0) -> BuildReport:
    """Render every motion below ``motion_dir`` into a dataset in ``out`` (see the package docstring).

    Args:
        music_dir: folder of music files matched to the motions (see :func:`~macedance.datasets.from_motion.sources.match_music`).
        workers: processes rendering sources in parallel (1 = in this process).
        resume: finish an interrupted run in ``out`` (same parameters required).
        overwrite: delete a previous run's outputs in ``out`` first.
        progress: called after every 16 rendered frames and every finished source.
        command: the command line, recorded in the card.
        executor, address, task_cpus, task_gpus: ``ray`` runs every source as a Ray task on the cluster at
            ``address`` with these resources (as :func:`~macedance.datasets.from_video.build_dataset`;
            docs/scaling.md).
    """
    ray = RayOptions.of(executor, address, task_cpus, task_gpus)
    t0 = time.perf_counter()
    params = params or RenderParams()
    out = Path(out)
    _, sources = find_motions(motion_dir)
    music_index = index_music(music_dir)
    with folder_lock(out, command=command):  # one job per output folder; check_state removes a killed run's temp files
        check_state(out, params, resume=resume, overwrite=overwrite, kind=RENDER)
        done, todo = pending_sources(out, sources)
        report = BuildReport(str(out), videos=len(sources), videos_resumed=len(done))
        run_sources(out, todo, done=done, report=report, hints={rel: _frames_hint(p, params.fps) for p, rel, _ in todo}, progress=progress,
                    run_local=lambda p, rel, g, frames: render_source(p, rel, out, params, g, music_index, frames), worker=_work,
                    worker_args=lambda p, rel, g: (str(p), rel, str(out), params, g, music_index), workers=workers,
                    threads=worker_threads(workers, ray), ray=ray)
        outcomes = [done[rel] for _, rel, _ in sources if rel in done]
        with_clips = [o for o in outcomes if o.clips]
        official = {o.sha256: o.split for o in with_clips if o.split}
        fixed = official if with_clips and len(official) == len(with_clips) else None
        name = Path(motion_dir).name + " (rendered)"
        finalize(out, name, sources=sources, done=done, params=params, report=report, command=command, kind=RENDER, fixed_splits=fixed)
        report.seconds = time.perf_counter() - t0
        write_json(out / "render_report.json", {**report.to_dict(), "macedance": __version__, "params": params.to_dict(), "command": command,
                                                "music_dir": str(music_dir) if music_dir else None, "splits_from": "imported official splits" if fixed else "seeded assignment by source motion"})
        return report
