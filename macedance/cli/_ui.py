"""What the commands share: the consoles, the progress bars, the tables and the body-model option."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional, get_args

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from macedance.metrics.spec import MotionMetricName, metric_spec

console = Console()
err_console = Console(stderr=True)


class _Bar:
    """A transient rich progress bar on stderr (off when stderr is not a terminal), shown from the first update on.

    Without ``unit``: description, bar, done/total, the current item's name and the elapsed time. With ``unit`` (a
    dataset run, e.g. ``frames/s``): description, bar, percent, sources done/total, frame rate, elapsed time, ETA
    and the current source; ``passes``: frames counted per source frame (the rate is of source frames)."""

    def __init__(self, description: str, unit: str | None = None, passes: int = 1) -> None:
        columns: list[str | ProgressColumn]
        if unit is None:
            columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[name]}"),
                       TimeElapsedColumn()]
            fields: dict[str, str] = {"name": ""}
        else:
            columns = [TextColumn(f"[bold]{description}"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[videos]} sources"),
                       TextColumn("{task.fields[rate]} " + unit), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                       TextColumn("{task.fields[name]}")]
            fields = {"videos": "", "rate": "–", "name": ""}
        self.bar = Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal)
        self.task = self.bar.add_task(description, total=None, **fields)
        self.passes = passes
        self.t0 = time.perf_counter()

    def _update(self, **kw: Any) -> None:
        if not self.bar.live.is_started:
            self.bar.start()
        self.bar.update(self.task, **kw)

    def count(self, done: int, total: int, name: str) -> None:
        """``done`` of ``total`` items, at ``name``."""
        self._update(completed=done, total=total, name=name)

    def frames(self, p: Any) -> None:
        """A dataset run's ``BuildProgress``: sources and frames done."""
        rate = p.frames_done / self.passes / max(time.perf_counter() - self.t0, 1e-9)
        self._update(completed=p.frames_done, total=max(p.frames_total, p.frames_done) or None,
                     videos=f"{p.videos_done}/{p.videos_total}", rate=f"{rate:.1f}", name=p.current)

    def stop(self) -> None:
        if self.bar.live.is_started:
            self.bar.stop()


@contextlib.contextmanager
def progress_bar(description: str, unit: str | None = None, passes: int = 1) -> Iterator[Callable[..., None]]:
    """A progress bar (see ``_Bar``), stopped on exit. Yields ``progress(done, total, name)``, or with ``unit``
    (a dataset run) ``progress(BuildProgress)``."""
    bar = _Bar(description, unit, passes)
    try:
        yield bar.count if unit is None else bar.frames
    finally:
        bar.stop()


@contextlib.contextmanager
def stage_progress_bars(unit: str) -> Iterator[Callable[[str, Any], None]]:
    """One dataset progress bar per stage (the earlier stages' bars stop when a new stage starts); yields
    ``progress(stage, BuildProgress)``."""
    bars: dict[str, _Bar] = {}

    def progress(stage: str, p: Any) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.stop()
            bars[stage] = _Bar(stage, unit)
        bars[stage].frames(p)

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.stop()


def print_import_report(report: Any) -> None:
    """The counts of a ``data import`` run and a table of the rejected files."""
    counts = report.to_dict()["counts"]
    console.print(
        f"[green]{counts['converted']} converted[/green], {counts['up_to_date']} up to date, "
        f"[{'red' if counts['rejected'] else 'green'}]{counts['rejected']} rejected[/] → {report.out}"
    )
    if report.rejected:
        table = Table("rejected file", "reason", title="Rejected", title_justify="left")
        for r in report.rejected:
            table.add_row(r["file"], r["reason"])
        console.print(table)


def build_summary_table(report: Any, candidates: str = "videos, shots, clips") -> Table:
    """Final summary of ``data build`` (and ``data render``: ``candidates`` names what a row can be)."""
    t = Table(title=f"Dataset → {report.out}", title_justify="left", box=box.SIMPLE_HEAVY)
    t.add_column("")
    t.add_column("", justify="right")
    t.add_row("source files", f"{report.videos} ({report.videos_processed} processed, {report.videos_resumed} already done)")
    t.add_row(f"candidates ({candidates})", str(report.candidates))
    t.add_row("clips kept", f"[green]{report.clips}[/green] ({report.hours * 3600:.1f} s)")
    for stage, n in sorted(report.rejected.items()):
        t.add_row(f"rejected: {stage}", f"[red]{n}[/red]")
    if getattr(report, "duplicates", 0) and "duplicate" not in report.rejected:
        t.add_row("near-duplicates (kept, marked)", f"[yellow]{report.duplicates}[/yellow]")
    t.add_row("splits", ", ".join(f"{k} {v}" for k, v in sorted(report.splits.items())) or "–")
    stage = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(report.stage_seconds.items()))
    fps = report.frames_processed / max(report.seconds, 1e-9)
    t.add_row("time", f"{report.seconds:.1f} s ({report.frames_processed} frames, {fps:.0f} frames/s); {stage}")
    return t


STAT_COLUMNS = (("fps", "fps", "{:g}"), ("seconds", "sec", "{:.2f}"), ("root_travel_m", "travel", "{:.2f}"),
                ("mean_joint_speed_mps", "speed", "{:.2f}"), ("p95_wrist_speed_mps", "wrist95", "{:.2f}"),
                ("foot_contact_ratio", "contact", "{:.0%}"), ("height_m", "height", "{:.2f}"))
STAT_CAPTION = ("travel: pelvis path length (m); speed: mean joint speed (m/s); wrist95: 95th percentile "
                "wrist speed (m/s); contact: foot-contact frames; height: body extent (m)")


def motion_stats_table(rows: list[tuple[str, dict[str, Any]]], title: str) -> Table:
    """A rich table of per-motion statistics with a mean row."""
    table = Table(title=title, title_justify="left", caption=STAT_CAPTION, caption_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("motion", no_wrap=True, overflow="ellipsis", max_width=27)
    for _, header, _ in STAT_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True, min_width=max(4, len(header)))
    for name, st in rows:
        table.add_row(name, *(fmt.format(st[key]) for key, _, fmt in STAT_COLUMNS))
    if len(rows) > 1:
        mean = {k: sum(st[k] for _, st in rows) / len(rows) for k, _, _ in STAT_COLUMNS}
        table.add_section()
        table.add_row("[bold]mean", *(fmt.format(mean[key]) for key, _, fmt in STAT_COLUMNS))
    return table


MOTION_METRICS = get_args(MotionMetricName)  # rows of the eval motion table, in order


def _fmt(score: dict[str, Any] | None) -> str:
    if score is None:
        return ""
    if score["value"] is None:
        return "[yellow]undefined[/yellow]"
    v = score["value"]
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"


def motion_result_table(result: dict[str, Any]) -> Table:
    """Metrics as rows, predictions and ground truth as columns."""
    p = result["preset"]
    n = result["inputs"]["evaluated"]
    table = Table(title=f"Motion metrics: {p['name']}", title_justify="left", box=box.SIMPLE_HEAD,
                  caption=f"{n['pred']} generated vs {n['gt']} ground-truth sequences; preset hash {p['hash']}",
                  caption_justify="left", min_width=44)
    table.add_column("metric", min_width=10)
    table.add_column("generated", justify="right", min_width=12)
    table.add_column("ground truth", justify="right", min_width=12)
    scores = result["scores"]
    for key in MOTION_METRICS:
        if key in scores:
            gt = scores.get(f"{key}_gt") if not key.startswith("fid") else None
            table.add_row(metric_spec(key).heading(), _fmt(scores[key]), _fmt(gt))
    return table


def body_model(option: Optional[Path], gender: str = "neutral") -> Optional[Path]:
    """The body model of every command that takes ``--smpl-model``: the option, else ``MACEDANCE_SMPL_DIR``,
    resolved once to the model file (None: the built-in skeleton)."""
    from macedance.motion.skeleton import resolve_smpl_model

    return resolve_smpl_model(option, gender)


def body_skeleton(model: Optional[Path], gender: str) -> Any:
    """The skeleton of a resolved body model (None: the built-in skeleton)."""
    from macedance.motion import builtin_skeleton, skeleton_from_smplx

    return builtin_skeleton() if model is None else skeleton_from_smplx(model, gender)
