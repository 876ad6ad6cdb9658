"""The ``macedance`` command line (Typer + rich): the root app, its error boundary and the entry point. One module
per command group (``data``, ``eval``, ``train``, ``generate``, ``bench``, ``board``, ``weights``, ``demo``); the
shared consoles, progress bars and tables are in ``_ui``. Library code logs; only this package prints."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.logging import RichHandler

from macedance import __version__
from macedance.cli._ui import console, err_console
from macedance.errors import MaceDanceError, ValidationError

_state = {"verbose": False}

app = typer.Typer(
    name="macedance",
    help="Benchmark and dataset toolkit for music-driven dance generation (MACE-Dance).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _current_options() -> dict[str, str]:
    """Parameter name → its long option (``min_clip`` → ``--min-clip``) of the command being run."""
    try:
        from typer._click.globals import get_current_context  # Typer ≥ 0.20 bundles its own click
    except ImportError:  # pragma: no cover - older Typer on the public click
        from click import get_current_context
    ctx = get_current_context(silent=True)
    if ctx is None:
        return {}
    return {p.name: max(p.opts, key=len) for p in ctx.command.params if p.name and getattr(p, "opts", None) and p.opts[0].startswith("-")}


_ARGUMENT = re.compile(r"`([a-z_][a-z0-9_]*)(?:=([^`]*))?`")


def cli_message(exc: BaseException) -> str:
    """The error as the command line says it. Library errors name Python parameters — a ValidationError's
    field (``min_clip/max_clip``) or a parameter in backticks in the text (`` `resume` ``, `` `method=folder` ``);
    the CLI shows the options the user types (``--min-clip/--max-clip``, ``--resume``, ``--method folder``)."""
    if isinstance(exc, OSError) and not isinstance(exc, MaceDanceError):
        return _os_message(exc)
    options = _current_options()
    if not options:
        return str(exc)
    if isinstance(exc, ValidationError):
        parts = exc.field.split("/")
        if all(p in options for p in parts):
            exc = ValidationError("/".join(options[p] for p in parts), exc.expected, exc.found, source=exc.source)

    def option(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        if name not in options:
            return m.group(0)
        return options[name] if value in (None, "True") else f"{options[name]} {value}"

    return _ARGUMENT.sub(option, str(exc))


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn MaceDanceError (and file-system errors such as a read-only output folder) into one red
    line and exit status 2 (full traceback with --verbose)."""
    try:
        yield
    except (MaceDanceError, OSError) as exc:
        if _state["verbose"]:
            err_console.print_exception()
        else:
            err_console.print(f"[bold red]error:[/bold red] {cli_message(exc)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _os_message(exc: OSError) -> str:
    """``PATH: reason`` for a file-system error (Python's ``[Errno 30] Read-only file system: 'PATH'`` otherwise)."""
    if type(exc).__str__ is not OSError.__str__ or not exc.filename or not exc.strerror:
        return str(exc)
    return f"{exc.filename}: {exc.strerror}" + (f" (to {exc.filename2})" if exc.filename2 else "")


def _version(value: bool) -> None:
    if value:
        console.print(f"macedance {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging and full tracebacks.")] = False,
) -> None:
    """macedance: datasets, methods, evaluation and leaderboards for music-to-dance generation."""
    _state["verbose"] = verbose
    if verbose:
        from macedance.native_logs import set_passthrough

        set_passthrough(True)  # MediaPipe / LiteRT / absl log lines too
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s", force=True,
        handlers=[RichHandler(console=err_console, show_time=False, show_path=verbose)],
    )


def main() -> None:
    """Console-script entry point: like ``app()``, but usage errors are one red line (exit 2), and native
    libraries' log lines (MediaPipe, LiteRT, absl) are kept off the terminal unless ``--verbose``."""
    from macedance.native_logs import filter_native_logs

    with filter_native_logs():
        _main()


def _main() -> None:
    command = typer.main.get_command(app)
    try:
        rv = command.main(prog_name="macedance", standalone_mode=False)
    except typer.Abort:
        err_console.print("[bold red]aborted[/bold red]")
        sys.exit(1)
    except Exception as exc:
        # Usage errors of Typer's bundled click (unknown option, missing argument, bad choice).
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int) and not _state["verbose"]:
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "macedance"
            if not exc.format_message():  # no arguments: the help was shown, nothing to add
                sys.exit(exc.exit_code)
            err_console.print(f"[bold red]error:[/bold red] {exc.format_message()} (see {where} --help)", highlight=False)
            sys.exit(exc.exit_code)
        raise
    sys.exit(rv if isinstance(rv, int) else 0)


# The command groups import user_errors from here, so they are added once it exists; their order is the --help order.
from macedance.cli.bench import app as bench_app
from macedance.cli.board import app as board_app
from macedance.cli.data import app as data_app
from macedance.cli.demo import demo_cmd
from macedance.cli.eval import app as eval_app
from macedance.cli.generate import app as generate_app
from macedance.cli.train import app as train_app
from macedance.cli.weights import app as weights_app

app.command("demo")(demo_cmd)
app.add_typer(data_app, name="data")
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.add_typer(generate_app, name="generate")
app.add_typer(bench_app, name="bench")
app.add_typer(board_app, name="board")
app.add_typer(weights_app, name="weights")
