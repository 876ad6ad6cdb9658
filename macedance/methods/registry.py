"""Methods as seen by the benchmark: metadata plus ``generate(music, seconds, seed, genre) → Motion | Joints3D``.

Built-ins: every method of :mod:`macedance.methods.catalog` (given its checkpoint) and ``folder`` (outputs
produced elsewhere: one motion file per test clip, named by clip id). Other packages add methods
through the entry-point group ``macedance.methods``: each entry point names a factory
``make(ckpt: Path | None, **options) -> MotionMethod``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from macedance import __version__
from macedance.errors import MaceDanceError, ValidationError
from macedance.fileio import sha256_file
from macedance.schema import Joints3D, Motion

ENTRY_POINT_GROUP = "macedance.methods"


@dataclass(frozen=True)
class MethodMeta:
    name: str
    version: str
    description: str
    paper: str
    licence: str
    capabilities: tuple[str, ...] = ("music2motion",)
    weights: dict[str, str] = field(default_factory=dict)  # file → sha256
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["capabilities"] = list(self.capabilities)
        return d


@runtime_checkable
class MotionMethod(Protocol):
    meta: MethodMeta

    def generate(self, music: Path, seconds: float | None, seed: int, genre: str | None, clip_id: str) -> Motion | Joints3D:
        """One generated sequence: a :class:`Motion` (SMPL rotations) or, for methods that output joint positions
        (Bailando), :class:`Joints3D`; either is evaluable by every 3D motion preset."""
        ...


def clip_seed(seed: int, clip_id: str) -> int:
    """The seed used for one clip: the task seed mixed with the clip id (different noise per clip)."""
    import hashlib

    return int(hashlib.sha256(f"{seed}:{clip_id}".encode()).hexdigest()[:8], 16)


class CheckpointMethod:
    """A built-in method (diffusion or reference) restored from a run folder."""

    def __init__(self, name: str, ckpt: Path, device: str = "cpu"):
        from macedance.methods.catalog import get_method
        from macedance.training.motion import CHECKPOINT, load_checkpoint

        info = get_method(name)
        path = ckpt / CHECKPOINT if ckpt.is_dir() else ckpt
        state = load_checkpoint(path)
        found = str(state.get("method", "mace-dance"))
        if found != name:
            raise MaceDanceError(f"{path}: the checkpoint is a {found!r} run, not {name!r}")
        cfg = {k: state[k] for k in ("expert_config", "diffusion_config", "train_config") if k in state}
        if isinstance(state.get("model"), dict):  # a network (reference methods have none)
            cfg["parameters"] = sum(int(v.numel()) for v in state["model"].values() if hasattr(v, "numel"))
        self.meta = MethodMeta(name, f"macedance {__version__} step {int(state.get('step', 0))}", info.description,
                               info.paper, "Apache-2.0 (code); weights: trained by the user",
                               weights={path.name: sha256_file(path)}, config=cfg)
        self.ckpt, self.device = path, device

    def generate(self, music: Path, seconds: float | None, seed: int, genre: str | None, clip_id: str) -> Motion:
        from macedance.methods.generate import generate_motion

        return generate_motion(self.ckpt, music, seconds=seconds, genre=genre, seed=clip_seed(seed, clip_id), device=self.device)


class FolderMethod:
    """Outputs generated elsewhere, one motion file per test clip in a folder, in any layout of
    :mod:`macedance.io.motion_formats` with rotations (macedance ``.npz``; EDGE / MACE-Dance / POPDG, FineDance /
    LODGE, AIST++ / Bailando++, FACT, SMPL-X files) or Bailando's joint positions, detected per file or forced with
    ``motion_format``. Clip ``C`` is ``C.npz``, ``C.pkl``, ``C.npy``, ``C.csv`` or Bailando's ``C.pkl.npy``, else EDGE's
    long-mode ``<label>_C.pkl``."""

    def __init__(self, outputs: Path, name: str = "folder", *, motion_format: str = "auto"):
        import hashlib

        from macedance.io.motion_formats import FORMAT_CHOICES, MOTION_FILE_SUFFIXES
        from macedance.schema._check import choice

        if not outputs.is_dir():
            raise MaceDanceError(f"{outputs}: `outputs` folder not found")
        self.outputs = outputs
        self.motion_format = choice("motion_format", motion_format, FORMAT_CHOICES)
        # The version names the folder's content and the format, so that the benchmark's cache of generated clips
        # is not reused after the files or the format change.
        digest = hashlib.sha256(motion_format.encode())
        for f in sorted(p for p in outputs.iterdir() if p.suffix.lower() in MOTION_FILE_SUFFIXES and p.is_file()):
            digest.update(f"{f.name}:{sha256_file(f)}".encode())
        self.meta = MethodMeta(name, f"external {digest.hexdigest()[:12]}", f"outputs read from {outputs}", "n/a", "n/a",
                               config={"format": motion_format})

    def generate(self, music: Path, seconds: float | None, seed: int, genre: str | None, clip_id: str) -> Motion | Joints3D:
        from macedance.io.motion_formats import find_clip_file, read_motion, read_motion_file

        path = find_clip_file(self.outputs, clip_id)
        try:
            f = read_motion_file(path, motion_format=self.motion_format)
        except ValidationError as exc:
            if exc.field == "fps/up_axis":  # a plain joint array: it carries no fps or up axis, refused with that reason
                return read_motion(path, motion_format=self.motion_format)
            raise
        if f.motion is not None:
            return f.motion
        assert f.joints is not None  # Bailando's files, macedance joints3d
        return Joints3D(f.joints, f.fps, f.up_axis, {"source_format": f.format, "source_file": path.name})


def plugin_methods() -> dict[str, Any]:
    """Entry points of the ``macedance.methods`` group (name → entry point, not loaded yet)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def list_methods() -> list[str]:
    from macedance.methods.catalog import METHODS

    return [*METHODS, "folder", *sorted(plugin_methods())]


def load_method(name: str, *, ckpt: Path | None = None, outputs: Path | None = None, device: str = "cpu", note: str = "") -> MotionMethod:
    """Instantiate method ``name`` (checkpoint for built-ins, outputs folder for ``folder``; ``note``: a released method's
    leaderboard note)."""
    from macedance.methods.catalog import METHODS

    if name == "folder":
        if outputs is None:
            raise ValidationError("outputs", "a folder of generated motions for `method=folder`", "nothing")
        return FolderMethod(outputs)
    if name in METHODS and METHODS[name].kind == "released":
        from macedance.methods.official.released import ReleasedMethod

        return ReleasedMethod(name, ckpt, device=device, note=note)
    if name in METHODS:
        if ckpt is None:
            raise ValidationError("ckpt", f"a run folder trained with `macedance train motion --method {name}`", "nothing")
        return CheckpointMethod(name, ckpt, device)
    plugins = plugin_methods()
    if name in plugins:
        method = plugins[name].load()(ckpt)
        if not isinstance(method, MotionMethod):
            raise MaceDanceError(f"entry point {name!r} did not return a MotionMethod")
        return method
    raise ValidationError("method", "one of " + ", ".join(list_methods()), repr(name))
