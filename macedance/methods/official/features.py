"""Music features for released methods: computed from an audio/video file with the method's named music preset,
or read from a precomputed feature file — our music ``.npz`` or a bare ``.npy`` (T, D) array as the official
repositories cache them (EDGE's ``baseline_feats``/``juke_feats``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from macedance.errors import DataFormatError


def method_features(path: Path, *, preset: str, dim: int, fps: float = 30.0) -> np.ndarray:
    """(T, dim) float32 features for ``path`` at ``fps``.

    Raises:
        DataFormatError: a feature file of another width or rate (names the file, expected vs found).
    """
    if path.suffix.lower() == ".npy":
        feats = np.load(path, allow_pickle=False)
        if feats.ndim != 2 or feats.shape[1] != dim:
            raise DataFormatError(f"{path}: expected ({dim}-d) features of shape (T, {dim}) at {fps:g} fps, found {feats.shape}")
        return np.asarray(feats, dtype=np.float32)
    if path.suffix.lower() == ".npz":
        from macedance.music.analysis import load_music

        m = load_music(path)
        if abs(float(m["fps"]) - fps) > 1e-6 or m["features"].shape[1] != dim:
            raise DataFormatError(f"{path}: expected {dim}-d music features at {fps:g} fps, found "
                                  f"{m['features'].shape[1]}-d at {float(m['fps']):g} fps")
        return np.asarray(m["features"], dtype=np.float32)
    from macedance.music.analysis import analyze_file
    from macedance.music.presets import get_music_preset

    analysis = analyze_file(path, get_music_preset(preset))[0]
    if analysis.features.shape[1] != dim:
        raise DataFormatError(f"{path}: preset {preset!r} gives {analysis.features.shape[1]}-d features, the method needs {dim}-d")
    return np.asarray(analysis.features, dtype=np.float32)
