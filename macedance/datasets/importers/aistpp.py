"""AIST++ importer.

Source format (AIST++ ``motions/*.pkl``, one per sequence): a pickled dict with ``smpl_poses``
(N, 72) axis-angle (24 joints × 3, root first), ``smpl_trans`` (N, 3) on the dataset's scaled
(≈ cm) scale, ``smpl_scaling`` (1,), optionally ``smpl_loss``; 60 fps; y-up. Like every reference
implementation we divide the translation by the scaling to get metre-scale SMPL ``transl``.

The pickle is read with :func:`macedance.safe_pickle.safe_load_pickle` (numpy + builtins only).
If the official ``ignore_list.txt`` (sequences with bad annotations) or ``splits/crossmodal_*.txt``
files sit in the source folder or its parent, ignored sequences are rejected with that reason and
the others get their official split. The conversion is :func:`macedance.io.motion_layouts.aistpp_motion`,
shared with ``eval motion`` and ``bench run --outputs``, which read method outputs in this layout.
"""

from __future__ import annotations

import re
from pathlib import Path

from macedance.datasets.importers.base import ImportReport, ProgressFn, SourceItem, find_sources, run_import
from macedance.errors import DataFormatError
from macedance.io.motion_layouts import AISTPP_FPS, aistpp_motion
from macedance.safe_pickle import safe_load_pickle
from macedance.schema import Motion

IMPORTER_VERSION = "1"
GENRES = {
    "gBR": "Break", "gPO": "Pop", "gLO": "Lock", "gMH": "Middle Hip-hop", "gLH": "LA-style Hip-hop",
    "gHO": "House", "gWA": "Waack", "gKR": "Krump", "gJS": "Street Jazz", "gJB": "Ballet Jazz",
}
_NAME = re.compile(r"^(?P<genre>g[A-Z]{2})_s(?P<situation>[A-Z]{2})_c(?P<camera>[A-Za-z0-9]+)_d(?P<dancer>\d+)_"
                   r"(?P<music>m[A-Z]{2}\d)_ch(?P<choreo>\d+)$")


def parse_sequence_name(name: str) -> dict[str, str]:
    """Fields of an AIST++ sequence name (``gBR_sBM_cAll_d04_mBR0_ch01``); {} if it does not match."""
    m = _NAME.match(name)
    if not m:
        return {}
    d = m.groupdict()
    return {"genre": GENRES.get(d["genre"], d["genre"]), "music_id": d["music"], "dancer": "d" + d["dancer"],
            "situation": {"BM": "basic", "FM": "advanced"}.get(d["situation"], d["situation"])}


def read_aistpp_motion(path: str | Path) -> Motion:
    """One AIST++ ``.pkl`` → Motion (60 fps, y-up, metres)."""
    path = Path(path)
    data = safe_load_pickle(path)
    if not isinstance(data, dict):
        raise DataFormatError(f"{path}: expected a dict with smpl_poses/smpl_trans/smpl_scaling, found {type(data).__name__}")
    return aistpp_motion(data, source=path, fps=AISTPP_FPS, up_axis="y", scaling_required=True)


def _find_official_lists(src: Path) -> tuple[set[str], dict[str, str]]:
    ignored: set[str] = set()
    splits: dict[str, str] = {}
    for root in (src, src.parent):
        ig = root / "ignore_list.txt"
        if ig.is_file() and not ignored:
            ignored = {ln.strip() for ln in ig.read_text().splitlines() if ln.strip()}
        for split in ("train", "val", "test"):
            f = root / "splits" / f"crossmodal_{split}.txt"
            if f.is_file():
                for ln in f.read_text().splitlines():
                    if ln.strip():
                        splits.setdefault(ln.strip(), split)
    return ignored, splits


def import_aistpp(
    src: str | Path,
    out: str | Path,
    *,
    fps: float | None = None,
    up_axis: str | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import a folder of AIST++ motion ``.pkl`` files (searched recursively) into ``out``."""
    src, out = Path(src), Path(out)
    files = find_sources(src, ".pkl", "AIST++")
    ignored, splits = _find_official_lists(src)

    def read(path: Path) -> SourceItem:
        if path.stem in ignored:
            raise DataFormatError("listed in AIST++ ignore_list.txt (known bad annotation)")
        info = parse_sequence_name(path.stem)
        extra = {k: v for k, v in info.items() if k != "genre"}
        return SourceItem(path.stem, read_aistpp_motion(path), source_video=path.stem,
                          genre=info.get("genre"), split=splits.get(path.stem), extra=extra)

    return run_import(files, src, out, read, dataset="aistpp", importer_version=IMPORTER_VERSION,
                      fps=fps, up_axis=up_axis, overwrite=overwrite, progress=progress)
