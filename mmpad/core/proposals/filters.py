"""Proposal filters of PAD and AlignDet, and order-preserving de-duplication / NMS.

All functions take and return (N, 4) integer ``x, y, w, h`` boxes and keep the input
order, so the output order is the generator's deterministic order.
"""
from __future__ import annotations

import numpy as np


def pad_roi_filter(rects: np.ndarray, sizes: np.ndarray, min_area: int = 600,
                   min_side: int = 40, max_aspect: float = 3.0) -> np.ndarray:
    """PAD's RoI filter (after selective search): keep-mask of the regions.

    A region is kept when its pixel count is >= ``min_area``, its rectangle has
    ``w, h >= min_side`` and ``max(w/h, h/w) <= max_aspect``.

    Args:
        rects: (N, 4) ``x, y, w, h``.
        sizes: (N,) region pixel counts (not the rectangle area).

    Returns:
        (N,) bool.
    """
    rects = np.asarray(rects).reshape(-1, 4)
    w = rects[:, 2].astype(np.float64)
    h = rects[:, 3].astype(np.float64)
    keep = (np.asarray(sizes) >= min_area) & (w >= min_side) & (h >= min_side)
    with np.errstate(divide='ignore', invalid='ignore'):
        keep &= ~((w / h > max_aspect) | (h / w > max_aspect))
    return keep


def soco_filter(rects: np.ndarray, image_shape: tuple, min_side: int = 32,
                max_aspect: float = 3.0, min_scale: float = 0.0,
                max_scale: float = 0.8) -> np.ndarray:
    """AlignDet / SoCo filter ``ratio3size0008``: keep-mask.

    Kept when ``w, h >= min_side``, ``1/max_aspect <= w/h <= max_aspect`` and
    ``min_scale <= sqrt(w*h) / sqrt(W*H) <= max_scale``.

    Args:
        rects: (N, 4) ``x, y, w, h``.
        image_shape: ``(H, W, ...)`` of the image.

    Returns:
        (N,) bool.
    """
    rects = np.asarray(rects).reshape(-1, 4)
    ih, iw = image_shape[:2]
    w = rects[:, 2].astype(np.float64)
    h = rects[:, 3].astype(np.float64)
    keep = (w >= min_side) & (h >= min_side)
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = w / h
        scale = np.sqrt(w * h) / np.sqrt(float(iw * ih))
    keep &= (1.0 / max_aspect <= ratio) & (ratio <= max_aspect)
    keep &= (min_scale <= scale) & (scale <= max_scale)
    return keep


def unique_rows(rects: np.ndarray) -> np.ndarray:
    """Drop repeated boxes, keeping each box's first occurrence (order preserved)."""
    rects = np.asarray(rects).reshape(-1, 4)
    if len(rects) == 0:
        return rects
    _, first = np.unique(rects, axis=0, return_index=True)
    return rects[np.sort(first)]


def box_iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (N, M) of ``x, y, w, h`` boxes (continuous coordinates)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
                 - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
                 - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms_in_order(rects: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy NMS without scores: earlier boxes have priority (order preserved).

    A box is dropped when its IoU with an already kept box is > ``iou_thr``.
    """
    rects = np.asarray(rects).reshape(-1, 4)
    if len(rects) < 2:
        return rects
    iou = box_iou_xywh(rects, rects)
    keep = np.ones(len(rects), bool)
    for i in range(len(rects)):
        if keep[i]:
            later = np.arange(len(rects)) > i
            keep[later & (iou[i] > iou_thr)] = False
    return rects[keep]
