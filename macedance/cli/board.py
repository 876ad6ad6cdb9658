"""``macedance board``: leaderboards built from result records, and the records' validation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from macedance.cli import user_errors
from macedance.cli._ui import console, err_console
from macedance.errors import MaceDanceError

app = typer.Typer(help="Build and validate leaderboards from result records.", no_args_is_help=True)


@app.command("build")
def board_build_cmd(
    results: Annotated[list[Path], typer.Argument(help="Result record files or folders.")],
    out: Annotated[Path, typer.Option(help="Site folder: index.html, leaderboard.md, CSV per board, boards.json.")] = Path("site"),
    merge_presets: Annotated[bool, typer.Option(help="Put records of different presets of a task version in one table.")] = False,
) -> None:
    """Leaderboards (a pure function of the records): terminal, Markdown, CSV and a static HTML page."""
    from macedance.leaderboard.build import build_boards, load_records
    from macedance.leaderboard.render import terminal_table, write_site

    with user_errors():
        records, bad = load_records(results)
        if not records:
            raise MaceDanceError("no valid result record found" + (f" ({bad[0][1]})" if bad else ""))
        boards = build_boards(records, merge_presets)
        files = write_site(boards, out)
    for b in boards:
        console.print(terminal_table(b))
    console.print(f"site → {files['html']}")
    for _, reason in bad:
        err_console.print(f"[yellow]ignored[/yellow] {reason}", highlight=False)


@app.command("validate")
def board_validate_cmd(files: Annotated[list[Path], typer.Argument(help="Result record JSON files.")]) -> None:
    """Check submissions: schema, value ranges, NaN, task/preset compatibility (nothing is executed)."""
    from macedance.benchmark.records import load_record

    bad = 0
    for f in files:
        try:
            r = load_record(f)
            console.print(f"[green]ok[/green] {f}: {r['task']['name']} v{r['task']['version']}, {r['method']['name']}")
        except MaceDanceError as exc:
            bad += 1
            err_console.print(f"[bold red]invalid:[/bold red] {exc}", highlight=False)
    if bad:
        raise typer.Exit(2)
