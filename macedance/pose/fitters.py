"""Video → SMPL estimators behind one interface: the fit stage of ``macedance data build``.

Built-in: ``smplify`` — :func:`macedance.pose.fit.fit_smpl` (keypoints and landmarks → SMPL-24, CPU,
offline, with the physical refinement). Other estimators (GVHMR, WHAM, … installed by the user, on a
GPU) plug in through the entry-point group ``macedance.fitters``: each entry point names a factory
``make(**options) -> Fitter``; ``data build --fitter NAME --fit-option key=value`` selects one.

A :class:`Fitter` gets one clip window (:class:`FitInput`: the source video and its frame range, the
window's 2D keypoints and optional 3D landmarks, the body's rest skeleton) and returns a
:class:`FitOutput` — an SMPL-24 :class:`~macedance.schema.Motion` at the source frame rate, one pose per
source frame, in a y-up world in metres with the lowest foot joint at y = 0, and the camera it was
seen from (:class:`~macedance.motion.camera.PinholeCamera`). Whatever the estimator, the build measures
the same reprojection error (:func:`reprojection_error`) and the same physical diagnostics on its
output, so their manifest columns compare across estimators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from macedance.errors import MaceDanceError, ValidationError
from macedance.motion.camera import PinholeCamera
from macedance.motion.skeleton import RestSkeleton
from macedance.schema.motion import Motion

ENTRY_POINT_GROUP = "macedance.fitters"
BUILTIN = "smplify"


@dataclass(frozen=True)
class FitInput:
    """One clip window to fit.

    Attributes:
        video: the source video file.
        start, end: its source frames ``[start, end)``.
        keypoints: (T, K, 3) pixels (x right, y down) + confidence, T = end − start, on ``skeleton``.
        skeleton: the keypoints' skeleton (``mediapipe33``, ``coco17``, ``vitpose25``).
        landmarks: (T, K, 4) MediaPipe-convention world landmarks + visibility, or None.
        size: (width, height) of the source frames, px.
        fps: source frame rate.
        rest: the rest skeleton (bone lengths) the build uses.
    """

    video: Path
    start: int
    end: int
    keypoints: np.ndarray
    skeleton: str
    landmarks: np.ndarray | None
    size: tuple[int, int]
    fps: float
    rest: RestSkeleton


@dataclass
class FitOutput:
    """What a fitter returns for one window.

    Attributes:
        motion: SMPL-24 motion, T frames at the source fps, y-up world metres.
        camera: the camera in the motion's world (its ``project`` maps world points to source pixels).
        ok: False when the estimator itself rejects the window; ``reason`` says why.
        stats: extra numbers for provenance (e.g. ``landmark_mm``, timings).
    """

    motion: Motion
    camera: PinholeCamera
    ok: bool = True
    reason: str = ""
    stats: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Fitter(Protocol):
    """A video → SMPL estimator (see the module docstring)."""

    name: str
    version: str

    def config(self) -> dict[str, Any]:
        """Every setting that changes the output (hashed into the build's cache keys)."""
        ...

    def fit(self, window: FitInput) -> FitOutput: ...


class SmplifyFitter:
    """The built-in fit: :func:`macedance.pose.fit.fit_smpl` with ``FitConfig(**options)``."""

    name = BUILTIN
    version = "1"

    def __init__(self, **options: Any):
        from macedance.pose.fit import FitConfig

        try:
            self.cfg = FitConfig(**options)
        except TypeError as exc:
            raise ValidationError("fit options", "FitConfig fields (macedance.pose.fit.FitConfig)", str(exc)) from None

    def config(self) -> dict[str, Any]:
        return self.cfg.to_dict()

    def fit(self, window: FitInput) -> FitOutput:
        from macedance.pose.fit import fit_smpl

        res = fit_smpl(window.keypoints, window.skeleton, window.size, window.fps, landmarks3d=window.landmarks, rest=window.rest,
                       config=self.cfg)
        return FitOutput(res.motion, res.camera, res.ok, res.reason, {"landmark_mm": float(res.landmark_mm), "fit_seconds": res.seconds})


def plugin_fitters() -> dict[str, Any]:
    """Entry points of the ``macedance.fitters`` group (name → entry point, not loaded)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def list_fitters() -> list[str]:
    return [BUILTIN, *sorted(plugin_fitters())]


def get_fitter(name: str, options: dict[str, Any] | None = None) -> Fitter:
    """The fitter ``name`` made with ``options`` (built-in or an installed plug-in)."""
    options = dict(options or {})
    if name == BUILTIN:
        return SmplifyFitter(**options)
    plugins = plugin_fitters()
    if name not in plugins:
        raise ValidationError("fitter", f"one of {list_fitters()} (plug-ins: entry-point group {ENTRY_POINT_GROUP!r})", repr(name))
    try:
        fitter = plugins[name].load()(**options)
    except Exception as exc:  # a plug-in's own failure: name it, keep the message
        raise MaceDanceError(f"fit plug-in {name!r} could not be loaded: {type(exc).__name__}: {exc}") from exc
    if not isinstance(fitter, Fitter):
        raise MaceDanceError(f"fit plug-in {name!r} returned {type(fitter).__name__}, which lacks name/version/config()/fit()")
    return fitter


def check_output(out: Any, window: FitInput, name: str) -> FitOutput:
    """``out`` checked against the interface: a FitOutput with a T-frame SMPL-24 motion at the window's fps."""
    T = window.end - window.start
    if not isinstance(out, FitOutput):
        raise MaceDanceError(f"fitter {name!r} returned {type(out).__name__}, expected FitOutput")
    m = out.motion
    if m.poses.shape != (T, 24, 3) or m.trans.shape != (T, 3):
        raise MaceDanceError(f"fitter {name!r}: motion of shape poses {m.poses.shape}, trans {m.trans.shape}; expected ({T}, 24, 3), ({T}, 3)")
    if abs(m.fps - window.fps) > 1e-6:
        raise MaceDanceError(f"fitter {name!r}: motion at {m.fps} fps, expected the source's {window.fps}")
    return out


def reprojection_error(motion: Motion, camera: PinholeCamera, window: FitInput) -> tuple[float, float]:
    """Mean 2D error (px, and × the median person height) of the motion's joints projected by ``camera``
    against the window's confident keypoints mapped onto SMPL joints — the fit's own measure
    (:class:`macedance.pose.fit.FitResult`), for any estimator."""
    from macedance.pose.fit import FitConfig
    from macedance.pose.fit_init import mean_reprojection_px, observe

    obs = observe(np.asarray(window.keypoints, np.float64), None, window.skeleton, FitConfig())
    px = mean_reprojection_px(camera, motion.joints(window.rest), obs)
    return px, px / obs.height_px
