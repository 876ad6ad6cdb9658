"""LODGE's released sampling and two-stage generation (li-ronghui/LODGE @ a898e59: ``dld/models/architectures/
diffusion.py`` ``ddim_sample`` / ``inpaint_soft_ddim``, ``Global_Module.render_sample_ori``,
``Local_Module.render_sample``, ``infer_lodge.py``, ``concat_res.py``), on the ports of :mod:`.lodge`.

Diffusion (both stages): cosine schedule over 1000 steps, x0 prediction clipped to [−1, 1], DDIM with η = 1 at
t = 999, 979, …, 19 (50 evaluations; the last returns its x0), classifier-free guidance weight 2.

* :func:`lodge_ddim_sample` (global, ``ddim_sample``): constant weight 2, no genre; x (G, 104, 139).
* :func:`lodge_inpaint_soft_ddim` (local, ``inpaint_soft_ddim``): weights ``clip(linspace(0, 4, 50), max=2)`` (the
  first step unconditional), the genre's style token in every pass; after each step but the last, frames whose
  constraint mask is set are replaced by the constraint values where t > 50·(1 − soft) (the released code compares
  the timestep, 0…999, with this number), and the first and last 4 frames always. ``soft``: ``--soft`` (README:
  1.0; ``parse_args``' default 0.0). One window (B = 1) fails in the original (``ddim_sample`` called without the
  genre); here it is refused.
* :func:`lodge_generate` (``infer_lodge.py``): music (T, 35) at 30 fps → ⌊T/256⌋ local windows of 256 frames (the
  rest dropped); ⌈windows/4⌉ global windows of 1024 frames (the last one: the final 1024 frames), each sampled into
  104 "dance primitive" frames (8 + 12 × 8; key frames of 8); each global output is unnormalised and written with its
  6D re-encoded (→ axis-angle → 6D, pytorch3d 0.4 formulas); primitives [4:100] (the first 8 frames replaced by the
  previous window's last 8; the last window keeps its final 8 + 24·(windows mod 4) frames when that is not 0) are cut
  into 24-frame key chunks, one per local window in order: renormalised, they constrain frames 0–3 and 252–255
  (chunk frames 0–3 / 20–23, root x and z made relative to their first frame), 28–35 and 156–163 (chunk frames
  4–11 / 12–19) and, mirrored left↔right (joint chains swapped, axis-angle y and z negated, root x negated, contacts
  swapped), 60–67 and 188–195 — contacts and rotations only (mask channels 0–3 and 7–138, not the root). The local
  windows' music is the global windows' music cut into 256-frame pieces, in order (so when the last global window
  was shifted back, the final local windows get music from before the song's end, as released). Output: the local
  windows unnormalised, 6D re-encoded and concatenated ((windows·256, 139); each window's root as sampled).

Output layout (139): 4 foot contacts (l/r ankle, l/r toe), root position (m; y-up, floor at y = 0 in the released
preprocessing), 22 SMPL-X body joints in 6D (first two rows of each rotation matrix). Random numbers: one
:class:`~macedance.models.official.ddim.Noise` stream in the original's order (global x, its step noises, local x,
then per step the style noise of the unconditional and the conditional pass and the step noise), so
``Noise(seed=s, mode="official")`` on CPU gives the original's numbers after ``torch.manual_seed(s)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from macedance.errors import ValidationError
from macedance.models.official.ddim import DiffusionSchedule, Noise, cosine_schedule, ddim_time_pairs
from macedance.models.official.edge_sampling import _axis_angle_to_quaternion, long_guidance_weights
from macedance.models.official.finenet_sampling import ax_from_6v_v04
from macedance.models.official.lodge import LodgeGlobalDecoder, LodgeLocalDecoder
from macedance.models.official.normalizer import MinMaxNormalizer

GUIDANCE_WEIGHT = 2.0  # model.diffusion.params.guidance_weight
STEPS = 50  # sampling_timesteps, hard-coded
GLOBAL_FRAMES, LOCAL_FRAMES = 1024, 256  # infer_lodge.py: cfg.length1, cfg.length2
PRIMITIVE_FRAMES = 104  # render_sample_ori: the global output for full_seq_len 1024
KEY, CHUNK = 8, 24  # key-frame length; key frames per local window (8 × (1024/256 − 1))
PER_GLOBAL = GLOBAL_FRAMES // LOCAL_FRAMES
#: Local frames constrained by a chunk: (window frames, chunk frames, mirrored).
_PLACES = ((slice(28, 36), slice(4, 12), False), (slice(60, 68), slice(4, 12), True),
           (slice(156, 164), slice(12, 20), False), (slice(188, 196), slice(12, 20), True))
_RIGHT = [2, 5, 8, 11, 14, 17, 19, 21]  # swap_left_right's body chains (SMPL-X joint ids)
_LEFT = [1, 4, 7, 10, 13, 16, 18, 20]
Progress = Callable[[int, int], None]


def ax_to_6v_v04(aa: torch.Tensor) -> torch.Tensor:
    """``ax_to_6v`` with pytorch3d 0.4 (LODGE pins "0.3.0", the file of 0.4 that has what it imports): (…, 3) →
    (…, 6) = the first two rows of quaternion_to_matrix(axis_angle_to_quaternion(aa)) (two_s = 2/|q|²)."""
    q = _axis_angle_to_quaternion(aa)
    r, i, j, k = torch.unbind(q, -1)
    two_s = 2.0 / (q * q).sum(-1)
    rows = (1 - two_s * (j * j + k * k), two_s * (i * j - k * r), two_s * (i * k + j * r),
            two_s * (i * j + k * r), 1 - two_s * (i * i + k * k), two_s * (j * k - i * r))
    return torch.stack(rows, -1)


def render_windows(samples: torch.Tensor, normalizer: MinMaxNormalizer) -> torch.Tensor:
    """What ``render_sample`` writes per window: (B, T, 139) normalised → unnormalised (clipped to [−1, 1] first),
    contacts and root kept, rotations 6D → axis-angle → 6D."""
    raw = normalizer.unnormalize(samples)
    b, s, _ = raw.shape
    six = ax_to_6v_v04(ax_from_6v_v04(raw[..., 7:].reshape(b, s, -1, 6))).reshape(b, s, -1)
    return torch.cat((raw[..., :7], six), dim=-1)


def _sample(step: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor], shape: tuple[int, ...], weights: list[float], *,
            noise: Noise, device: torch.device, schedule: DiffusionSchedule | None, progress: Progress | None,
            constrain: Callable[[torch.Tensor, int], torch.Tensor] | None = None) -> torch.Tensor:
    sched = (schedule or cosine_schedule()).to(device)
    pairs = ddim_time_pairs(steps=len(weights))
    x = noise.randn(shape, device=device)
    for i, ((t, t_next), w) in enumerate(zip(pairs, weights, strict=True)):
        x0 = step(x, torch.full((shape[0],), t, device=device, dtype=torch.long), w).clamp(-1.0, 1.0)
        x = sched.ddim_step(x, x0, t, t_next, eta=1.0, noise=noise)
        if t_next >= 0 and constrain is not None:
            x = constrain(x, t)
        if progress is not None:
            progress(i + 1, len(pairs))
    return x


@torch.no_grad()
def lodge_ddim_sample(model: LodgeGlobalDecoder, cond: torch.Tensor, *, noise: Noise, frames: int = PRIMITIVE_FRAMES,
                      weight: float = GUIDANCE_WEIGHT, steps: int = STEPS, schedule: DiffusionSchedule | None = None,
                      progress: Progress | None = None) -> torch.Tensor:
    """The global stage's ``ddim_sample``: cond (G, 1024, 35) → normalised primitives (G, frames, 139)."""
    return _sample(lambda x, t, w: model.guided_forward(x, cond, t, weight=w), (cond.shape[0], frames, model.cfg.nfeats),
                   [float(weight)] * steps, noise=noise, device=cond.device, schedule=schedule, progress=progress)


@torch.no_grad()
def lodge_inpaint_soft_ddim(model: LodgeLocalDecoder, cond: torch.Tensor, *, genre: torch.Tensor | None, value: torch.Tensor,
                            mask: torch.Tensor, noise: Noise, soft: float = 1.0, weight: float = GUIDANCE_WEIGHT, steps: int = STEPS,
                            schedule: DiffusionSchedule | None = None, progress: Progress | None = None) -> torch.Tensor:
    """The local stage's ``inpaint_soft_ddim``: cond (B, 256, 35), genre (B,) int, constraint ``value`` and ``mask``
    (B, T, 139) (normalised values; mask 0/1) → normalised windows (B, T, 139); B ≥ 2, T even."""
    B, T = value.shape[:2]
    if B < 2 or T % 2 or mask.shape != value.shape or cond.shape[0] != B:
        raise ValidationError("value, mask, cond", "B ≥ 2 windows (the released code fails for one), an even T, equal shapes",
                              f"{tuple(value.shape)}, {tuple(mask.shape)}, {tuple(cond.shape)}")
    dev = cond.device
    value, mask = value.to(dev), mask.to(dev)
    hard = 50 * (1 - soft)

    def constrain(x: torch.Tensor, t: int) -> torch.Tensor:
        if t > hard:
            x = value * mask + (1.0 - mask) * x
        for part in (slice(0, 4), slice(T - 4, T)):
            x[:, part] = value[:, part] * mask[:, part] + (1.0 - mask[:, part]) * x[:, part]
        return x

    return _sample(lambda x, t, w: model.guided_forward(x, cond, t, weight=w, genre=genre, noise=noise), (B, T, model.cfg.nfeats),
                   long_guidance_weights(weight, steps), noise=noise, device=dev, schedule=schedule, progress=progress,
                   constrain=constrain)


@dataclass(frozen=True)
class LodgePlan:
    """How ``infer_lodge.py`` cuts a song of ``frames`` music frames."""

    windows: int  # local windows of 256 frames (⌊frames/256⌋)
    global_starts: tuple[int, ...]  # music start frame of each 1024-frame global window
    local_starts: tuple[int, ...]  # music start frame of each local window
    key_sources: tuple[tuple[tuple[int, int], ...], ...]  # per local window, 24 × (global window, primitive frame)


def lodge_plan(*, frames: int) -> LodgePlan:
    """The windows and key-frame chunks of ``infer_lodge.test`` for a song of ``frames`` music frames (≥ 1024)."""
    L = frames // LOCAL_FRAMES
    if L < PER_GLOBAL:
        raise ValidationError("music", f"at least {GLOBAL_FRAMES} frames (34.1 s at 30 fps; the global stage's window)", str(frames))
    G, flag = -(-L // PER_GLOBAL), L % PER_GLOBAL
    usable = L * LOCAL_FRAMES
    starts = tuple(usable - GLOBAL_FRAMES if (g + 1) * GLOBAL_FRAMES > usable else g * GLOBAL_FRAMES for g in range(G))
    chunks: list[tuple[tuple[int, int], ...]] = []
    for g in range(G):
        rows = [(g, f) for f in range(PRIMITIVE_FRAMES)]
        if g > 0:
            if g == G - 1 and flag:
                rows = rows[PRIMITIVE_FRAMES - KEY - CHUNK * flag:]
            rows[:KEY] = [(g - 1, f) for f in range(PRIMITIVE_FRAMES - KEY, PRIMITIVE_FRAMES)]
        rows = rows[4:-4]
        chunks += [tuple(rows[i * CHUNK:(i + 1) * CHUNK]) for i in range(len(rows) // CHUNK)]
    local = tuple(starts[w // PER_GLOBAL] + (w % PER_GLOBAL) * LOCAL_FRAMES for w in range(L))
    return LodgePlan(L, starts, local, tuple(chunks))


def mirror_pose(six: torch.Tensor) -> torch.Tensor:
    """``swap_left_right`` then ``ax_to_6v``: (T, 132) 6D → (T, 132): left/right body chains swapped, axis-angle y and
    z negated (applied by the released code to *normalised* values, as here)."""
    aa = ax_from_6v_v04(six.reshape(six.shape[0], 22, 6)).clone()
    aa[:, _RIGHT], aa[:, _LEFT] = aa[:, _LEFT].clone(), aa[:, _RIGHT].clone()
    aa[:, :, 1:3] *= -1
    return ax_to_6v_v04(aa).reshape(six.shape[0], -1)


def local_constraints(keys: torch.Tensor, *, frames: int = LOCAL_FRAMES) -> tuple[torch.Tensor, torch.Tensor]:
    """``Local_Module.render_sample`` (``soft_hint="dod"``, 256 frames): normalised key chunks (L, 24, 139) →
    constraint value and mask (L, 256, 139)."""
    L, C = keys.shape[0], keys.shape[-1]
    value = torch.zeros(L, frames, C, dtype=keys.dtype, device=keys.device)
    mask = torch.zeros_like(value)
    for i in range(L):
        k = keys[i]
        for dst, src in ((slice(0, 4), k[:4].clone()), (slice(frames - 4, frames), k[-4:].clone())):
            src[:, [4, 6]] = src[:, [4, 6]] - src[:1, [4, 6]]
            value[i, dst] = src
        mid = k[4:-4]
        mirrored = torch.cat((mid[:, [1, 0, 3, 2]], mid[:, 4:7] * torch.tensor([-1.0, 1.0, 1.0], dtype=mid.dtype, device=mid.device),
                              mirror_pose(mid[:, 7:])), dim=-1)
        for dst, src, flip in _PLACES:
            value[i, dst] = (mirrored if flip else mid)[src.start - 4:src.stop - 4]
    for dst in (slice(0, 4), slice(frames - 4, frames), *(p[0] for p in _PLACES)):
        mask[:, dst, :4] = 1
        mask[:, dst, 7:] = 1
    return value, mask


@dataclass(frozen=True)
class LodgeResult:
    motion: torch.Tensor  # (windows·256, 139) unnormalised, the concatenated file of concat_res.py
    primitives: torch.Tensor  # (G, 104, 139) unnormalised global outputs (the global_*.npy files)
    plan: LodgePlan


@torch.no_grad()
def lodge_generate(global_model: LodgeGlobalDecoder, local_model: LodgeLocalDecoder, music: torch.Tensor, *, genre: int,
                   normalizer: MinMaxNormalizer, noise: Noise, soft: float = 1.0, weight: float = GUIDANCE_WEIGHT, steps: int = STEPS,
                   progress: Progress | None = None) -> LodgeResult:
    """``infer_lodge.py`` for one song: music (T, 35) features at 30 fps, the genre row (:func:`lodge_genre_id`) →
    :class:`LodgeResult` (module docstring). ``noise``: one stream for both stages."""
    if music.ndim != 2 or music.shape[1] != global_model.cfg.cond_feature_dim:
        raise ValidationError("music", f"shape (T, {global_model.cfg.cond_feature_dim})", str(tuple(music.shape)))
    plan = lodge_plan(frames=music.shape[0])
    dev = next(global_model.parameters()).device
    music = music.to(dev, torch.float32)
    cond = torch.stack([music[s:s + GLOBAL_FRAMES] for s in plan.global_starts])
    prim = render_windows(lodge_ddim_sample(global_model, cond, noise=noise, weight=weight, steps=steps, progress=progress), normalizer)
    keys = torch.stack([torch.stack([prim[g, f] for g, f in chunk]) for chunk in plan.key_sources])
    value, mask = local_constraints(normalizer.normalize(keys))
    local_cond = torch.stack([music[s:s + LOCAL_FRAMES] for s in plan.local_starts])
    genres = torch.full((plan.windows,), int(genre), dtype=torch.long, device=dev)
    out = lodge_inpaint_soft_ddim(local_model, local_cond, genre=genres, value=value, mask=mask, noise=noise, soft=soft,
                                  weight=weight, steps=steps, progress=progress)
    return LodgeResult(render_windows(out, normalizer).reshape(-1, out.shape[-1]).cpu(), prim.cpu(), plan)
