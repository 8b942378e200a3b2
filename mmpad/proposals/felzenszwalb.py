"""Felzenszwalb-Huttenlocher segmentation, bit-compatible with scikit-image.

``skimage.segmentation.felzenszwalb`` spends most of its time outside the algorithm
proper: it materialises and gathers a (4HW, 2) edge array and runs a union-find
without path compression. This module keeps scikit-image's preprocessing and edge
ordering (same Gaussian filter, same costs, same ``np.argsort``), so the merge
decisions are identical, and runs the greedy merge in a numba kernel that decodes
edges from their sorted index and compresses paths. The decision rule reproduces
scikit-image's C types: inner costs are rounded to float32 (``cdef float``) before
being compared with the float64 edge cost.

Without numba the scikit-image function is called instead (same result, slower).
Both return labels in raster order of first appearance, as scikit-image does.
"""
from __future__ import annotations

import numpy as np

try:  # optional accelerator
    import numba
except ImportError:  # pragma: no cover - exercised only without numba
    numba = None


def _costs(image: np.ndarray, sigma: float) -> np.ndarray:
    """Edge costs in scikit-image's order: right, down, down-right, up-right.

    Args:
        image: (H, W, C) float64 in [0, 1].

    Returns:
        (4HW - 3H - 3W + 2,) float64.
    """
    from skimage.filters import gaussian
    h, w = image.shape[:2]
    if image.shape[2] == 3 and (image[..., 0] == image[..., 1]).all() and \
            (image[..., 0] == image[..., 2]).all():
        # equal channels (infrared): filter one; the 3-term sum of equal squares
        # is (d2 + d2) + d2 in any summation order, so the costs are bit-identical
        g = gaussian(image[..., :1], sigma=[sigma, sigma, 0], mode='reflect',
                     channel_axis=-1)[..., 0]
        parts = []
        for d in (g[:, 1:] - g[:, :w - 1], g[1:, :] - g[:h - 1, :],
                  g[1:, 1:] - g[:h - 1, :w - 1], g[1:, :w - 1] - g[:h - 1, 1:]):
            d2 = d * d
            parts.append(np.sqrt(d2 + d2 + d2).ravel())
        return np.hstack(parts)
    image = gaussian(image, sigma=[sigma, sigma, 0], mode='reflect', channel_axis=-1)
    # the same expressions as scikit-image (same rounding)
    down = np.sqrt(np.sum((image[1:, :, :] - image[:h - 1, :, :]) *
                          (image[1:, :, :] - image[:h - 1, :, :]), axis=-1))
    right = np.sqrt(np.sum((image[:, 1:, :] - image[:, :w - 1, :]) *
                           (image[:, 1:, :] - image[:, :w - 1, :]), axis=-1))
    dright = np.sqrt(np.sum((image[1:, 1:, :] - image[:h - 1, :w - 1, :]) *
                            (image[1:, 1:, :] - image[:h - 1, :w - 1, :]), axis=-1))
    uright = np.sqrt(np.sum((image[1:, :w - 1, :] - image[:h - 1, 1:, :]) *
                            (image[1:, :w - 1, :] - image[:h - 1, 1:, :]), axis=-1))
    return np.hstack([right.ravel(), down.ravel(), dright.ravel(),
                      uright.ravel()]).astype(float)


def _merge_kernel(order, costs, h, w, scale, min_size):  # pragma: no cover (jitted)
    n = h * w
    parent = np.arange(n)
    size = np.ones(n, np.int64)
    cint = np.zeros(n)
    n_right = h * (w - 1)
    n_down = (h - 1) * w
    n_diag = (h - 1) * (w - 1)
    # edges rejected by the merge pass, in order: the only candidates of the
    # small-segment pass (edges inside a component stay inside it)
    rej_a = np.empty(order.size, np.int64)
    rej_b = np.empty(order.size, np.int64)
    n_rej = 0
    for k in range(order.size):
        q = order[k]
        if q < n_right:                      # (y, x+1) - (y, x)
            y = q // (w - 1)
            x = q - y * (w - 1)
            a = y * w + x + 1
            b = a - 1
        elif q < n_right + n_down:           # (y+1, x) - (y, x)
            b = q - n_right
            a = b + w
        elif q < n_right + n_down + n_diag:  # (y+1, x+1) - (y, x)
            q -= n_right + n_down
            y = q // (w - 1)
            x = q - y * (w - 1)
            b = y * w + x
            a = b + w + 1
        else:                                # (y, x+1) - (y+1, x)
            q -= n_right + n_down + n_diag
            y = q // (w - 1)
            x = q - y * (w - 1)
            a = y * w + x + 1
            b = a + w - 1
        ra = a
        while parent[ra] != ra:
            parent[ra] = parent[parent[ra]]
            ra = parent[ra]
        rb = b
        while parent[rb] != rb:
            parent[rb] = parent[parent[rb]]
            rb = parent[rb]
        if ra == rb:
            continue
        ia = np.float32(cint[ra] + scale / size[ra])
        ib = np.float32(cint[rb] + scale / size[rb])
        if costs[k] < np.float64(min(ia, ib)):
            if ra > rb:
                ra, rb = rb, ra
            parent[rb] = ra
            size[ra] += size[rb]
            cint[ra] = costs[k]
        else:
            rej_a[n_rej] = a
            rej_b[n_rej] = b
            n_rej += 1
    for k in range(n_rej):                   # remove segments under min_size
        ra = rej_a[k]
        while parent[ra] != ra:
            parent[ra] = parent[parent[ra]]
            ra = parent[ra]
        rb = rej_b[k]
        while parent[rb] != rb:
            parent[rb] = parent[parent[rb]]
            rb = parent[rb]
        if ra == rb or (size[ra] >= min_size and size[rb] >= min_size):
            continue
        if ra > rb:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
    labels = np.empty(n, np.int32)
    first = np.full(n, -1, np.int64)
    count = 0
    for p in range(n):
        r = p
        while parent[r] != r:
            r = parent[r]
        if first[r] < 0:
            first[r] = count
            count += 1
        labels[p] = first[r]
    return labels


_kernel = None


def _get_kernel():
    global _kernel
    if _kernel is None:
        try:
            _kernel = numba.njit(cache=True, nogil=True)(_merge_kernel)
        except Exception:  # pragma: no cover - no writable cache location
            _kernel = numba.njit(nogil=True)(_merge_kernel)
    return _kernel


def felzenszwalb(image: np.ndarray, scale: float, sigma: float,
                 min_size: int) -> np.ndarray:
    """Segment an image like ``skimage.segmentation.felzenszwalb``.

    Args:
        image: (H, W, C) uint8 or float image.
        scale, sigma, min_size: as in scikit-image.

    Returns:
        (H, W) int32 labels, numbered in raster order of first appearance.
    """
    from skimage.util import img_as_float64
    if numba is None or image.ndim != 3 or min(image.shape[:2]) < 2:
        from skimage.segmentation import felzenszwalb as sk_felzenszwalb
        from skimage.util import img_as_float
        return sk_felzenszwalb(img_as_float(image), scale=scale, sigma=sigma,
                               min_size=min_size).astype(np.int32)
    img = img_as_float64(image)
    costs = _costs(img, sigma)
    order = np.argsort(costs)                  # scikit-image's order, ties included
    h, w = img.shape[:2]
    labels = _get_kernel()(order, np.ascontiguousarray(costs[order]), h, w,
                           float(scale) / 255., int(min_size))
    return labels.reshape(h, w)
