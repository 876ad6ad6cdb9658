"""The SMPL-24 kinematic tree and rest skeletons.

A :class:`RestSkeleton` holds the 24 rest-pose joint positions (metres, y-up, SMPL's T-pose frame)
that forward kinematics rotates. Two sources:

* :func:`builtin_skeleton` — the SMPL mean-shape skeleton shipped with macedance, no licence file
  needed. Figures: the 23 parent→child bone vectors are the ``smpl_offsets`` table of EDGE
  (Stanford-TML/EDGE @17c3428, ``vis.py``, MIT licence), i.e. differences of SMPL template joints;
  the pelvis rest position (−0.00217, −0.24079, 0.02858) m is the left-hip template point used by
  Bailando's/AIST++'s geometric features, (0.056408, −0.323069, 0.010920), minus EDGE's pelvis→left-hip
  bone. The test suite checks these bone lengths against real AIST++ joint data (rigid to < 1e-6 m).
* :func:`skeleton_from_smplx` — rest joints of the user's own licensed SMPL model files, through the
  ``smplx`` package (``J_regressor · (v_template + shapedirs · β)``). Never bundled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import BodyModelError, MissingDependencyError

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)
NUM_SMPL_JOINTS = 24

# SMPL-H (52 joints): the 22 body joints of SMPL, then 15 per hand (left first).
SMPLH_PARENTS: tuple[int, ...] = SMPL_PARENTS[:22] + (
    20, 22, 23, 20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35,
    21, 37, 38, 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50,
)

# Foot joints used for contact labels, in EDGE/FineDance order: L ankle, R ankle, L foot, R foot.
FOOT_JOINTS: tuple[int, ...] = (7, 8, 10, 11)

# Parent→child bone vectors of the SMPL template (metres, y-up); see the module docstring.
_BUILTIN_BONES = np.array([
    [0.0, 0.0, 0.0],
    [0.05858135, -0.08228004, -0.01766408],
    [-0.06030973, -0.09051332, -0.01354254],
    [0.00443945, 0.12440352, -0.03838522],
    [0.04345142, -0.38646945, 0.008037],
    [-0.04325663, -0.38368791, -0.00484304],
    [0.00448844, 0.1379564, 0.02682033],
    [-0.01479032, -0.42687458, -0.037428],
    [0.01905555, -0.4200455, -0.03456167],
    [-0.00226458, 0.05603239, 0.00285505],
    [0.04105436, -0.06028581, 0.12204243],
    [-0.03483987, -0.06210566, 0.13032329],
    [-0.0133902, 0.21163553, -0.03346758],
    [0.07170245, 0.11399969, -0.01889817],
    [-0.08295366, 0.11247234, -0.02370739],
    [0.01011321, 0.08893734, 0.05040987],
    [0.12292141, 0.04520509, -0.019046],
    [-0.11322832, 0.04685326, -0.00847207],
    [0.2553319, -0.01564902, -0.02294649],
    [-0.26012748, -0.01436928, -0.03126873],
    [0.26570925, 0.01269811, -0.00737473],
    [-0.26910836, 0.00679372, -0.00602676],
    [0.08669055, -0.01063603, -0.01559429],
    [-0.0887537, -0.00865157, -0.01010708],
])
_BUILTIN_LEFT_HIP = np.array([0.056408, -0.323069, 0.010920])
_BUILTIN_PELVIS = _BUILTIN_LEFT_HIP - _BUILTIN_BONES[1]

SMPL_DIR_ENV = "MACEDANCE_SMPL_DIR"


def kinematic_levels(parents: tuple[int, ...]) -> list[np.ndarray]:
    """Joint indices grouped by depth in the tree (root first): an order in which parents come first."""
    depth = np.zeros(len(parents), dtype=int)
    for j, p in enumerate(parents):
        if p >= j and p != -1:
            raise ValueError(f"parents must be topologically ordered; joint {j} has parent {p}")
        depth[j] = 0 if p < 0 else depth[p] + 1
    return [np.flatnonzero(depth == d) for d in range(depth.max() + 1)]


@dataclass(frozen=True)
class RestSkeleton:
    """Rest-pose joint positions of a 24-joint SMPL body.

    Attributes:
        joints: (24, 3) float64 rest joint positions in metres (SMPL frame: y-up, facing +z).
        name: short identifier recorded in provenance (``"builtin-smpl"``, ``"smplx:…"``).
        parents: parent index of each joint (−1 for the root).
    """

    joints: np.ndarray
    name: str
    parents: tuple[int, ...] = SMPL_PARENTS
    levels: list[np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        j = np.asarray(self.joints, dtype=np.float64)
        if j.shape != (len(self.parents), 3) or not np.isfinite(j).all():
            raise ValueError(f"rest joints must be finite ({len(self.parents)}, 3), got {j.shape}")
        j.setflags(write=False)
        object.__setattr__(self, "joints", j)
        object.__setattr__(self, "levels", kinematic_levels(self.parents))

    @property
    def offsets(self) -> np.ndarray:
        """(24, 3) parent→child bone vectors; row 0 is the root's absolute rest position."""
        off = self.joints.copy()
        p = np.asarray(self.parents)
        off[1:] -= self.joints[p[1:]]
        return off

    @property
    def bone_lengths(self) -> np.ndarray:
        """(23,) length of each bone joint→parent, metres."""
        return np.linalg.norm(self.offsets[1:], axis=-1)


def builtin_skeleton() -> RestSkeleton:
    """The SMPL mean-shape rest skeleton shipped with macedance (no licensed file needed)."""
    parents = np.asarray(SMPL_PARENTS)
    joints = np.zeros((NUM_SMPL_JOINTS, 3))
    joints[0] = _BUILTIN_PELVIS
    for j in range(1, NUM_SMPL_JOINTS):
        joints[j] = joints[parents[j]] + _BUILTIN_BONES[j]
    return RestSkeleton(joints, name="builtin-smpl")


_MODEL_FILE_PATTERNS = (
    "SMPL_{G}.npz", "SMPL_{G}.pkl", "smpl/SMPL_{G}.npz", "smpl/SMPL_{G}.pkl",
    "basicModel_{g}_lbs_10_207_0_v1.0.0.pkl", "basicmodel_{g}_lbs_10_207_0_v1.0.0.pkl",
    "basicModel_{g}_lbs_10_207_0_v1.1.0.pkl", "basicmodel_{g}_lbs_10_207_0_v1.1.0.pkl",
)
_GENDER_SHORT = {"neutral": "neutral", "male": "m", "female": "f"}


def find_smpl_model_file(model: str | Path | None, gender: str = "neutral") -> Path:
    """Resolve the user's SMPL model file.

    Args:
        model: a model file (``.pkl``/``.npz``) or a directory holding ``SMPL_{GENDER}.{npz,pkl}``
            (also under ``smpl/``) or the official ``basicModel_*`` files. ``None`` reads the
            ``MACEDANCE_SMPL_DIR`` environment variable.
        gender: ``neutral``, ``male`` or ``female``.

    Raises:
        BodyModelError: nothing given, or no model file found; the message says how to fix it.
    """
    if gender not in _GENDER_SHORT:
        raise BodyModelError(f"SMPL gender must be neutral, male or female, got {gender!r}")
    if model is None:
        env = os.environ.get(SMPL_DIR_ENV)
        if not env:
            raise BodyModelError(
                "no SMPL model given: pass `smpl_model` (a folder) or set MACEDANCE_SMPL_DIR to the folder "
                "with your licensed SMPL files (SMPL_NEUTRAL.npz/.pkl); macedance never bundles them"
            )
        model = env
    path = Path(model).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for pattern in _MODEL_FILE_PATTERNS:
            cand = path / pattern.format(G=gender.upper(), g=_GENDER_SHORT[gender])
            if cand.is_file():
                return cand
        raise BodyModelError(
            f"{path}: no SMPL {gender} model file found (looked for SMPL_{gender.upper()}.npz/.pkl, "
            "also under smpl/, and the official basicModel_*.pkl names)"
        )
    raise BodyModelError(f"{path}: SMPL model path does not exist")


def resolve_smpl_model(model: str | Path | None, gender: str = "neutral") -> Path | None:
    """The user's SMPL model file, resolved once: ``model`` (``--smpl-model``) or, when it is not given,
    ``MACEDANCE_SMPL_DIR``; ``None`` when neither is set (the built-in skeleton).

    Raises:
        BodyModelError: the given path (or the environment variable's) holds no model file.
    """
    if model is None and not os.environ.get(SMPL_DIR_ENV):
        return None
    return find_smpl_model_file(model, gender).resolve()


def smpl_model_digest(model: str | Path, gender: str = "neutral") -> str:
    """sha256 of the model file that ``model`` (a file or folder) resolves to: what a cached or resumed
    result made with the model depends on (not its path)."""
    from macedance.fileio import sha256_file

    return sha256_file(find_smpl_model_file(model, gender))


_SMPL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


def _to_dense(value: Any, key: str, path: Path) -> np.ndarray:
    """A plain array from an array, a scipy-sparse placeholder or a chumpy placeholder."""
    from macedance.safe_pickle import InertObject

    if isinstance(value, InertObject):
        state = value.state if isinstance(value.state, dict) else {}
        if value.pickle_module.startswith("chumpy") and "x" in state:
            return _to_dense(state["x"], key, path)
        if value.pickle_module.startswith("scipy.sparse") and {"data", "indices", "indptr"} <= set(state):
            shape = tuple(state.get("_shape") or state.get("shape"))
            data, indices, indptr = (np.asarray(state[k]) for k in ("data", "indices", "indptr"))
            dense = np.zeros(shape, dtype=np.float64)
            csc = value.pickle_name.startswith("csc")
            for major in range(len(indptr) - 1):
                sl = slice(indptr[major], indptr[major + 1])
                if csc:
                    dense[indices[sl], major] = data[sl]
                else:
                    dense[major, indices[sl]] = data[sl]
            return dense
        raise BodyModelError(f"{path}: field {key!r} holds an unsupported object {value.pickle_module}.{value.pickle_name}")
    arr = np.asarray(value)
    if arr.dtype.hasobject:
        raise BodyModelError(f"{path}: field {key!r} is not numeric")
    return arr


def load_smpl_model_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an SMPL model file, read without executing anything.

    ``.npz`` is read with ``allow_pickle=False``; ``.pkl`` with the restricted unpickler, where
    scipy-sparse and chumpy objects (as in the official SMPL downloads) become plain arrays without
    importing either package.
    """
    from macedance.errors import MaceDanceError
    from macedance.safe_pickle import safe_load_pickle

    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                raw: Any = {k: z[k] for k in z.files}
        else:
            raw = safe_load_pickle(path, inert_modules=("scipy.sparse", "chumpy"))
    except MaceDanceError as exc:
        raise BodyModelError(f"cannot load SMPL model: {exc}") from None
    except Exception as exc:  # zip / npy errors
        raise BodyModelError(f"{path}: cannot load SMPL model: {exc}") from None
    if not isinstance(raw, dict):
        raise BodyModelError(f"{path}: cannot load SMPL model: expected a dict of arrays")
    missing = [k for k in _SMPL_KEYS if k not in raw]
    if missing:
        raise BodyModelError(f"{path}: cannot load SMPL model: missing field(s) {missing}")
    return {k: _to_dense(raw[k], k, path) for k in _SMPL_KEYS}


def skeleton_from_smplx(
    model: str | Path | None = None, gender: str = "neutral", betas: np.ndarray | None = None
) -> RestSkeleton:
    """Rest skeleton of the user's licensed SMPL model, built by the ``smplx`` package.

    The model file is read by :func:`load_smpl_model_arrays` (never plain pickle) and handed to
    ``smplx.SMPL``; the rest joints are ``J_regressor · (v_template + shapedirs · β)``.

    Args:
        model: model file or directory (see :func:`find_smpl_model_file`); ``None`` reads
            ``MACEDANCE_SMPL_DIR``.
        gender: ``neutral``, ``male`` or ``female``.
        betas: (≤ num_betas,) shape coefficients; zeros (mean shape) when omitted.
    """
    path = find_smpl_model_file(model, gender)
    arrays = load_smpl_model_arrays(path)
    try:
        import smplx
        import torch
        from smplx.utils import Struct
    except ImportError as exc:  # pragma: no cover - smplx is a core dependency
        raise MissingDependencyError("the smplx package is needed: pip install smplx") from exc
    nb = 10 if betas is None else int(np.asarray(betas).reshape(-1).shape[0])
    try:
        body = smplx.SMPL(model_path=str(path), data_struct=Struct(**arrays), gender=gender, num_betas=nb,
                          dtype=torch.float64)
    except Exception as exc:  # smplx raises assorted errors on malformed arrays
        raise BodyModelError(f"{path}: cannot build the SMPL model: {exc}") from exc
    b = torch.zeros(nb, dtype=torch.float64) if betas is None else torch.as_tensor(np.asarray(betas, np.float64).reshape(-1))
    with torch.no_grad():
        out = body(betas=b[None], return_verts=False)
    joints = out.joints[0, :NUM_SMPL_JOINTS].numpy()
    if body.J_regressor.shape[0] != NUM_SMPL_JOINTS:
        raise BodyModelError(f"{path}: expected a 24-joint SMPL model, found {body.J_regressor.shape[0]} joints")
    return RestSkeleton(joints.astype(np.float64), name=f"smplx:{path.name}:{gender}")
