"""What the training loops share about their run folder: one run per folder (:func:`holds_run_folder`), ``loss.csv``
(rows after a resumed checkpoint dropped) and ``loss.png``, and atomic ``torch.save`` checkpoints."""

from __future__ import annotations

import contextlib
import csv
import functools
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from macedance.fileio import atomic_write
from macedance.folder_lock import folder_lock

P = ParamSpec("P")
R = TypeVar("R")


def holds_run_folder(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` (a training loop with a ``run`` parameter) holding the run folder (:mod:`macedance.folder_lock`; under
    torchrun / accelerate launch the main process holds it), after deleting a killed run's temporary files there."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def held(*args: P.args, **kwargs: P.kwargs) -> R:
        run = Path(signature.bind(*args, **kwargs).arguments["run"])
        main = int(os.environ.get("RANK", "0") or 0) == 0
        with folder_lock(run) if main else contextlib.nullcontext():
            return fn(*args, **kwargs)

    return held


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to ``path`` atomically (loadable with ``weights_only=True`` when it holds tensors,
    numbers, strings and containers only)."""
    import torch

    with atomic_write(path) as f:
        torch.save(state, f)


def start_loss_csv(path: Path, columns: Sequence[str], step: int) -> None:
    """Create ``path`` with a header (a fresh run, ``step`` 0) or keep only its rows up to ``step``
    (a resumed run: rows logged after the checkpoint are dropped, so none is duplicated; so is a row that a full
    disk cut short). Written atomically; rows are then added with :func:`~macedance.fileio.append_line`."""
    header = ",".join(columns) + "\n"
    kept = [] if not path.is_file() or step == 0 else [ln for ln in path.read_text(errors="replace").splitlines()[1:]
                                                        if _whole_row(ln, len(columns)) and int(ln.split(",")[0]) <= step]
    with atomic_write(path, "w") as f:
        f.write(header + "".join(ln + "\n" for ln in kept))


def _whole_row(line: str, n: int) -> bool:
    """``line`` is a complete row of ``n`` numbers, the first a step."""
    parts = line.split(",")
    try:
        [float(v) for v in parts[1:]]
        return len(parts) == n and int(parts[0]) >= 0
    except ValueError:
        return False


def last_logged(path: Path, step: int) -> dict[str, float]:
    """The last row of ``path`` at or before ``step`` (column → value; no ``step`` key), or {} when none."""
    if not path.is_file():
        return {}
    rows = [r for r in csv.DictReader(path.open()) if r.get("step") and int(r["step"]) <= step]
    return {k: float(v) for k, v in rows[-1].items() if k != "step"} if rows else {}


def plot_losses(csv_path: Path, png_path: Path, *, keys: Sequence[str], title: str) -> None:
    """``loss.png``: the ``keys`` columns of ``csv_path`` against the step, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(csv_path.open()))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for key in keys:
        ax.plot(steps, [float(r[key]) for r in rows], label=key, lw=1.2 if key == "loss" else 0.8)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_write(png_path) as f:
        fig.savefig(f, format="png")
    plt.close(fig)
