"""FineDance importer.

Source format (FineDance ``motion/*.npy``): float array (T, 315) = root translation (3, metres)
+ 52 joints × 6D rotation in SMPL-H joint order (pytorch3d 6D: first two matrix rows), or the
preprocessed (T, 319) = 4 foot contacts + the same 315; 30 fps; y-up; retargeted to the SMPL-X
neutral body (li-ronghui/FineDance ``data/code/pre_motion.py``).

Conversion to the SMPL-24 body: joints 0–21 are the shared body joints and are kept as they are;
SMPL's hand joints 22/23 have no SMPL-H counterpart (SMPL-H continues with finger joints) and are
set to the identity — they are leaves, so no joint position depends on them. The finger rotations
are dropped. The contacts of the 319 layout are dropped (recomputable by FK). The conversion is
:func:`macedance.io.motion_layouts.finedance_motion`, shared with ``eval motion`` and ``bench run --outputs``
(which also read LODGE's (T, 139) and (T, 135) body-only arrays).

Official splits (li-ronghui/FineDance @bb13fe8, ``dataset/FineDance_dataset.py``, sequence ids
001–211): ``cross_genre`` (default) and ``cross_dancer``; sequences on a split's ignore list are
rejected with that reason. ``none`` keeps every sequence without a split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from macedance.datasets.importers.base import ImportReport, ProgressFn, SourceItem, find_sources, run_import
from macedance.errors import DataFormatError, ValidationError
from macedance.io.motion_layouts import finedance_motion
from macedance.schema import Motion
from macedance.schema._check import choice

IMPORTER_VERSION = "1"
_CROSS_GENRE_TEST = ("063 132 143 036 098 198 130 012 211 193 179 065 137 161 092 120 037 109 204 144").split()
_CROSS_GENRE_IGNORE = "116 117 118 119 120 121 122 123 202 130".split()
_CROSS_DANCER_TEST = "001 002 003 004 005 006 007 008 009 010 011 012 013 124 126 128 130 132".split()
_CROSS_DANCER_VAL = "115 117 119 121 122 135 137 139 141 143 145 147".split()
_CROSS_DANCER_IGNORE = "116 118 120 123 202 159 130".split()
SPLIT_SCHEMES = ("cross_genre", "cross_dancer", "none")


def finedance_split(seq_id: str, scheme: str) -> str | None:
    """Split of a FineDance sequence id under ``scheme``; ``"ignore"`` for excluded sequences.

    Precedence follows the reference code: the test list wins over the ignore list.
    """
    choice("split scheme", scheme, SPLIT_SCHEMES)
    if scheme == "none":
        return None
    if scheme == "cross_genre":
        test, val, ignore = _CROSS_GENRE_TEST, [], _CROSS_GENRE_IGNORE
    else:
        test, val, ignore = _CROSS_DANCER_TEST, _CROSS_DANCER_VAL, _CROSS_DANCER_IGNORE
    if seq_id in test:
        return "test"
    if seq_id in val:
        return "val"
    if seq_id in ignore:
        return "ignore"
    return "train"


def read_finedance_motion(path: str | Path) -> Motion:
    """One FineDance ``.npy`` (T×315 or T×319) → Motion (30 fps, y-up, metres)."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataFormatError(f"{path}: not a plain numeric .npy (object arrays are never unpickled: {exc})") from None
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[1] not in (315, 319):
        shape = getattr(arr, "shape", None)
        raise ValidationError("motion array", "shape (T, 315) or (T, 319)", f"shape {shape}", source=path)
    return finedance_motion(arr, source=path)


def import_finedance(
    src: str | Path,
    out: str | Path,
    *,
    split: str = "cross_genre",
    fps: float | None = None,
    up_axis: str | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import a folder of FineDance motion ``.npy`` files (searched recursively) into ``out``."""
    choice("split", split, SPLIT_SCHEMES)
    src, out = Path(src), Path(out)
    files = find_sources(src, ".npy", "FineDance")

    def read(path: Path) -> SourceItem:
        seq_split = finedance_split(path.stem, split)
        if seq_split == "ignore":
            raise DataFormatError(f"excluded by the FineDance {split} split (on its ignore list)")
        return SourceItem(path.stem, read_finedance_motion(path), source_video=path.stem, split=seq_split,
                          extra={"split_scheme": split})

    return run_import(files, src, out, read, dataset="finedance", importer_version=IMPORTER_VERSION,
                      fps=fps, up_axis=up_axis, overwrite=overwrite, progress=progress)
