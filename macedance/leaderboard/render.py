"""Render boards: rich terminal table, Markdown, CSV, and a self-contained static HTML page
(sortable columns, better-direction arrows, confidence-interval bars, an SVG plot per main metric)."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
from pathlib import Path
from typing import Any

from macedance import __version__
from macedance.fileio import atomic_write
from macedance.leaderboard.build import Board, fmt_value
from macedance.metrics.spec import known_metric, metric_spec


def _label(metric: str) -> str:
    return metric_spec(metric).label if known_metric(metric) else metric


def _arrow(metric: str) -> str:
    return " " + metric_spec(metric).arrow if known_metric(metric) else ""


def _cell(s: dict[str, Any] | None) -> str:
    if not s or s.get("value") is None:
        return "—"
    ci = s.get("ci95")
    return fmt_value(s["value"]) + (f" [{fmt_value(ci[0])}, {fmt_value(ci[1])}]" if ci else "")


def terminal_table(board: Board) -> Any:
    from rich import box
    from rich.table import Table

    t = Table(title=board.title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("method", no_wrap=True)
    for m in board.metrics:
        t.add_column(_label(m) + _arrow(m), justify="right", no_wrap=True)
    if board.reference:
        t.add_row("", f"[italic]{board.reference['method']}[/italic]",
                  *(fmt_value(board.reference["scores"].get(m, {}).get("value"), 3) for m in board.metrics), end_section=True)
    for i, r in enumerate(board.sorted_rows(), 1):
        t.add_row(str(i), r["method"], *(fmt_value(r["scores"].get(m, {}).get("value"), 3) for m in board.metrics))
    return t


def markdown(board: Board) -> str:
    head = ["#", "method"] + [_label(m) + _arrow(m) for m in board.metrics]
    lines = [f"### {board.title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    if board.reference:
        lines.append("| | *" + board.reference["method"] + "* | " + " | ".join(_cell(board.reference["scores"].get(m)) for m in board.metrics) + " |")
    for i, r in enumerate(board.sorted_rows(), 1):
        lines.append("| " + " | ".join([str(i), r["method"]] + [_cell(r["scores"].get(m)) for m in board.metrics]) + " |")
    lines.append("")
    lines.append(f"Sorted by {_label(board.main_score)}; brackets: bootstrap 95 % interval over clips; — = missing or undefined"
                 + ("; *ground truth*: the test set's own values (unranked)." if board.reference else "."))
    if board.reference_note:
        lines.append(f"\n{board.reference_note}.")
    lines += [f"\n- {r['method']}: {r['note']}" for r in board.sorted_rows() if r.get("note")]
    cards = [_card_text(r) for r in board.sorted_rows() if r.get("card")]
    if cards:
        lines += ["", "Methods:", ""] + [f"- {c}" for c in cards]
    return "\n".join(lines) + "\n"


def _card_text(row: dict[str, Any]) -> str:
    """One line of a method card (Markdown and HTML share it)."""
    c = row["card"]
    parts = [f"**{row['method']}**" + (f" ({row['version']})" if row.get("version") else "")]
    parts += [c[k] for k in ("description", "paper") if c.get(k)]
    if c.get("seeded"):
        parts.append(c["seeded"])
    if c.get("licence"):
        parts.append(f"licence: {c['licence']}")
    if c.get("parameters"):
        n = c["parameters"]
        parts.append(f"{n / 1e6:.1f} M parameters" if n >= 1e5 else f"{n:,} parameters")
    if c.get("weights"):
        parts.append("weights " + ", ".join(f"{f} sha256 {h[:12]}" for f, h in c["weights"].items()))
    if c.get("seconds_per_clip") is not None:
        parts.append(f"{c['seconds_per_clip']:g} s per clip (generation and scoring) on {c.get('hardware') or 'unknown hardware'}")
    return "; ".join(parts)


def csv_text(board: Board) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["task", "version", "preset", "method"] + [x for m in board.metrics for x in (m, f"{m}_ci_low", f"{m}_ci_high")])
    for r in ([board.reference] if board.reference else []) + board.sorted_rows():
        row = [board.task, board.version, board.preset, r["method"]]
        for m in board.metrics:
            s = r["scores"].get(m) or {}
            ci = s.get("ci95") or [None, None]
            row += [s.get("value"), ci[0], ci[1]]
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def _ci_bar(s: dict[str, Any] | None, lo: float, hi: float) -> str:
    """Inline SVG: the interval as a bar and the value as a tick, on the column's shared scale."""
    if not s or s.get("value") is None or not s.get("ci95") or hi <= lo:
        return ""
    w = 90.0

    def x(v: float) -> float:
        return max(0.0, min(w, (v - lo) / (hi - lo) * w))

    a, b = s["ci95"]
    return (f'<svg class="ci" width="{w:.0f}" height="8" aria-label="95% interval">'
            f'<rect x="{x(a):.1f}" y="2" width="{max(1.0, x(b) - x(a)):.1f}" height="4" rx="2"/>'
            f'<line x1="{x(s["value"]):.1f}" x2="{x(s["value"]):.1f}" y1="0" y2="8"/></svg>')


def _plot(board: Board) -> str:
    """SVG bar chart of the main score per method with its interval."""
    m = board.main_score
    rows = [r for r in board.sorted_rows() if r["scores"].get(m, {}).get("value") is not None]
    if not rows:
        return "<p>No method has a defined main score.</p>"
    vals = [r["scores"][m]["value"] for r in rows]
    highs = [(r["scores"][m].get("ci95") or [v, v])[1] for r, v in zip(rows, vals, strict=True)]
    top = max(max(highs), max(vals)) or 1.0
    bar_h, gap, left, width = 18, 8, 150, 420
    h = len(rows) * (bar_h + gap) + 24
    parts = [f'<svg class="plot" width="{left + width + 80}" height="{h}" role="img" aria-label="{_label(m)} per method">']
    for i, (r, v) in enumerate(zip(rows, vals, strict=True)):
        y = 10 + i * (bar_h + gap)
        bw = v / top * width
        parts.append(f'<text x="{left - 8}" y="{y + 13}" text-anchor="end">{html.escape(r["method"])}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{max(bw, 1):.1f}" height="{bar_h}" class="bar"/>')
        ci = r["scores"][m].get("ci95")
        end = bw
        if ci:
            x1, x2 = left + ci[0] / top * width, left + ci[1] / top * width
            parts.append(f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y + bar_h / 2}" y2="{y + bar_h / 2}" class="whisker"/>')
            end = max(bw, x2 - left)
        parts.append(f'<text x="{left + end + 6:.1f}" y="{y + 13}">{fmt_value(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2.2rem}table{border-collapse:collapse;margin:.6rem 0}
th,td{padding:.35rem .6rem;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th{cursor:pointer;background:#f4f4f1;user-select:none}th.sorted-asc::after{content:" ▲"}th.sorted-desc::after{content:" ▼"}
td.m,th.m{text-align:left}td.missing{color:#999}.ci rect{fill:#9bbbe0}.ci line{stroke:#1d4f91;stroke-width:2}
.plot .bar{fill:#6c9bd2}.plot .whisker{stroke:#1d3f71;stroke-width:2}.plot text{font-size:12px}.note{color:#666;font-size:12px}
.samples summary{cursor:pointer;color:#444}.sample-row{display:flex;align-items:flex-start;gap:.8rem;margin:.5rem 0;flex-wrap:wrap}
.sample-row .m{width:11rem;font-weight:600;overflow-wrap:anywhere}figure{margin:0}figure video{height:180px;background:#000}
figcaption{font-size:11px;color:#666;max-width:22rem;overflow-wrap:anywhere}"""

_SCRIPT = """document.querySelectorAll('table.board').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,col){th.addEventListener('click',function(){
  var body=t.tBodies[t.tBodies.length-1],rows=Array.from(body.rows),asc=!th.classList.contains('sorted-asc');
  t.querySelectorAll('th').forEach(function(h){h.classList.remove('sorted-asc','sorted-desc')});
  th.classList.add(asc?'sorted-asc':'sorted-desc');
  rows.sort(function(a,b){var x=a.cells[col].dataset.v,y=b.cells[col].dataset.v;
   if(x===''&&y==='')return 0;if(x==='')return 1;if(y==='')return -1;
   var nx=parseFloat(x),ny=parseFloat(y);var c=(isNaN(nx)||isNaN(ny))?x.localeCompare(y):nx-ny;return asc?c:-c;});
  rows.forEach(function(r){body.appendChild(r)});});});});"""


Media = dict[tuple[int, str], list[tuple[str, str]]]  # (board index, method) → [(clip, URL of its sample video)]


def _samples_html(board: Board, bi: int, rows: list[dict[str, Any]], media: Media) -> str:
    """The board's sample videos, one line per method in the board's order (the generated video beside the ground
    truth for video tasks; the generated motion for motion tasks), each with the clip's music."""
    lines = []
    for r in rows:
        clips = media.get((bi, r["method"]), [])
        if clips:
            figs = "".join(f"<figure><video controls muted loop playsinline preload='metadata' src='{html.escape(url)}'></video>"
                           f"<figcaption>{html.escape(clip)}</figcaption></figure>" for clip, url in clips)
            lines.append(f"<div class='sample-row'><div class='m'>{html.escape(r['method'])}</div>{figs}</div>")
    if not lines:
        return ""
    from macedance.benchmark.tasks import TASKS

    task = TASKS.get(board.task)
    what = "generated (left) beside the ground truth (right)" if task is not None and task.video else "the generated motion"
    return (f"<details class='samples' open><summary>Samples: {what}, with the clip's music</summary>" + "".join(lines) + "</details>")


def html_page(boards: list[Board], title: str = "macedance leaderboard", media: Media | None = None) -> str:
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
           f"<p class='note'>Built by macedance {__version__} from {sum(len(b.rows) for b in boards)} result records. "
           "Click a column to sort. Bars: bootstrap 95 % intervals over clips (shared scale per column); "
           "— = missing or undefined (never 0).</p>"]
    for bi, b in enumerate(boards):
        rows = b.sorted_rows()
        out.append(f"<h2 id='board-{bi}'>{html.escape(b.title)}</h2>")
        out.append(f"<table class='board' id='table-{bi}'><thead><tr><th>#</th><th class='m'>method</th>")
        out += [f"<th>{html.escape(_label(m) + _arrow(m))}</th>" for m in b.metrics]
        out.append("</tr></thead>")
        if b.reference:  # its own tbody, before the sorted one: clicking a column never moves it
            ref = b.reference
            out.append("<tbody class='reference'><tr><td></td><td class='m'><em>" + html.escape(ref["method"]) + "</em></td>"
                       + "".join("<td class='missing'>—</td>" if (ref["scores"].get(m) or {}).get("value") is None
                                 else f"<td>{fmt_value(ref['scores'][m]['value'])}</td>" for m in b.metrics) + "</tr></tbody>")
        out.append("<tbody>")
        scale = {}
        for m in b.metrics:
            pts = [x for r in rows for x in ((r["scores"].get(m) or {}).get("ci95") or [])]
            scale[m] = (min(pts), max(pts)) if pts else (0.0, 0.0)
        for i, r in enumerate(rows, 1):
            cells = [f"<td data-v='{i}'>{i}</td>", f"<td class='m' data-v='{html.escape(r['method'])}'>{html.escape(r['method'])}</td>"]
            for m in b.metrics:
                s = r["scores"].get(m)
                v = None if not s else s.get("value")
                if v is None:
                    cells.append("<td class='missing' data-v=''>—</td>")
                else:
                    cells.append(f"<td data-v='{v!r}'>{fmt_value(v)}<br>{_ci_bar(s, *scale[m])}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        out.append(f"<p class='note'>Main score: {html.escape(_label(b.main_score))}."
                   + (" <em>ground truth</em>: the test set's own values (unranked)." if b.reference else "")
                   + (f" {html.escape(b.reference_note)}." if b.reference_note else "") + "</p>")
        out += [f"<p class='note'>{html.escape(r['method'])}: {html.escape(r['note'])}</p>" for r in rows if r.get("note")]
        cards = [r for r in rows if r.get("card")]
        if cards:
            out.append("<details class='cards'><summary>Method cards</summary><ul>"
                       + "".join("<li>" + html.escape(_card_text(r)).replace("**", "") + "</li>" for r in cards) + "</ul></details>")
        out.append(_samples_html(b, bi, rows, media or {}))
        out.append(_plot(b))
    out.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(out)


def _slug(text: str) -> str:
    """A file name from text of a record: only letters, digits, ``._-`` (no separator, no leading dot: ``..`` → ``_.``),
    at most 120 characters (a longer text keeps a hash of itself: distinct texts stay distinct names)."""
    name = re.sub(r"^\.", "_", re.sub(r"[^A-Za-z0-9._-]", "_", text)) or "_"
    return name if len(name) <= 120 else f"{name[:100]}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _copy_samples(boards: list[Board], out: Path) -> Media:
    """Copy every row's sample videos into ``out/samples/<board>/<method>/<clip>.mp4`` (a file already there with the
    same bytes is kept); their URLs relative to the page."""
    from macedance.fileio import sha256_file

    media: Media = {}
    for bi, b in enumerate(boards):
        for r in b.rows:
            for sample in r.get("samples", []):
                rel = Path("samples") / _slug(f"{b.task}_v{b.version}_{b.preset_hash[:8]}") / _slug(r["method"]) / f"{_slug(sample['clip'])}.mp4"
                src, dst = Path(sample["path"]), out / rel
                if not (dst.is_file() and sha256_file(dst) == sha256_file(src)):
                    with atomic_write(dst) as f:
                        f.write(src.read_bytes())
                media.setdefault((bi, r["method"]), []).append((sample["clip"], rel.as_posix()))
    return media


def write_site(boards: list[Board], out: Path) -> dict[str, Path]:
    """index.html (with the rows' sample videos, copied into ``out/samples``), leaderboard.md, one CSV per board and
    boards.json into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"html": out / "index.html", "markdown": out / "leaderboard.md", "json": out / "boards.json"}
    media = _copy_samples(boards, out)
    with atomic_write(files["html"], "w") as f:
        f.write(html_page(boards, media=media))
    with atomic_write(files["markdown"], "w") as f:
        f.write("# macedance leaderboard\n\n" + "\n".join(markdown(b) for b in boards))
    for b in boards:
        p = out / f"{_slug(f'{b.task}_v{b.version}_{b.preset}_{b.preset_hash[:8]}')}.csv"  # names from records: never a path
        with atomic_write(p, "w") as f:
            f.write(csv_text(b))
        files[f"csv:{b.title}"] = p
    with atomic_write(files["json"], "w") as f:
        json.dump([{"task": b.task, "version": b.version, "preset": b.preset, "preset_hash": b.preset_hash,
                    "main_score": b.main_score, "metrics": b.metrics, "rows": b.sorted_rows(), "reference": b.reference,
                    "reference_note": b.reference_note} for b in boards], f, indent=1)
    return files
