"""Analyse audio files under a preset, with a content-hash cache, and write/read music ``.npz`` files.

Music ``.npz`` (kind ``music``, schema_version 1): ``features`` (T, D) float32 at ``fps``, ``beats``
(beat times, s), ``beat_frames``, ``tempo`` (BPM), ``fps``, ``sample_rate``, ``hop``, ``duration``
(s), ``start_bpm``; ``meta_json`` holds the preset name and hash, the layout, the source file and
its sha256. The ``beats`` key is what the motion metrics read for BAS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from macedance import __version__
from macedance.cache import NpzCache, cache_key
from macedance.errors import DataFormatError, MaceDanceError
from macedance.fileio import sha256_file
from macedance.io.audio import MEDIA_SUFFIXES, load_audio, resample
from macedance.music.features import MusicAnalysis, aist_start_bpm, analyze
from macedance.music.presets import MusicPreset
from macedance.schema.npz import read_npz, write_npz

log = logging.getLogger(__name__)

ANALYSIS_VERSION = "2"  # bump when the numbers of analyze() change (2: one BLAS thread, any machine)
_FIELDS = ("features", "beats", "beat_frames", "tempo", "fps", "duration", "start_bpm")


def analyze_file(path: str | Path, preset: MusicPreset, use_cache: bool = True) -> tuple[MusicAnalysis, str]:
    """Analysis of one audio/video file and its sha256; cached by content + preset + version."""
    path = Path(path)
    from macedance.io.audio import essentia_available, load_audio_essentia

    digest = sha256_file(path)
    loader = "essentia" if preset.audio_loader == "essentia" and essentia_available() else "macedance"
    if loader != preset.audio_loader:
        log.warning("%s: preset %s reads audio with Essentia's MonoLoader, which is not installed (pip install "
                    "'macedance[essentia]'): using macedance's loader, whose resampling differs slightly", path, preset.name)
    # The AIST++ tempo rule reads the file name, so the name's music id is part of the key.
    key = cache_key("music", ANALYSIS_VERSION, preset.hash, digest, str(aist_start_bpm(path.stem)), loader)
    cache = NpzCache("music")
    if use_cache and (hit := cache.get(key)) is not None:
        return _from_arrays(hit), digest
    if loader == "essentia":
        result = analyze(load_audio_essentia(path, preset.sample_rate), preset, name=path.stem)
    else:
        native = load_audio(path)  # decode once; resample for the features and, if needed, the beats
        result = analyze(resample(native, preset.sample_rate), preset, name=path.stem, native=native)
    if preset.audio_loader != "macedance":
        result.details["audio_loader"] = loader  # which loader read it (recorded only where the preset asks for another)
    if use_cache:
        cache.put(key, _to_arrays(result))
    return result, digest


def _to_arrays(r: MusicAnalysis) -> dict[str, np.ndarray]:
    return {"features": r.features, "beats": r.beat_times, "beat_frames": r.beat_frames, "tempo": np.float64(r.tempo),
            "fps": np.float64(r.fps), "duration": np.float64(r.duration), "start_bpm": np.float64(r.start_bpm),
            "details_json": np.str_(json.dumps(r.details))}


def _from_arrays(a: dict[str, np.ndarray]) -> MusicAnalysis:
    return MusicAnalysis(a["features"], a["beats"], a["beat_frames"], float(a["tempo"]), float(a["fps"]),
                         float(a["duration"]), float(a["start_bpm"]), json.loads(str(a["details_json"])))


def save_music(result: MusicAnalysis, preset: MusicPreset, out: str | Path, *, source: str, digest: str) -> Path:
    """Write a music ``.npz`` (atomically)."""
    arrays = _to_arrays(result)
    arrays.pop("details_json")
    arrays.update(sample_rate=np.int64(preset.sample_rate), hop=np.int64(preset.hop))
    meta = {"preset": preset.name, "preset_hash": preset.hash, "layout": preset.layout, "source_file": source,
            "source_sha256": digest, "macedance": __version__, "analysis_version": ANALYSIS_VERSION}
    return write_npz(out, "music", arrays, meta=meta)


def load_music(path: str | Path | bytes, *, name: str | None = None) -> dict[str, np.ndarray]:
    """Arrays of a music ``.npz`` written by :func:`save_music` (``allow_pickle=False``), from its file or its bytes
    (``name`` for messages)."""
    data = read_npz(path, "music", name=name)
    missing = [k for k in _FIELDS if k not in data]
    if missing:
        from macedance.errors import DataFormatError

        raise DataFormatError(f"{name or path}: missing field(s) {missing}")
    return data


def preset_at_fps(preset: MusicPreset, fps: float | None) -> MusicPreset:
    """``preset`` with its feature frame rate changed to ``fps`` (only the ``clean`` preset allows it)."""
    if fps is None:
        return preset
    if preset.name != "clean":
        raise MaceDanceError(f"`fps`: preset {preset.name} fixes its frame rate ({preset.fps:g} fps); use `preset=clean`")
    return preset.__class__(**{**preset.to_dict(), "fps": fps})


def media_files(src: str | Path) -> list[Path]:
    """``src`` itself, or the audio/video files under the folder ``src`` (recursive, sorted)."""
    src = Path(src)
    if src.is_file():
        return [src]
    if src.is_dir():
        files = sorted(f for f in src.rglob("*") if f.suffix.lower() in MEDIA_SUFFIXES and f.is_file())
        if not files:
            raise MaceDanceError(f"{src}: no audio or video files found")
        return files
    raise MaceDanceError(f"{src}: no such file or folder")


def analyze_files(files: list[Path], out: str | Path, *, preset: MusicPreset, use_cache: bool = True,
                  progress: Callable[[int, int, str], None] | None = None
                  ) -> tuple[list[tuple[str, MusicAnalysis]], list[tuple[str, str]]]:
    """Analyse each file and write ``out/<stem>.npz``; a file that fails (or whose stem another file already
    took) is recorded as ``(path, reason)`` and the batch goes on. Returns (written ``(stem, analysis)``, failed)."""
    out = Path(out)
    rows: list[tuple[str, MusicAnalysis]] = []
    bad: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for i, f in enumerate(files):
        if progress:
            progress(i, len(files), f.name)
        if f.stem in seen:
            bad.append((str(f), f"same name as {seen[f.stem]}: both would write {f.stem}.npz"))
            continue
        seen[f.stem] = f.name
        try:
            result, digest = analyze_file(f, preset, use_cache=use_cache)
            save_music(result, preset, out / f"{f.stem}.npz", source=str(f), digest=digest)
            rows.append((f.stem, result))
        except (MaceDanceError, OSError) as exc:
            bad.append((str(f), str(exc).replace(f"{f}: ", "")))
    if progress:
        progress(len(files), len(files), "")
    return rows, bad


def features_of(path: Path, *, preset: str, dim: int, fps: float = 30.0) -> np.ndarray:
    """(T, dim) float32 music features for ``path`` at ``fps``: computed from an audio/video file with the named music
    preset (cached), or read from our music ``.npz`` or a bare ``.npy`` (T, dim) array, as the official repositories
    cache them (EDGE's ``baseline_feats``).

    Raises:
        DataFormatError: a feature file of another width or rate (names the file, expected vs found).
    """
    if path.suffix.lower() == ".npy":
        feats = np.load(path, allow_pickle=False)
        if feats.ndim != 2 or feats.shape[1] != dim:
            raise DataFormatError(f"{path}: expected ({dim}-d) features of shape (T, {dim}) at {fps:g} fps, found {feats.shape}")
        return np.asarray(feats, dtype=np.float32)
    if path.suffix.lower() == ".npz":
        m = load_music(path)
        if abs(float(m["fps"]) - fps) > 1e-6 or m["features"].shape[1] != dim:
            raise DataFormatError(f"{path}: expected {dim}-d music features at {fps:g} fps, found "
                                  f"{m['features'].shape[1]}-d at {float(m['fps']):g} fps")
        return np.asarray(m["features"], dtype=np.float32)
    from macedance.music.presets import get_music_preset

    analysis = analyze_file(path, get_music_preset(preset))[0]
    if analysis.features.shape[1] != dim:
        raise DataFormatError(f"{path}: preset {preset!r} gives {analysis.features.shape[1]}-d features, the method needs {dim}-d")
    return np.asarray(analysis.features, dtype=np.float32)
