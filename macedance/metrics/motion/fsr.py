"""FSR, foot-skating ratio (LODGE, ``metric/foot_skating.py``), vectorised over frames.

Per sequence of y-up joints (T, J, 3):
1. ground: from frame-0 heights of the toes (joints 10, 11): their mean when they differ by less
   than 2 cm, else the lower one (LODGE; kept by ``clean``); heights are taken relative to it;
2. per side, a frame is in contact when the ankle (7/8) is ≤ 0.08 m and the toe (10/11) ≤ 0.05 m;
3. per-frame displacement d[t] = p[t+1] − p[t] (d[T−1] = 0) of ankle and toe; a contact frame
   slides when either joint's horizontal motion exceeds the threshold: LODGE uses the *signed
   mean* |(dx + dz)/2| > 0.01 m/frame (``speed="signed-mean"``); clean uses the horizontal speed
   norm √(dx² + dz²)·fps > 0.3 m/s (``speed="norm"``);
4. ratio per side = sliding frames / contact frames (float32 like torch in LODGE), undefined
   without contact; the score is (mean left + mean right) / 2 over sequences.
"""

from __future__ import annotations

import numpy as np

L_ANKLE, R_ANKLE, L_TOE, R_TOE = 7, 8, 10, 11


def foot_skating(joints: np.ndarray, fps: float = 30.0, *, speed: str = "signed-mean",
                 threshold: float = 0.01) -> tuple[float | None, float | None]:
    """(left, right) sliding ratios of one y-up sequence; ``None`` for a side with no contact frame.

    Args:
        joints: (T, J ≥ 12, 3) positions in metres, y-up.
        fps: frame rate (used by ``speed="norm"``).
        speed: ``"signed-mean"`` (threshold in m/frame) or ``"norm"`` (threshold in m/s).
        threshold: sliding threshold.
    """
    p = np.asarray(joints, dtype=np.float64)
    lt, rt = p[0, L_TOE, 1], p[0, R_TOE, 1]
    height = (lt + rt) / 2 if abs(lt - rt) < 0.02 else min(lt, rt)
    y = p[..., 1] - height
    vel = np.zeros_like(p)
    vel[:-1] = p[1:] - p[:-1]
    out: list[float | None] = []
    for ankle, toe in ((L_ANKLE, L_TOE), (R_ANKLE, R_TOE)):
        contact = (y[:, ankle] <= 0.08) & (y[:, toe] <= 0.05)
        v = vel[:, [ankle, toe]] * contact[:, None, None]
        if speed == "signed-mean":
            tangent = np.abs((v[..., 0] + v[..., 2]) / 2)
        else:
            tangent = np.sqrt(v[..., 0] ** 2 + v[..., 2] ** 2) * fps
        slide = (tangent > threshold).any(axis=1)
        n_contact = int(contact.sum())
        out.append(None if n_contact == 0 else float(np.float32(slide.sum()) / np.float32(n_contact)))
    return out[0], out[1]
