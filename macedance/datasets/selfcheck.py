"""``macedance data selfcheck``: render known motions, rebuild them with ``data build``, measure.

1. **Source**: the given motions and music, or generated ones — procedural dances
   (:func:`~macedance.datasets.synthetic.synthetic_motion`) with drum tracks whose beat times are
   known exactly (:mod:`macedance.music.synth`).
2. **Render** them with ``data render`` (:mod:`macedance.datasets.from_motion`) into clips whose ground
   truth is exact: the motion, its projected SMPL joints, the music.
3. **Build** a dataset from the rendered ``videos/`` with ``data build``, as if they were raw videos.
4. **Compare** each built clip with the rendered clip it came from (the builder's windows lie inside
   the rendered clips, frames counted from the rendered clip's start):

   * detection rate — frames in which the pose backend finds a person, over every built clip
     candidate (kept or rejected after the pose stage);
   * 2D keypoint error (px) — the builder's keypoints mapped to SMPL joints
     (:func:`macedance.pose.mapping.smpl_correspondences`, non-derived rows, confidence ≥ 0.5)
     against the projected ground-truth joints; skin landmarks vs joint centres make part of it;
   * MPJPE and PA-MPJPE (mm, :mod:`macedance.pose.metrics`) of the fitted SMPL joints against the
     ground-truth joints (both by FK, each on its own rest skeleton), and the world MPJPE: the builder
     writes its motions in a world whose pelvis of the clip's first frame is at x = z = 0 and whose
     lowest foot joint is at y = 0, with the level camera looking along −z; the rendered ground truth is
     stored in the same convention relative to the rendered clip's first frame, so it is translated
     again for the built window (:func:`macedance.motion.camera.world_offset`) and then compared without
     any further alignment: the world MPJPE includes the depth and trajectory errors of the fit;
   * beat-time error (ms) — every true beat inside a built clip against the nearest beat of the
     clip's ``music/*.npz`` (after AAC encoding, decoding and cutting): median and mean absolute,
     mean signed (a systematic delay shows here), and the F-measure at ±70 ms. True beats are the
     generated ones; for user music, those the ``clean`` preset finds in the source file.

The report is ``selfcheck.json`` and ``selfcheck.md`` in the output folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.datasets.from_motion import RenderParams
from macedance.datasets.from_video.params import BuildParams
from macedance.datasets.from_video.shots import ShotParams
from macedance.errors import MaceDanceError

log = logging.getLogger(__name__)

BEAT_TOLERANCE = 0.07  # seconds, F-measure window


@dataclass(frozen=True)
class SelfCheckParams:
    """What the self-check renders and how it builds.

    Attributes:
        sequences: generated motions (when no motion folder is given).
        seconds: length of each generated motion.
        bpms: tempi of the generated dances and drum tracks (cycled over the sequences).
        seed: seed of the generated motions.
        render: ``data render`` parameters.
        build: ``data build`` parameters.
    """

    sequences: int = 4
    seconds: float = 12.0
    bpms: tuple[float, ...] = (96.0, 110.0, 120.0, 128.0)
    seed: int = 0
    render: RenderParams = field(default_factory=RenderParams)
    build: BuildParams = field(default_factory=lambda: BuildParams(shots=ShotParams(detector="histogram")))  # rendered clips: no cuts

    def to_dict(self) -> dict[str, Any]:
        return {"sequences": self.sequences, "seconds": self.seconds, "bpms": list(self.bpms), "seed": self.seed,
                "render": self.render.to_dict(), "build": self.build.to_dict()}


def generate_sources(folder: Path, params: SelfCheckParams) -> dict[str, list[float]]:
    """Write generated motions (``motions/*.npz``, 30 fps) and drum tracks (``music/*.wav``) into
    ``folder``; return the true beat times (s) of each track by stem."""
    import soundfile as sf

    from macedance.datasets.synthetic import synthetic_motion
    from macedance.fileio import atomic_write
    from macedance.music.synth import beat_times, drum_track

    beats = {}
    for i in range(params.sequences):
        bpm = float(params.bpms[i % len(params.bpms)])
        stem = f"selfcheck{i:02d}_{bpm:g}bpm"
        synthetic_motion(seconds=params.seconds, fps=30.0, bpm=bpm, seed=params.seed + i).save(folder / "motions" / f"{stem}.npz")
        t = beat_times(bpm, params.seconds, start=0.25)
        with atomic_write(folder / "music" / f"{stem}.wav") as f:
            sf.write(f, drum_track(t, params.seconds, sr=22050, seed=params.seed + i), 22050, format="WAV", subtype="PCM_16")
        beats[stem] = t.tolist()
    return beats


def _true_beats(music_file: Path, cache: dict[str, np.ndarray]) -> np.ndarray:
    """Beat times of a user's source track under the clean preset (the reference when no beats are known)."""
    if music_file.stem not in cache:
        from macedance.music.analysis import analyze_file
        from macedance.music.presets import get_music_preset

        cache[music_file.stem] = analyze_file(music_file, get_music_preset("clean"))[0].beat_times
    return cache[music_file.stem]


def run_selfcheck(out: str | Path, *, params: SelfCheckParams | None = None, motions: str | Path | None = None,
                  music: str | Path | None = None, workers: int = 1,
                  progress: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
    """Render → build → compare (see the module docstring); writes ``selfcheck.json`` and ``selfcheck.md``.

    Args:
        out: working folder (``source/``, ``rendered/``, ``built/`` and the report); previous
            results in it are replaced.
        motions, music: a motion folder and its music folder (``data render``'s rules); default: generated.
        workers: processes for rendering and building.
        progress: called as ``progress(stage, BuildProgress)`` by both runs.
    """
    from macedance.datasets.from_motion import render_dataset
    from macedance.datasets.from_video import build_dataset
    from macedance.fileio import atomic_write, write_json

    params = params or SelfCheckParams()
    out = Path(out)
    t0 = time.perf_counter()
    known: dict[str, list[float]] = {}
    if motions is None:
        src = out / "source"
        known = generate_sources(src, params)
        motions, music = src, src / "music"
    rendered, built = out / "rendered", out / "built"
    timing = {}
    t = time.perf_counter()
    r_rep = render_dataset(motions, rendered, params=params.render, music_dir=music, workers=workers, overwrite=True, command="macedance data selfcheck (render)",
                           progress=(lambda p: progress("render", p)) if progress else None)
    timing["render_s"] = time.perf_counter() - t
    if r_rep.clips == 0:
        raise MaceDanceError(f"{rendered}: the render kept no clip ({r_rep.rejected}); nothing to check")
    t = time.perf_counter()
    b_rep = build_dataset(rendered / "videos", built, params=params.build, workers=workers, overwrite=True, command="macedance data selfcheck (build)",
                          progress=(lambda p: progress("build", p)) if progress else None)
    timing["build_s"] = time.perf_counter() - t
    report = compare(rendered, built, params, known)
    timing["total_s"] = time.perf_counter() - t0
    report.update(timing=timing, render_report=r_rep.to_dict(), build_report=b_rep.to_dict())
    write_json(out / "selfcheck.json", report)
    with atomic_write(out / "selfcheck.md", "w") as f:
        f.write(markdown_report(report))
    return report


def compare(rendered: Path, built: Path, params: SelfCheckParams, known_beats: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """The self-check's numbers for a rendered dataset and the dataset built from its videos."""
    from macedance.datasets.curation.manifest import read_manifest
    from macedance.music.analysis import load_music
    from macedance.music.synth import f_measure
    from macedance.pose.mapping import derived_rows, mapped_confidence, smpl_correspondences
    from macedance.pose.metrics import mpjpe, pa_mpjpe
    from macedance.schema import Keypoints2D, load_motion

    known_beats = known_beats or {}
    r_rows = {r["candidate_id"]: r for r in read_manifest(rendered / "manifest.parquet") if r["status"] == "kept"}
    r_clips = {json.loads(line)["id"]: json.loads(line) for line in (rendered / "clips.jsonl").read_text().splitlines() if line.strip()}
    b_rows = read_manifest(built / "manifest.parquet")
    build_rest = _rest(params.build.smpl_model)
    render_rest = _render_rest(params.render)
    music_dir_cache: dict[str, np.ndarray] = {}
    frames_total = frames_detected = 0
    per_clip, kp_err, kp_joint = [], [], {}
    m_err, pa_err, w_err, beat_d, beat_s, f_scores = [], [], [], [], [], []
    codes = Counter(r["code"] for r in b_rows)
    for row in b_rows:
        if row["start_frame"] is None or row["stage"] not in ("person", "music", "fit", "kept") or row["missing_frac"] is None:
            continue
        cid = Path(row["source_video"]).stem
        a, b = int(row["start_frame"]), int(row["end_frame"])
        n = b - a
        frames_total += n
        frames_detected += int(round((1.0 - row["missing_frac"]) * n))
        rec: dict[str, Any] = {"built_clip": row["candidate_id"], "rendered_clip": cid, "frames": n, "status": row["code"],
                               "detected": 1.0 - row["missing_frac"]}
        per_clip.append(rec)
        if row["status"] != "kept" or cid not in r_rows:
            continue
        # 2D keypoints against the projected ground-truth joints
        kp = Keypoints2D.load(built / row["keypoints_path"])
        gt2d = Keypoints2D.load(rendered / r_rows[cid]["keypoints_path"]).data[a:b, :, :2]
        idx, Wm = smpl_correspondences(kp.skeleton)
        use = ~derived_rows(kp.skeleton)
        mapped = (Wm @ kp.data[..., :2])[:, use]
        conf = mapped_confidence(kp.data[..., 2], Wm)[:, use]
        err = np.linalg.norm(mapped - gt2d[:, idx[use]], axis=-1)
        ok = conf >= 0.5
        kp_err.append(err[ok])
        for k, j in enumerate(idx[use]):
            kp_joint.setdefault(int(j), []).append(err[:, k][ok[:, k]])
        height = float(np.median(gt2d[..., 1].max(-1) - gt2d[..., 1].min(-1)))
        rec.update(kp2d_px=float(err[ok].mean()), figure_height_px=height)
        # 3D: the fitted motion against the ground truth in the builder's world
        fit = load_motion(built / row["motion_path"])
        gt = load_motion(rendered / r_rows[cid]["motion_path"]).slice(a, b)
        gt = gt.resample(fit.fps) if abs(gt.fps - fit.fps) > 1e-9 else gt
        from macedance.motion.camera import world_offset

        J_gt = gt.joints(render_rest)
        J_gt = J_gt + world_offset(J_gt)
        J_fit = fit.joints(build_rest)
        T = min(len(J_gt), len(J_fit))
        m, pa = mpjpe(J_fit[:T], J_gt[:T]), pa_mpjpe(J_fit[:T], J_gt[:T])
        w = float(np.linalg.norm(J_fit[:T] - J_gt[:T], axis=-1).mean() * 1000)
        m_err.append((m, T))
        pa_err.append((pa, T))
        w_err.append((w, T))
        rec.update(mpjpe_mm=m, pa_mpjpe_mm=pa, world_mpjpe_mm=w, reproj_px=row["reproj_px"], landmark_mm=row["landmark_mm"])
        # beats
        if row["music_path"]:
            music_name = (r_clips.get(cid, {}).get("provenance") or {}).get("music_file")
            stem = Path(music_name).stem if music_name else None
            if stem in known_beats:
                truth = np.asarray(known_beats[stem])
            elif music_name:
                truth = _true_beats(_music_path(rendered, cid, music_name), music_dir_cache)
            else:
                truth = np.zeros(0)
            t0 = float(r_rows[cid]["start_s"]) + a / float(row["src_fps"])
            dur = n / float(row["src_fps"])
            true_clip = truth[(truth >= t0) & (truth < t0 + dur)] - t0
            found = np.asarray(load_music(built / row["music_path"])["beats"], dtype=np.float64)
            if len(true_clip) and len(found):
                d = found[None, :] - true_clip[:, None]
                nearest = d[np.arange(len(true_clip)), np.abs(d).argmin(1)]
                beat_d.extend(np.abs(nearest).tolist())
                beat_s.extend(nearest[np.abs(nearest) <= BEAT_TOLERANCE].tolist())
                f_scores.append(f_measure(found, true_clip, BEAT_TOLERANCE))
                rec.update(beat_median_ms=float(np.median(np.abs(nearest)) * 1000), beat_f=f_scores[-1])

    def wmean(pairs: list[tuple[float, int]]) -> float | None:
        return float(sum(v * n for v, n in pairs) / sum(n for _, n in pairs)) if pairs else None

    all_kp = np.concatenate(kp_err) if kp_err else np.zeros(0)
    from macedance.motion.skeleton import SMPL_JOINT_NAMES

    report = {
        "macedance": __version__, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "params": params.to_dict(),
        "counts": {"rendered_clips": len(r_rows), "built_candidates": len(b_rows), "built_clip_candidates": len(per_clip),
                   "built_clips_kept": int(codes.get("kept", 0)), "built_codes": dict(codes)},
        "detection_rate": frames_detected / frames_total if frames_total else None,
        "keypoints_2d_px": {"mean": float(all_kp.mean()) if all_kp.size else None, "median": float(np.median(all_kp)) if all_kp.size else None,
                            "p95": float(np.percentile(all_kp, 95)) if all_kp.size else None,
                            "per_joint": {SMPL_JOINT_NAMES[j]: float(np.concatenate(v).mean()) for j, v in sorted(kp_joint.items()) if np.concatenate(v).size},
                            "figure_height_px": float(np.median([c["figure_height_px"] for c in per_clip if "figure_height_px" in c])) if kp_err else None},
        "mpjpe_mm": wmean(m_err), "pa_mpjpe_mm": wmean(pa_err), "world_mpjpe_mm": wmean(w_err),
        "beats": {"true_beats": len(beat_d), "median_abs_ms": float(np.median(beat_d) * 1000) if beat_d else None,
                  "mean_abs_ms": float(np.mean(beat_d) * 1000) if beat_d else None,
                  "mean_signed_ms": float(np.mean(beat_s) * 1000) if beat_s else None,
                  "f_measure": float(np.mean(f_scores)) if f_scores else None},
        "clips": per_clip,
    }
    return report


def _music_path(rendered: Path, cid: str, name: str) -> Path:
    """The source music file of a rendered clip (recorded in its motion's render parameters' run)."""
    state = json.loads((rendered / "render_report.json").read_text())
    music_dir = state.get("music_dir")
    if not music_dir:
        raise MaceDanceError(f"{rendered}: no music folder recorded for clip {cid}")
    hits = sorted(Path(music_dir).rglob(name))
    if not hits:
        raise MaceDanceError(f"{music_dir}: music file {name} of clip {cid} not found")
    return hits[0]


def _rest(smpl_model: str | None) -> Any:
    from macedance.motion.skeleton import builtin_skeleton, skeleton_from_smplx

    return builtin_skeleton() if smpl_model is None else skeleton_from_smplx(smpl_model)


def _render_rest(params: RenderParams) -> Any:
    from macedance.render.character import get_character

    return get_character(params.character, params.smpl_model).rest


def _fmt(v: Any, spec: str = ".1f") -> str:
    return "–" if v is None else format(v, spec)


def markdown_report(report: dict[str, Any]) -> str:
    """The report as Markdown: the summary table, per-joint 2D errors and per-clip rows."""
    kp, beats, c = report["keypoints_2d_px"], report["beats"], report["counts"]
    p = report["params"]
    r = p["render"]
    lines = ["# macedance data selfcheck", "",
             f"macedance {report['macedance']}, {report['date']}. Rendered {c['rendered_clips']} clips ({r['character']}, "
             f"{r['size'][0]}×{r['size'][1]} at {r['fps']:g} fps, background {r['background']}); `data build` on their videos: "
             f"{c['built_clips_kept']} clips kept of {c['built_clip_candidates']} clip candidates ({c['built_candidates']} rows; codes "
             f"{', '.join(f'{k} {v}' for k, v in sorted(c['built_codes'].items()))}).", "",
             "| measure | value |", "|---|---|",
             f"| detection rate (frames with a person) | {_fmt(report['detection_rate'] and 100 * report['detection_rate'], '.2f')} % |",
             f"| 2D keypoint error vs projected GT joints, mean / median / p95 | {_fmt(kp['mean'])} / {_fmt(kp['median'])} / {_fmt(kp['p95'])} px "
             f"(figure height {_fmt(kp['figure_height_px'], '.0f')} px) |",
             f"| MPJPE (pelvis-aligned) | {_fmt(report['mpjpe_mm'])} mm |",
             f"| PA-MPJPE | {_fmt(report['pa_mpjpe_mm'])} mm |",
             f"| world MPJPE (builder's world convention, no alignment) | {_fmt(report['world_mpjpe_mm'])} mm |",
             f"| beat error, median / mean absolute | {_fmt(beats['median_abs_ms'])} / {_fmt(beats['mean_abs_ms'])} ms ({beats['true_beats']} true beats) |",
             f"| beat offset, mean signed (found − true, matched beats) | {_fmt(beats['mean_signed_ms'])} ms |",
             f"| beat F-measure (±{BEAT_TOLERANCE * 1000:.0f} ms) | {_fmt(beats['f_measure'], '.3f')} |", "",
             "## 2D error per SMPL joint (px)", "", "| joint | error |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in kp["per_joint"].items()]
    lines += ["", "## Clips", "", "| built clip | status | detected | 2D px | MPJPE | PA-MPJPE | world MPJPE | beat ms | beat F |",
              "|---|---|---|---|---|---|---|---|---|"]
    for rec in report["clips"]:
        lines.append(f"| {rec['built_clip']} | {rec['status']} | {100 * rec['detected']:.0f} % | {_fmt(rec.get('kp2d_px'))} | "
                     f"{_fmt(rec.get('mpjpe_mm'))} | {_fmt(rec.get('pa_mpjpe_mm'))} | {_fmt(rec.get('world_mpjpe_mm'))} | "
                     f"{_fmt(rec.get('beat_median_ms'))} | {_fmt(rec.get('beat_f'), '.2f')} |")
    t = report.get("timing", {})
    if t:
        lines += ["", f"Render {t.get('render_s', 0):.1f} s, build {t.get('build_s', 0):.1f} s, total {t.get('total_s', 0):.1f} s.", ""]
    lines += ["", "See docs/data-render.md (self-check) for the definitions and conventions.", ""]
    return "\n".join(lines)


__all__ = ["SelfCheckParams", "compare", "generate_sources", "markdown_report", "run_selfcheck"]
