"""Felzenszwalb-Huttenlocher segmentation, bit-compatible with scikit-image.

``skimage.segmentation.felzenszwalb`` (what ``selectivesearch`` 0.4 calls) spends
most of its time outside the algorithm proper: ``np.argsort`` of the float64 edge
costs, a gather of a (4HW, 2) edge array, and a union-find without path
compression. This module computes the same labels faster:

* the same Gaussian filter and edge costs (the same expressions, so the same
  rounding; one channel when the three are equal, which is exact);
* edges sorted as 64-bit integer keys (cost bits with the edge index in the low
  bits; SIMD ``np.sort``), repaired to exact cost order; equal costs come in index
  order, and the kernel checks that their order cannot change the result, else
  the edges are re-sorted with ``np.argsort`` (scikit-image's tie order);
* a numba kernel that decodes edges from their index, runs a union-find by size
  with path halving (a root stores minus its size: one random access reads the
  link and the size), and keeps scikit-image's C types: the merge threshold
  ``Int + scale / size`` is rounded to float32 (``cdef float``) before the
  comparison with the float64 cost.

Which pixel is a segment's root does not change the segments. scikit-image makes
the smaller index the root and numbers the segments by their roots, i.e. in
raster order of first appearance; the kernel numbers them the same way at the
end. Without numba, or for images of 2**29 pixels or more (edge indices must fit
in int32), scikit-image's function is called (same labels, slower).
"""
from __future__ import annotations

import numpy as np

try:  # optional accelerator
    import numba
except ImportError:  # pragma: no cover - exercised only without numba
    numba = None


def equal_channels(image: np.ndarray) -> bool:
    """True for a 3-channel image whose channels are identical (infrared as BGR)."""
    return image.ndim == 3 and image.shape[2] == 3 and \
        bool((image[..., 0] == image[..., 1]).all()) and \
        bool((image[..., 0] == image[..., 2]).all())


def _costs(image: np.ndarray, sigma: float, gray: bool = False) -> np.ndarray:
    """Edge costs in scikit-image's order: right, down, down-right, up-right.

    Args:
        image: (H, W, C) image (converted to float64 in [0, 1]).
        gray: the channels are known to be equal.

    Returns:
        (4HW - 3H - 3W + 2,) float64.
    """
    from skimage.filters import gaussian
    from skimage.util import img_as_float64
    h, w = image.shape[:2]
    if gray or equal_channels(image):
        # equal channels (infrared): filter one; the 3-term sum of equal squares
        # is (d2 + d2) + d2 in any summation order, so the costs are bit-identical
        planes = [gaussian(img_as_float64(image[..., :1]), sigma=[sigma, sigma, 0],
                           mode='reflect', channel_axis=-1)[..., 0]] * 3
    else:
        g = gaussian(img_as_float64(image), sigma=[sigma, sigma, 0], mode='reflect',
                     channel_axis=-1)
        planes = [np.ascontiguousarray(g[..., c]) for c in range(g.shape[2])]
    # scikit-image: sqrt(sum((a - b) * (a - b), axis=-1)); numpy adds the channel
    # terms left to right, as the loop below does
    out = np.empty(4 * h * w - 3 * h - 3 * w + 2)
    start = 0
    for sa, sb in (((slice(None), slice(1, None)), (slice(None), slice(0, w - 1))),
                   ((slice(1, None), slice(None)), (slice(0, h - 1), slice(None))),
                   ((slice(1, None), slice(1, None)), (slice(0, h - 1), slice(0, w - 1))),
                   ((slice(1, None), slice(0, w - 1)), (slice(0, h - 1), slice(1, None)))):
        acc = None
        for g in planes:
            d = g[sa] - g[sb]
            if acc is None:
                acc = d * d
            else:
                acc += d * d
        n = acc.size
        np.sqrt(acc, out=out[start:start + n].reshape(acc.shape))
        start += n
    return out


def edge_order(costs: np.ndarray):
    """Edges sorted by cost like ``np.argsort(costs)``, faster; ties by index.

    ``np.argsort`` on float64 is several times slower than ``np.sort`` on 64-bit
    integers (SIMD-accelerated). The costs are non-negative, so their IEEE bit
    patterns sort like the values: the low bits of each pattern are replaced by
    the edge index, the keys are sorted, and the few runs of keys that share the
    truncated cost are re-sorted by the exact cost. The result equals
    ``np.argsort``'s permutation except inside groups of exactly equal costs,
    which come in index order here (``np.argsort``'s tie order is an artefact of
    its algorithm); :func:`felzenszwalb` detects when that could matter.

    Args:
        costs: (E,) float64, >= 0.

    Returns:
        ``(order, sorted_costs, tied)``: (E,) int32 permutation (E < 2**31;
        half the memory traffic of intp), ``costs[order]`` and whether two
        positive costs are equal.
    """
    n = costs.size
    bits = max(1, int(n - 1).bit_length())
    if n < 2:
        order = np.argsort(costs).astype(np.int32)
        return order, costs[order], True
    mask = np.uint64((1 << bits) - 1)
    key = costs.view(np.uint64) & ~mask
    key |= np.arange(n, dtype=np.uint64)
    key.sort()
    if numba is not None:
        return _get_extract()(key, bits, costs)
    order = (key & mask).astype(np.int32)
    s = costs[order]
    if (s[1:] < s[:-1]).any():
        # keys that share the truncated cost: a stable sort by the exact cost
        order = order[np.argsort(s, kind='stable')]
        s = costs[order]
    tied = bool(((s[1:] == s[:-1]) & (s[1:] > 0)).any())
    return order, s, tied


def _extract_kernel(key, bits, costs):  # pragma: no cover (jitted)
    """Edge order from sorted keys: (order, sorted costs, positive ties?).

    Keys sharing a truncated cost may be out of order by their exact cost; an
    insertion sort (stable, linear on nearly sorted data) repairs that.
    """
    n = key.size
    mask = np.uint64((1 << bits) - 1)
    order = np.empty(n, np.int32)
    s = np.empty(n)
    for i in range(n):
        idx = np.int32(key[i] & mask)
        v = costs[idx]
        j = i
        while j > 0 and s[j - 1] > v:
            s[j] = s[j - 1]
            order[j] = order[j - 1]
            j -= 1
        s[j] = v
        order[j] = idx
    tied = False
    for i in range(1, n):
        if s[i] == s[i - 1] and s[i] > 0:
            tied = True
            break
    return order, s, tied


def _find(parent, a):  # pragma: no cover (jitted)
    """Root of ``a`` (a root holds minus its segment's size) with path halving."""
    while True:
        p = parent[a]
        if p < 0:
            return a
        g = parent[p]
        if g < 0:
            return p
        parent[a] = g
        a = g


def _union(parent, ra, rb):  # pragma: no cover (jitted)
    """Link two roots by size (the larger one stays the root); returns the root."""
    if parent[ra] > parent[rb]:          # sizes are stored negated
        ra, rb = rb, ra
    parent[ra] += parent[rb]
    parent[rb] = ra
    return ra


def _merge_kernel(order, costs, h, w, scale, min_size,
                  check_ties):  # pragma: no cover (jitted)
    """Greedy merge + small-segment pass; returns (labels, tie_conflict).

    Union by size with path halving (near-linear after the sort). Which pixel
    is a segment's root does not change the partition (scikit-image makes the
    smaller index the root): the labels are assigned in raster order of first
    appearance at the end, which is the order of scikit-image's roots.

    Edges of equal cost w come in index order here, not in ``np.argsort``'s tie
    order. With ``check_ties`` the kernel verifies that this cannot change the
    result, else it returns ``tie_conflict=True`` (labels invalid):

    * merge pass: at the start of a tie group a segment either accepts cost w
      (w < tau) or not; an edge merges iff both its segments accept w, and a
      merged segment (Int = w) accepts w again, so the partition and the set of
      rejected edges do not depend on the order, unless float32 rounding makes
      the merged segment's tau <= w (checked at each merge);
    * small-segment pass: an edge merges iff one of its segments is below
      ``min_size``, and segments only grow. If every segment that is small at
      the start of a tie group is touched by at most one edge of the group, each
      such edge merges whatever the order, and edges between large segments never
      do; a segment that was small is stamped (the stamp follows merges) and a
      second touch is reported as a conflict.
    """
    n = h * w
    parent = np.full(n, -1, np.int32)
    tau = np.full(n, np.float32(0.0 + scale / 1.0), np.float32)
    stamp = np.full(n if check_ties else 1, -1, np.int64)
    n_right = h * (w - 1)
    n_down = (h - 1) * w
    n_diag = (h - 1) * (w - 1)
    wm1 = w - 1
    inv = 1.0 / wm1 if wm1 > 0 else 0.0
    # edges rejected by the merge pass, in order: the only candidates of the
    # small-segment pass (edges inside a component stay inside it)
    rej_a = np.empty(order.size, np.int32)
    rej_b = np.empty(order.size, np.int32)
    rej_k = np.empty(order.size, np.int64)
    n_rej = 0
    gid = 0
    for k in range(order.size):
        q = order[k]
        if n_right <= q < n_right + n_down:  # (y+1, x) - (y, x)
            b = q - n_right
            a = b + w
        else:
            if q < n_right:                  # (y, x+1) - (y, x)
                kind = 0
            elif q < n_right + n_down + n_diag:
                kind = 1                     # (y+1, x+1) - (y, x)
                q -= n_right + n_down
            else:
                kind = 2                     # (y, x+1) - (y+1, x)
                q -= n_right + n_down + n_diag
            y = int(q * inv)                 # q // (w - 1) without a division
            x = q - y * wm1
            if x < 0:
                y -= 1
                x += wm1
            elif x >= wm1:
                y += 1
                x -= wm1
            if kind == 0:
                b = y * w + x
                a = b + 1
            elif kind == 1:
                b = y * w + x
                a = b + w + 1
            else:
                a = y * w + x + 1
                b = a + w - 1
        ra = _find(parent, a)
        rb = _find(parent, b)
        if ra == rb:
            continue
        c = costs[k]
        if c < np.float64(min(tau[ra], tau[rb])):
            r = _union(parent, ra, rb)
            tau[r] = np.float32(c + scale / np.float64(-parent[r]))
            if check_ties and not c < np.float64(tau[r]):
                return np.empty(0, np.int32), True
        else:
            rej_a[n_rej] = a
            rej_b[n_rej] = b
            rej_k[n_rej] = k
            n_rej += 1
    prev = -1.0
    for j in range(n_rej):                   # remove segments under min_size
        ra = _find(parent, rej_a[j])
        rb = _find(parent, rej_b[j])
        c = costs[rej_k[j]]
        tie = check_ties and c > 0
        if tie:
            if c != prev:
                gid = j
                prev = c
            elif stamp[ra] == gid or stamp[rb] == gid:
                return np.empty(0, np.int32), True
        if ra == rb:
            continue
        small_a = -parent[ra] < min_size
        small_b = -parent[rb] < min_size
        if tie:
            if small_a:
                stamp[ra] = gid
            if small_b:
                stamp[rb] = gid
        if not (small_a or small_b):
            continue
        r = _union(parent, ra, rb)
        if tie:
            stamp[r] = gid              # holds a segment that was small
    labels = np.full(n, -1, np.int32)
    count = 0
    for p in range(n):                       # raster order of first appearance
        r = _find(parent, p)
        lab = labels[r]
        if lab < 0:                          # first pixel of its segment
            lab = count
            labels[r] = count
            count += 1
        labels[p] = lab
    return labels, False


_kernel = None
_extract = None


def jit(fn, **kwargs):
    """``numba.njit`` with an on-disk cache, or without one where no cache
    location is writable."""
    try:
        return numba.njit(cache=True, nogil=True, **kwargs)(fn)
    except Exception:  # pragma: no cover - read-only install
        return numba.njit(nogil=True, **kwargs)(fn)


def _get_extract():
    global _extract
    if _extract is None:
        _extract = jit(_extract_kernel)
    return _extract


def _get_kernel():
    global _kernel
    if _kernel is None:
        _kernel = jit(_merge_kernel)
    return _kernel


if numba is not None:
    # jitted at import (compiled lazily); the kernel calls it by its global name
    _find = jit(_find, inline='always')
    _union = jit(_union, inline='always')


def felzenszwalb(image: np.ndarray, scale: float, sigma: float,
                 min_size: int, gray: bool = False) -> np.ndarray:
    """Segment an image like ``skimage.segmentation.felzenszwalb``.

    Args:
        image: (H, W, C) uint8 or float image.
        scale, sigma, min_size: as in scikit-image.
        gray: the caller knows that the channels are equal.

    Returns:
        (H, W) int32 labels, numbered in raster order of first appearance.
    """
    if numba is None or image.ndim != 3 or min(image.shape[:2]) < 2 or \
            4 * image.shape[0] * image.shape[1] >= 2 ** 31:
        from skimage.segmentation import felzenszwalb as sk_felzenszwalb
        from skimage.util import img_as_float
        return sk_felzenszwalb(img_as_float(image), scale=scale, sigma=sigma,
                               min_size=min_size).astype(np.int32)
    costs = _costs(image, sigma, gray)
    order, sorted_costs, tied = edge_order(costs)
    h, w = image.shape[:2]
    kernel = _get_kernel()
    labels, conflict = kernel(order, sorted_costs, h, w, float(scale) / 255.,
                              int(min_size), tied)
    if conflict:        # equal costs whose order may matter: use np.argsort's
        order = np.argsort(costs).astype(np.int32)
        labels, _ = kernel(order, costs[order], h, w, float(scale) / 255.,
                           int(min_size), False)
    return labels.reshape(h, w)
