"""The optimisation stage of :func:`macedance.pose.fit.fit_smpl` (torch): the objective and its schedule.

Unknowns per frame: a correction ``exp(δ)`` on the initial root orientation, the 23 local joint
rotations (axis-angle) and the root translation, in the fit's camera frame (x right, y up, z toward the
camera). The objective's terms and weights are documented on :class:`~macedance.pose.fit.FitConfig`;
the schedule runs ``root_iterations`` on the root and translation against the torso only, then the
full objective with the robust scales widened by ``gnc_scale`` for ``gnc_fraction`` of the iterations,
then with the final scales, then — the physical refinement, ``physics_iterations`` — the full objective
plus contact terms (:func:`physics_targets`): planted feet stay still and on a floor plane optimised
with the body (started from the fit so far), no foot goes through it, and the root's distance to the
camera and its position change smoothly.
The module imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from macedance.motion.camera import FOOT_JOINTS, PinholeCamera
from macedance.motion.kinematics import forward_kinematics
from macedance.motion.plausibility import Floor, estimate_floor
from macedance.motion.rotations import axis_angle_to_matrix
from macedance.motion.skeleton import NUM_SMPL_JOINTS, SMPL_PARENTS, RestSkeleton
from macedance.pose.fit_init import HINGES, L_HIP, R_HIP, TORSO, Observations

if TYPE_CHECKING:
    from macedance.pose.fit import FitConfig

_LEAVES = (10, 11, 15, 22, 23)  # their rotations move no joint
_UNOBSERVED = (3, 6, 9, 12, 13, 14)  # spine, neck, collars: no keypoint pins them individually


def optimise(obs: Observations, R_init: np.ndarray, trans_init: np.ndarray, body_init: np.ndarray, camera: PinholeCamera,
             rest: RestSkeleton, fps: float, cfg: FitConfig, device: str) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the fit's objective from the initial state of
    :func:`~macedance.pose.fit_init.initial_state` (float32 on ``device``, in a forked torch RNG
    seeded with ``cfg.seed``; the fit itself draws no random numbers).

    Returns:
        ``(R, trans)``: (T, 24, 3, 3) rotations (root first) and (T, 3) root translations in metres,
        float64 numpy; non-finite if the optimisation diverged.
    """
    dev = torch.device(device)
    objective = _Objective(obs, R_init, camera, rest, fps, cfg, dev)
    T = len(R_init)
    cuda_ids = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_ids):
        torch.manual_seed(cfg.seed)
        root_delta = torch.zeros(T, 3, device=dev, requires_grad=True)
        body = objective.tensor(body_init).requires_grad_(True)
        trans = objective.tensor(trans_init).requires_grad_(True)

        def loss(full: bool, gnc: float) -> Callable[[], torch.Tensor]:
            return lambda: objective(root_delta, body, trans, full, gnc)

        iterations = cfg.iterations_landmarks if obs.obs3d is not None else cfg.iterations
        n_wide = round(iterations * cfg.gnc_fraction)
        _minimise([root_delta, trans], cfg.root_iterations, loss(False, cfg.gnc_scale), cfg)
        _minimise([root_delta, body, trans], n_wide, loss(True, cfg.gnc_scale), cfg)
        _minimise([root_delta, body, trans], iterations - n_wide, loss(True, 1.0), cfg)
        if cfg.physics_iterations > 0 and T >= 3:
            with torch.no_grad():
                J = forward_kinematics(objective.rotations(root_delta, body), trans, rest).double().cpu().numpy()
            plane = objective.set_physics(physics_targets(J, obs, camera, fps, cfg))
            _minimise([root_delta, body, trans, plane], cfg.physics_iterations, loss(True, 1.0), cfg)
        with torch.no_grad():
            R = objective.rotations(root_delta, body).double().cpu().numpy()
            tr = trans.double().cpu().numpy()
    return R, tr


def _minimise(params: list[torch.Tensor], steps: int, loss: Callable[[], torch.Tensor], cfg: FitConfig) -> None:
    """``steps`` iterations of ``cfg.optimizer`` on ``params``: L-BFGS (strong-Wolfe line search) or
    Adam with a cosine-decayed learning rate (``cfg.lr`` → ``cfg.lr / 10``)."""
    if steps <= 0:
        return
    if cfg.optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            params, lr=1.0, max_iter=steps, history_size=cfg.lbfgs_history, tolerance_grad=1e-9,
            tolerance_change=1e-12, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            value = loss()
            value.backward()
            return value

        opt.step(closure)
        return
    opt = torch.optim.Adam(params, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=cfg.lr / 10)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss().backward()
        opt.step()
        sched.step()


@dataclass(frozen=True)
class PhysicsTargets:
    """What the physical refinement holds the body to, in the fit's camera frame.

    Attributes:
        floor: the floor plane of the fit so far (:func:`~macedance.motion.plausibility.estimate_floor`).
        contact: (T, 4) bool — SMPL foot joint 7, 8, 10, 11 planted at frame t.
    """

    floor: Floor
    contact: np.ndarray


def physics_targets(joints: np.ndarray, obs: Observations, camera: PinholeCamera, fps: float, cfg: FitConfig) -> PhysicsTargets:
    """Floor plane and planted foot joints of (T, 24, 3) camera-frame joints.

    A foot joint is planted when its keypoint is seen, its image speed is below ``contact_speed`` person
    heights per second (depth, the noisy part of the 3D motion, does not move a keypoint) and it is
    within ``contact_height`` m of the frame's lowest foot joint. Unseen feet are never planted: a
    close-up keeps whatever the legs' prior gives them (and the diagnostics show it).
    """
    floor = estimate_floor(joints, fps)
    feet = list(FOOT_JOINTS)
    h = floor.height(joints[:, feet])  # (T, 4)
    img = camera.project(joints[:, feet])  # the model's foot positions, replaced by the keypoints where seen
    seen = np.zeros((len(joints), len(feet)), dtype=bool)
    for k, j in enumerate(feet):
        if j in obs.row and obs.use[obs.row[j]]:
            c = obs.c2d[:, obs.row[j]] > 0
            img[c, k] = obs.obs2d[c, obs.row[j]]
            seen[:, k] = c
    speed_img = np.linalg.norm(np.gradient(img, axis=0), axis=-1) * fps / max(obs.height_px, 1.0)
    low = h - h.min(axis=1, keepdims=True) < cfg.contact_height  # the frame's lowest foot joints (floor noise aside)
    contact = seen & low & (speed_img < cfg.contact_speed)
    return PhysicsTargets(floor, contact)


class _Objective:
    """The fit's loss as a function of the unknowns: robust (Geman–McClure) 2D reprojection in person
    heights, robust root-relative 3D landmark error (metres) when landmarks are given, joint
    accelerations, and — for the full objective — the pose prior and the knee/elbow limits.
    ``full=False`` keeps the torso's data terms and the root's acceleration only."""

    def __init__(self, obs: Observations, R_init: np.ndarray, camera: PinholeCamera, rest: RestSkeleton, fps: float,
                 cfg: FitConfig, dev: torch.device):
        use = obs.use
        self.cfg, self.camera, self.rest, self.dev = cfg, camera, rest, dev
        self.T = len(obs.obs2d)
        self.height_px = obs.height_px
        self.prior_w = self.tensor(_prior_weights({int(j) for j in obs.smpl_idx[use]}, cfg)[1:])
        self.idx = torch.as_tensor(obs.smpl_idx[use], device=dev)
        self.obs2d, self.c2d = self.tensor(obs.obs2d[:, use]), self.tensor(obs.c2d[:, use])
        self.torso_w = self.tensor(np.isin(obs.smpl_idx[use], TORSO))
        self.n2d = max(float((obs.c2d[:, use] > 0).any(-1).sum()), 1.0)
        self.have3d = obs.obs3d is not None and obs.c3d is not None
        if obs.obs3d is not None and obs.c3d is not None:
            self.obs3d, self.c3d = self.tensor(obs.obs3d[:, use]), self.tensor(obs.c3d[:, use])
            self.n3d = max(float((obs.c3d[:, use] > 0).any(-1).sum()), 1.0)
        self.R_init = self.tensor(R_init)
        self.acc_scale = (fps / 30.0) ** 2
        self.hinge_rows = [j - 1 for j in HINGES]
        self.hinge_axis = torch.as_tensor([a for a, _ in HINGES.values()], device=dev)
        self.hinge_flex = self.tensor([s for _, s in HINGES.values()])
        self.off_hinge = torch.ones(len(HINGES), 3, device=dev)
        self.off_hinge[torch.arange(len(HINGES)), self.hinge_axis] = 0.0
        self.physics: tuple[torch.Tensor, ...] | None = None

    def set_physics(self, targets: PhysicsTargets) -> torch.Tensor:
        """Add the contact, floor and depth terms (:func:`physics_targets`) to the full objective; returns
        the floor plane's unknowns ``(a, b, c)`` of ``y = a x + b z + c`` (camera frame), started at the
        estimate: the plane is fitted with the body, so planted feet at different depths agree on it."""
        c = targets.contact
        n, offset = targets.floor.normal, targets.floor.offset
        plane = self.tensor([-n[0] / n[1], -n[2] / n[1], offset / n[1]]).requires_grad_(True)
        self.physics = (plane, self.tensor(c), self.tensor(c[1:] & c[:-1]), torch.as_tensor(list(FOOT_JOINTS), device=self.dev))
        return plane

    def tensor(self, a: object) -> torch.Tensor:
        """``a`` as a float32 tensor on the fit's device."""
        return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=self.dev)

    def rotations(self, root_delta: torch.Tensor, body: torch.Tensor) -> torch.Tensor:
        """(T, 24, 3, 3) rotations: ``exp(root_delta) @ R_init`` for the root, then the body's."""
        root = axis_angle_to_matrix(root_delta) @ self.R_init
        return torch.cat([root[:, None], axis_angle_to_matrix(body)], 1)

    def __call__(self, root_delta: torch.Tensor, body: torch.Tensor, trans: torch.Tensor, full: bool, gnc: float) -> torch.Tensor:
        cfg, T = self.cfg, self.T
        J = forward_kinematics(self.rotations(root_delta, body), trans, self.rest)  # (T, 24, 3)
        Jm = J[:, self.idx]
        r2 = ((self.camera.project(Jm) - self.obs2d) / self.height_px).pow(2).sum(-1)
        s2 = (gnc * cfg.robust_2d) ** 2
        w2 = self.c2d if full else self.c2d * self.torso_w
        loss = cfg.w_2d * (w2 * s2 * r2 / (r2 + s2)).sum() / self.n2d  # Geman–McClure
        if self.have3d:
            e2 = (Jm - 0.5 * (J[:, L_HIP] + J[:, R_HIP])[:, None] - self.obs3d).pow(2).sum(-1)
            s3 = (gnc * cfg.robust_3d) ** 2
            w3 = self.c3d if full else self.c3d * self.torso_w
            loss = loss + cfg.w_3d * (w3 * s3 * e2 / (e2 + s3)).sum() / self.n3d
        if T >= 3:
            acc = (J[2:] - 2 * J[1:-1] + J[:-2]) * self.acc_scale
            loss = loss + cfg.w_smooth * (acc if full else acc[:, :1]).pow(2).sum((-1, -2)).mean()
        if full:
            loss = loss + (body.pow(2).sum(-1) * self.prior_w).sum(-1).mean()
            h = body[:, self.hinge_rows]  # (T, 4, 3)
            flex = h.gather(-1, self.hinge_axis[None, :, None].expand(T, -1, 1))[..., 0] * self.hinge_flex
            limits = torch.relu(-flex - cfg.limit_margin).pow(2) + 0.1 * (h * self.off_hinge).pow(2).sum(-1)
            loss = loss + cfg.w_limits * limits.sum(-1).mean()
        if full and self.physics is not None:
            plane, contact, still, feet = self.physics
            F = J[:, feet]  # (T, 4, 3)
            h = (F[..., 1] - plane[0] * F[..., 0] - plane[1] * F[..., 2] - plane[2]) / torch.sqrt(1 + plane[0] ** 2 + plane[1] ** 2)
            per_frame = (contact * h.pow(2)).sum(-1) + 10.0 * torch.relu(-h).pow(2).sum(-1)
            loss = loss + cfg.w_floor * per_frame.mean()
            step = (F[1:] - F[:-1]).pow(2).sum(-1) * self.acc_scale  # m² per frame² at 30 fps
            loss = loss + cfg.w_contact * (still * step).sum(-1).mean()
            depth_v = (trans[1:, 2] - trans[:-1, 2]).pow(2) * self.acc_scale
            loss = loss + cfg.w_depth * depth_v.mean()
            if T >= 3:
                root_acc = (J[2:, 0] - 2 * J[1:-1, 0] + J[:-2, 0]) * self.acc_scale
                loss = loss + cfg.w_root_smooth * root_acc.pow(2).sum(-1).mean()
        return loss


def _prior_weights(observed: set[int], cfg: FitConfig) -> np.ndarray:
    """(24,) prior weight of each local rotation (the root, index 0, is not penalised)."""
    w = np.full(NUM_SMPL_JOINTS, cfg.w_prior)
    for j in range(1, NUM_SMPL_JOINTS):
        children = [c for c, p in enumerate(SMPL_PARENTS) if p == j]
        if j in _UNOBSERVED:
            w[j] *= cfg.prior_unobserved
        elif j in _LEAVES or not any(c in observed for c in children):
            w[j] *= cfg.prior_leaf
    w[0] = 0.0
    return w
