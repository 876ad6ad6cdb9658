"""The sources of ``data render``: motion files, and the music file matched to each (see the package docstring)."""

from __future__ import annotations

from pathlib import Path

from macedance.datasets.curation.state import Source
from macedance.errors import InputNotFoundError


def find_motions(motion_dir: str | Path) -> tuple[Path, list[Source]]:
    """The search root (``MOTION_DIR/motions`` of an imported folder, else ``MOTION_DIR``) and every
    non-hidden ``.npz`` below it as (path, path relative to the root, first sub-folder or None)."""
    motion_dir = Path(motion_dir)
    if not motion_dir.is_dir():
        raise InputNotFoundError(f"{motion_dir}: motion folder not found")
    root = motion_dir / "motions" if (motion_dir / "motions").is_dir() else motion_dir
    out = []
    for p in sorted(root.rglob("*.npz")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            out.append((p, rel.as_posix(), rel.parts[0] if len(rel.parts) > 1 else None))
    if not out:
        raise InputNotFoundError(f"{root}: no motion .npz files found (an imported folder or a folder of motion files)")
    return root, out


def index_music(music_dir: str | Path | None) -> dict[str, list[str]]:
    """Audio/video files below ``music_dir`` by stem (several files may share a stem)."""
    from macedance.io.audio import MEDIA_SUFFIXES

    if music_dir is None:
        return {}
    music_dir = Path(music_dir)
    if not music_dir.is_dir():
        raise InputNotFoundError(f"{music_dir}: `music_dir` not found")
    index: dict[str, list[str]] = {}
    for p in sorted(music_dir.rglob("*")):
        if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES and not p.name.startswith("."):
            index.setdefault(p.stem, []).append(str(p))
    return index


def music_keys(stem: str, meta: dict[str, str]) -> list[str]:
    """The music file stems tried for a motion, in order (see the module docstring)."""
    from macedance.music.features import aist_music_id

    keys = []
    for k in (meta.get("music_id") or aist_music_id(stem), aist_music_id(meta.get("source_video", "")), meta.get("source_video"), stem):
        if k and k not in keys:
            keys.append(k)
    return keys


def match_music(stem: str, meta: dict[str, str], index: dict[str, list[str]]) -> tuple[Path | None, str]:
    """The music file of a motion, or None and why not."""
    keys = music_keys(stem, meta)
    for k in keys:
        found = index.get(k, [])
        if len(found) > 1:
            return None, f"ambiguous music: {len(found)} files named {k}.* ({', '.join(Path(f).name for f in found)})"
        if found:
            return Path(found[0]), ""
    tried = ", ".join(f"{k}.*" for k in keys)
    return None, f"no music file {tried} in --music-dir" if index else "no --music-dir given"
