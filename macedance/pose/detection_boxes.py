"""Box arithmetic of the person detector (:mod:`macedance.pose.person_detector`), numpy only: box
overlaps, MediaPipe's weighted non-maximum suppression, the crops of the tiled pass and the merge of
their detections (the rules are in the person detector's module docstring).

Boxes are ``[x0, y0, x1, y1]`` (x right, y down), in whatever unit the caller uses (the model's
normalised square for NMS, image pixels for the tiles).
"""

from __future__ import annotations

import numpy as np

TILE_MIN_OVERLAP = 0.25  # level-1 squares overlap their neighbours by at least this fraction of a side
TILE_GRID_FRACTION = 0.6  # level-2 crops are this fraction of the image's width and height
TILE_CONTAINMENT = 0.6  # a box whose intersection with a kept one exceeds this fraction of the smaller box is a duplicate


def _overlaps(box: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU and intersection / smaller area of one box (4,) with boxes (N, 4), all [x0, y0, x1, y1]."""
    w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    smaller = np.minimum(area, areas)
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    cont = np.where(smaller > 0, inter / np.where(smaller > 0, smaller, 1), 0.0)
    return iou, cont


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                 iou_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression.

    Repeatedly takes the best remaining detection and every remaining one overlapping it by
    IoU > ``iou_threshold``; the cluster becomes one detection whose box and keypoints are the
    score-weighted means of the cluster's and whose score is the best one.

    Args:
        boxes: (N, 4) [x0, y0, x1, y1]; scores: (N,); keypoints: (N, K, 2).
    Returns:
        boxes (M, 4), scores (M,) descending, keypoints (M, K, 2).
    """
    remaining = np.argsort(-scores, kind="stable")
    out_b: list[np.ndarray] = []
    out_k: list[np.ndarray] = []
    out_s: list[float] = []
    while remaining.size:
        top = remaining[0]
        member = _overlaps(boxes[top], boxes[remaining])[0] > iou_threshold
        member[0] = True
        idx = remaining[member]
        w = scores[idx] / scores[idx].sum()
        out_b.append(w @ boxes[idx])
        out_k.append(np.tensordot(w, keypoints[idx], axes=1))
        out_s.append(scores[top])
        remaining = remaining[~member]
    k = keypoints.shape[1:]
    return (np.asarray(out_b, dtype=np.float64).reshape(-1, 4), np.asarray(out_s, dtype=np.float64),
            np.asarray(out_k, dtype=np.float64).reshape(-1, *k))


def tile_crops(height: int, width: int) -> list[tuple[int, tuple[int, int, int, int]]]:
    """Crops of the tiled pass, coarse to fine, as (level, (x0, y0, x1, y1)) in pixels, x1/y1 exclusive.

    Level 0 is the full frame; level 1 squares of side = the shorter side, evenly stepped along the
    longer side so that neighbours overlap by ≥ ``TILE_MIN_OVERLAP`` (none if the image is square);
    level 2 a 2×2 grid of crops of ``TILE_GRID_FRACTION`` of the width and height, at the four corners.
    """
    h, w = int(height), int(width)
    out = [(0, (0, 0, w, h))]
    side, long = min(h, w), max(h, w)
    if long > side:
        n = int(np.ceil((long - side) / ((1 - TILE_MIN_OVERLAP) * side))) + 1
        for i in range(n):
            p = round(i * (long - side) / (n - 1))
            out.append((1, (p, 0, p + side, h) if w > h else (0, p, w, p + side)))
    cw, ch = max(1, round(TILE_GRID_FRACTION * w)), max(1, round(TILE_GRID_FRACTION * h))
    for y in (0, h - ch):
        for x in (0, w - cw):
            out.append((2, (x, y, x + cw, y + ch)))
    return out


def merge_tiled(boxes: np.ndarray, scores: np.ndarray, crop: np.ndarray, level: np.ndarray,
                iou_threshold: float = 0.3, containment: float = TILE_CONTAINMENT) -> tuple[np.ndarray, np.ndarray]:
    """Merge the detections of overlapping crops (see the module docstring).

    Candidates are visited by ``level`` ascending (coarse first), then score descending. A candidate is
    a duplicate if, among the kept detections of *other* crops, one overlaps it by IoU >
    ``iou_threshold`` or intersection / smaller area > ``containment``; it is then dropped and the
    best-overlapping such detection takes the maximum of the two scores. Otherwise it is kept.

    Args:
        boxes: (N, 4) person boxes [x0, y0, x1, y1] in image pixels; scores: (N,);
        crop: (N,) int id of the crop each came from; level: (N,) int crop level.
    Returns:
        kept: (M,) int indices into the inputs, in visiting order; scores: (M,) float64, the merged scores.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64)
    crop, level = np.asarray(crop), np.asarray(level)
    order = np.lexsort((-scores, level))
    kept: list[int] = []
    kept_scores: list[float] = []
    for i in order:
        if kept:
            k = np.asarray(kept)
            iou, cont = _overlaps(boxes[i], boxes[k])
            dup = ((iou > iou_threshold) | (cont > containment)) & (crop[k] != crop[i])
            if dup.any():
                j = int(np.flatnonzero(dup)[np.argmax(iou[dup])])
                kept_scores[j] = max(kept_scores[j], float(scores[i]))
                continue
        kept.append(int(i))
        kept_scores.append(float(scores[i]))
    return np.asarray(kept, dtype=np.int64), np.asarray(kept_scores, dtype=np.float64)
