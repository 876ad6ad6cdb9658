"""Characters for the 3D renderer: a skinned triangle mesh with materials, posed by our FK.

Two characters, one representation (:class:`Character`):

* ``capsule`` (:func:`capsule_character`) — a body built from the rest skeleton alone (no licensed
  file): tapered capsules for the limbs, torso, neck and feet, flattened hands, an ellipsoid head
  with ears and a nose, each capsule rigidly attached to one joint (its one-hot skinning weight).
  Neighbouring capsules overlap around their shared joint, so no crack opens when the body bends.
* ``smpl`` (:func:`smpl_character`) — the user's licensed SMPL mesh (6,890 vertices), read by
  :func:`macedance.motion.skeleton.load_smpl_model_arrays` (never plain pickle), mean shape, with its
  pose blend shapes, skinned by linear blend skinning over the transforms of
  :func:`macedance.motion.kinematics.forward_kinematics` (``global_rotations=True``).

Materials (per face): skin, shirt (striped), trousers, shoes and the head (skin with hair, eyes and
a mouth painted from the rest-pose position of each surface point, see :class:`HeadStyle`). The
texture is procedural, so nothing but the geometry is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from macedance.motion.skeleton import NUM_SMPL_JOINTS, RestSkeleton, builtin_skeleton

SKIN, SHIRT, TROUSERS, SHOES, HEAD = range(5)
MATERIALS = ("skin", "shirt", "trousers", "shoes", "head")
CHARACTERS = ("capsule", "smpl")


@dataclass(frozen=True)
class HeadStyle:
    """Where the procedural head texture puts hair, eyes and mouth (rest-pose metres, y up, facing +z).

    A head point p (relative to ``centre``) is hair when it is more than ``hair_top`` above the
    centre, or behind ``hair_back`` (z) and above ``hair_nape`` (y); on the front half (z > 0), a
    point whose (x, y) lies within ``eye_radius`` of an eye centre is an eye, within the ellipse
    ``mouth_size`` around ``mouth`` a mouth.
    """

    centre: tuple[float, float, float]
    eyes: tuple[tuple[float, float], tuple[float, float]]  # (x, y) of each eye, relative to the centre
    mouth: tuple[float, float]
    mouth_size: tuple[float, float] = (0.022, 0.008)
    eye_radius: float = 0.012
    hair_top: float = 0.055
    hair_back: float = -0.01
    hair_nape: float = -0.05


@dataclass(frozen=True)
class Character:
    """A skinned mesh.

    Attributes:
        name: ``capsule`` or ``smpl``.
        rest: the skeleton FK poses (its joints are the skinning centres).
        vertices: (V, 3) rest-pose vertices, metres (the rest skeleton's frame: y up, facing +z).
        faces: (F, 3) int64, counter-clockwise seen from outside.
        weights: (V, 24) skinning weights (rows sum to 1).
        material: (F,) int64 material of each face (:data:`MATERIALS`).
        head: where the head texture goes.
        posedirs: (207, 3V) SMPL pose blend shapes, or None.
        source: provenance (the model file, or ``builtin``).
    """

    name: str
    rest: RestSkeleton
    vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    material: np.ndarray
    head: HeadStyle
    posedirs: np.ndarray | None = None
    source: str = "builtin"

    @cached_property
    def normals(self) -> np.ndarray:
        """(V, 3) unit rest-pose vertex normals (area-weighted means of the adjacent faces' normals)."""
        return vertex_normals(self.vertices, self.faces)

    def pose(self, rotmats: Any, trans: Any) -> tuple[Any, Any, Any]:
        """Posed vertices, vertex normals and joints (torch, batched).

        Args:
            rotmats: (B, 24, 3, 3) local joint rotations (torch).
            trans: (B, 3) root translation, metres.

        Returns:
            ``(vertices (B, V, 3), normals (B, V, 3), joints (B, 24, 3))`` in the motion's world,
            metres; the normals are the rest normals turned by each vertex's blended rotation (exact
            for the rigid capsules, the usual approximation for a skinned mesh).
        """
        import torch

        from macedance.motion.kinematics import forward_kinematics

        like = dict(dtype=rotmats.dtype, device=rotmats.device)
        pos, rot_g = forward_kinematics(rotmats, trans, self.rest, global_rotations=True)
        v = torch.as_tensor(self.vertices, **like)
        if self.posedirs is not None:
            eye = torch.eye(3, **like)
            feat = (rotmats[:, 1:] - eye).reshape(len(rotmats), -1)  # (B, 207) as smplx
            v = v + (feat @ torch.as_tensor(self.posedirs, **like)).view(len(rotmats), -1, 3)
        else:
            v = v.expand(len(rotmats), -1, -1)
        J = torch.tensor(self.rest.joints, **like)
        w = torch.as_tensor(self.weights, **like)
        # Linear blend skinning: v' = Σ_j w_j (R_j (v − J_j) + p_j) = (Σ w_j R_j) v + Σ w_j (p_j − R_j J_j).
        t = pos - (rot_g @ J[..., None])[..., 0]  # (B, 24, 3)
        A = torch.einsum("vj,bjkl->bvkl", w, rot_g)
        b = w @ t  # (B, V, 3)
        n = (A @ torch.as_tensor(self.normals, **like)[..., None])[..., 0]
        return (A @ v[..., None])[..., 0] + b, n / n.norm(dim=-1, keepdim=True).clamp(min=1e-12), pos


def vertex_normals(vertices: Any, faces: Any) -> Any:
    """(..., V, 3) unit vertex normals of (..., V, 3) vertices (numpy or torch): area-weighted sums of
    the adjacent faces' normals (faces counter-clockwise seen from outside)."""
    from macedance.motion._xp import cross, norm, xp

    m = xp(vertices)
    v0, v1, v2 = (vertices[..., faces[:, k], :] for k in range(3))
    fn = cross(v1 - v0, v2 - v0)
    vn = m.zeros_like(vertices)
    for k in range(3):
        if m is np:
            np.add.at(vn, faces[:, k], fn)  # (V, 3) only
        else:
            vn.index_add_(-2, faces[:, k], fn)
    return vn / m.clip(norm(vn, keepdims=True), 1e-12, None)


def capsule_character(rest: RestSkeleton | None = None, segments: int = 16, rings: int = 6) -> Character:
    """The capsule body built from ``rest`` (default: the built-in SMPL mean-shape skeleton).

    Args:
        rest: rest skeleton (bone lengths and proportions).
        segments: vertices around each capsule.
        rings: latitude rings per hemispherical cap.
    """
    rest = rest or builtin_skeleton()
    J = rest.joints
    x, y, z = np.eye(3)
    # SMPL's head joint lies near the middle of the head, at about the height of the ears and eyes
    # (the top of the SMPL head is some 12–14 cm above it): the skull's centre 2.5 cm above the joint.
    head_c = J[15] + 0.025 * y + 0.015 * z
    ear = head_c
    parts = [  # (attached joint, end a, end b, radius a, radius b, second-axis scale, material)
        (0, J[1] + 0.02 * x + 0.02 * y, J[2] - 0.02 * x + 0.02 * y, 0.095, 0.095, 0.85, TROUSERS),  # hips
        (3, J[0] + 0.02 * y, J[6], 0.12, 0.125, 0.7, SHIRT),  # abdomen
        (9, J[9] - 0.06 * y, J[12] - 0.06 * y, 0.145, 0.135, 0.6, SHIRT),  # chest
        (9, J[16] - 0.05 * x - 0.035 * y, J[17] + 0.05 * x - 0.035 * y, 0.06, 0.06, 0.9, SHIRT),  # shoulders
        (12, J[12], J[15], 0.048, 0.045, 1.0, SKIN),  # neck
        (15, head_c - 0.03 * y, head_c + 0.03 * y, 0.085, 0.085, 1.15, HEAD),  # head
        (15, ear + 0.082 * x, ear + 0.082 * x, 0.022, 0.022, 0.6, SKIN),  # left ear
        (15, ear - 0.082 * x, ear - 0.082 * x, 0.022, 0.022, 0.6, SKIN),  # right ear
        (15, head_c - 0.02 * y + 0.085 * z, head_c - 0.03 * y + 0.1 * z, 0.014, 0.012, 1.0, SKIN),  # nose
    ]
    for side, (sh, el, wr, ha, hip, kn, an, ft) in enumerate(((16, 18, 20, 22, 1, 4, 7, 10), (17, 19, 21, 23, 2, 5, 8, 11))):
        del side
        parts += [
            (sh, J[sh], J[el], 0.058, 0.047, 1.0, SHIRT),  # upper arm
            (el, J[el], J[wr], 0.044, 0.036, 1.0, SKIN),  # forearm
            (wr, J[wr], J[ha] + 0.4 * (J[ha] - J[wr]), 0.04, 0.034, 0.55, SKIN),  # hand
            (hip, J[hip], J[kn], 0.085, 0.062, 1.0, TROUSERS),  # thigh
            (kn, J[kn], J[an], 0.06, 0.046, 1.0, TROUSERS),  # shin
            (an, J[an] - 0.035 * y - 0.03 * z, J[ft] - 0.01 * y + 0.05 * z, 0.045, 0.04, 0.7, SHOES),  # foot
        ]
    verts, faces, weights, material = [], [], [], []
    n = 0
    for joint, a, b, ra, rb, scale, mat in parts:
        v, f = capsule_mesh(np.asarray(a, float), np.asarray(b, float), ra, rb, scale, segments, rings)
        verts.append(v)
        faces.append(f + n)
        w = np.zeros((len(v), NUM_SMPL_JOINTS))
        w[:, joint] = 1.0
        weights.append(w)
        material.append(np.full(len(f), mat))
        n += len(v)
    head = HeadStyle(tuple(head_c), ((0.031, 0.008), (-0.031, 0.008)), (0.0, -0.05), hair_top=0.05)
    return Character("capsule", rest, np.concatenate(verts), np.concatenate(faces).astype(np.int64), np.concatenate(weights),
                     np.concatenate(material).astype(np.int64), head)


def capsule_mesh(a: np.ndarray, b: np.ndarray, ra: float, rb: float, scale: float, segments: int,
                  rings: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed capsule (two hemispherical caps joined by a cone) from a to b, faces wound outwards.

    The cross-section is an ellipse: radius r along the first axis (the rest x axis made
    perpendicular to the capsule, or z for a capsule along x) and ``scale`` × r along the second.
    """
    axis = b - a
    length = float(np.linalg.norm(axis))
    u = axis / length if length > 1e-9 else np.array([0.0, 1.0, 0.0])
    ref = np.array([1.0, 0.0, 0.0]) if abs(u[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    s = ref - (ref @ u) * u
    s /= np.linalg.norm(s)
    f = np.cross(u, s)
    lon = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    around = np.cos(lon)[:, None] * s + scale * np.sin(lon)[:, None] * f
    rows = []
    for th in np.linspace(-np.pi / 2, 0, rings + 1):  # cap at a, from its pole to the equator
        ring = a + ra * (np.cos(th) * around + np.sin(th) * u)
        rows.append(ring if abs(np.cos(th)) > 1e-9 else ring[:1])
    # The cone between the caps in short sections (long thin triangles have large screen bounding boxes).
    for t in np.linspace(0, 1, max(1, int(np.ceil(length / 0.04))) + 1)[1:]:
        rows.append(a + t * axis + (ra + t * (rb - ra)) * around)
    for th in np.linspace(0, np.pi / 2, rings + 1)[1:]:  # cap at b
        ring = b + rb * (np.cos(th) * around + np.sin(th) * u)
        rows.append(ring if abs(np.cos(th)) > 1e-9 else ring[:1])
    verts, index = [], []
    for ring in rows:
        index.append(np.arange(len(ring)) + sum(len(r) for r in verts))
        verts.append(ring)
    faces = []
    for lo, hi in zip(index[:-1], index[1:], strict=True):
        m = segments
        for i in range(m):
            j = (i + 1) % m
            if len(lo) == 1:
                faces.append((lo[0], hi[j], hi[i]))
            elif len(hi) == 1:
                faces.append((lo[i], lo[j], hi[0]))
            else:
                faces += [(lo[i], lo[j], hi[j]), (lo[i], hi[j], hi[i])]
    v = np.concatenate(verts)
    fa = np.asarray(faces, dtype=np.int64)
    # Orient every face outwards: its normal must point away from the nearest point of the axis.
    p0, p1, p2 = v[fa[:, 0]], v[fa[:, 1]], v[fa[:, 2]]
    n = np.cross(p1 - p0, p2 - p0)
    c = (p0 + p1 + p2) / 3
    t = np.clip(((c - a) @ u), 0.0, length)[:, None]
    out = ((c - (a + t * u)) * n).sum(-1)
    fa[out < 0] = fa[out < 0][:, [0, 2, 1]]
    return v, fa


_JOINT_MATERIAL = {15: HEAD, 12: SKIN, 0: TROUSERS, 1: TROUSERS, 2: TROUSERS, 4: TROUSERS, 5: TROUSERS, 3: SHIRT, 6: SHIRT,
                   9: SHIRT, 13: SHIRT, 14: SHIRT, 16: SHIRT, 17: SHIRT, 7: SHOES, 8: SHOES, 10: SHOES, 11: SHOES}
# SMPL vertex ids of facial landmarks (smplx's vertex_ids["smplh"], the same 6,890-vertex topology).
_SMPL_FACE_VERTS = {"nose": 332, "reye": 6260, "leye": 2800, "rear": 4071, "lear": 583}


def smpl_character(model: str | Path | None = None, gender: str = "neutral") -> Character:
    """The user's SMPL mesh (mean shape) as a :class:`Character`.

    Args:
        model: SMPL model file or folder (see :func:`~macedance.motion.skeleton.find_smpl_model_file`);
            None reads ``MACEDANCE_SMPL_DIR``.
        gender: ``neutral``, ``male`` or ``female``.
    """
    from macedance.motion.skeleton import find_smpl_model_file, load_smpl_model_arrays, skeleton_from_smplx

    path = find_smpl_model_file(model, gender)
    arrays = load_smpl_model_arrays(path)
    rest = skeleton_from_smplx(path, gender)
    v = np.asarray(arrays["v_template"], dtype=np.float64)
    faces = np.asarray(arrays["f"], dtype=np.int64)
    weights = np.asarray(arrays["weights"], dtype=np.float64)
    posedirs = np.asarray(arrays["posedirs"], dtype=np.float64)
    posedirs = posedirs.reshape(-1, posedirs.shape[-1]).T  # (207, 3V), smplx's layout
    owner = weights.argmax(1)
    vmat = np.array([_JOINT_MATERIAL.get(int(j), SKIN) for j in owner])
    material = vmat[faces[:, 0]]
    if len(v) == 6890:
        fv = {k: v[i] for k, i in _SMPL_FACE_VERTS.items()}
        centre = 0.5 * (fv["lear"] + fv["rear"])
        rel = {k: p - centre for k, p in fv.items()}
        head = HeadStyle(tuple(centre), ((rel["leye"][0], rel["leye"][1]), (rel["reye"][0], rel["reye"][1])),
                         (rel["nose"][0], rel["nose"][1] - 0.04), eye_radius=0.009, hair_top=rel["leye"][1] + 0.05)
    else:  # not the SMPL topology: no facial landmarks known, plain head
        head = HeadStyle(tuple(rest.joints[15]), ((9.0, 9.0), (9.0, 9.0)), (9.0, 9.0), hair_top=9.0, hair_nape=9.0)
    return Character("smpl", rest, v, faces, weights, material.astype(np.int64), head, posedirs, source=str(path))


def get_character(name: str, smpl_model: str | Path | None = None) -> Character:
    """``capsule`` (built from the ``--smpl-model`` skeleton when given, else the built-in one) or ``smpl``."""
    from macedance.schema._check import choice

    choice("character", name, CHARACTERS)
    if name == "smpl":
        return smpl_character(smpl_model)
    if smpl_model is not None:
        from macedance.motion.skeleton import skeleton_from_smplx

        return capsule_character(skeleton_from_smplx(smpl_model))
    return capsule_character()
