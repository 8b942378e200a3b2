"""Vectorised selective search, reproducing the ``selectivesearch`` 0.4 package.

PAD generated its RoIs with ``selectivesearch`` 0.4 (AlpacaTechJP) and AlignDet with
SoCo's copy of it (hologerry/SoCo). Both are a pure-Python
hierarchical grouping on top of scikit-image's Felzenszwalb segmentation; the
grouping dominates their run time (a Python loop over every pixel, one full-image mask
per region, an O(N^2) neighbour search and a full sort of all similarities at every
merge). This module computes the **same regions in the same order** with array
operations and a heap:

* the initial segmentation is scikit-image's Felzenszwalb segmentation;
* region statistics come from ``bincount`` instead of per-region masks;
* the neighbour relation (the reference's bounding-box-corner test, kept as is) is
  evaluated as a boolean matrix;
* the greedy merge uses a heap with lazy deletion whose tie-breaking reproduces the
  reference (highest similarity; among equal similarities, the pair inserted last),
  in a numba kernel (:mod:`mmpad.core.proposals.grouping`) or, without numba, in Python;
* Felzenszwalb and LBP are bit-compatible numba re-implementations of
  scikit-image's (:mod:`mmpad.core.proposals.felzenszwalb`, :mod:`mmpad.core.proposals.lbp`);
* similarities are summed in the reference's order (sequential sums), so they are
  bit-identical and the merge order cannot drift.

Quirks of the reference that are reproduced on purpose, because they define the RoIs
the published models were trained with:

* the colour histogram bins H, S and V of HSV over ``(0, 255)``, but H and S lie in
  ``[0, 1]``, so only V (the channel maximum) discriminates regions;
* the texture histogram is a histogram of 8-neighbour LBP codes. ``selectivesearch``
  0.4 bins them over ``(0, 1)``, i.e. it only counts codes 0 and 1 (``texture_range=
  (0., 1.)``); SoCo fixed this to ``(0, 255)``;
* "neighbours" are pairs whose bounding boxes contain a corner of the other (strict
  inequalities, earlier region first), not pixel adjacency;
* ``rect`` widths and heights are ``max - min`` (one less than the pixel extent).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import scipy.ndimage as ndi

from mmpad.core.proposals.felzenszwalb import equal_channels, felzenszwalb
from mmpad.core.proposals.grouping import group_kernel
from mmpad.core.proposals.lbp import lbp8

COLOUR_BINS = 25
TEXTURE_BINS = 10


@dataclass
class Regions:
    """All regions of the hierarchy, initial segments first, then merges in order.

    Attributes:
        rects: (N, 4) int64 ``x, y, w, h`` with ``w = max_x - min_x`` (reference
            convention).
        sizes: (N,) int64 pixel counts.
        segments: (H, W) int32 initial segmentation, labels in raster order of first
            appearance.
    """
    rects: np.ndarray
    sizes: np.ndarray
    segments: np.ndarray


def _bin_lut(n_bins: int, value_range: Tuple[float, float]) -> np.ndarray:
    """Bin index of every integer value 0..255 under ``np.histogram`` semantics.

    Returns:
        (256,) int64, -1 where the value falls outside ``value_range``.
    """
    lut = np.full(256, -1, np.int64)
    for v in range(256):
        counts = np.histogram(np.array([float(v)]), n_bins, value_range)[0]
        nz = np.flatnonzero(counts)
        if nz.size:
            lut[v] = nz[0]
    return lut


_LUT_CACHE: dict = {}


def _lut(n_bins: int, value_range: Tuple[float, float]) -> np.ndarray:
    key = (n_bins, float(value_range[0]), float(value_range[1]))
    if key not in _LUT_CACHE:
        _LUT_CACHE[key] = _bin_lut(n_bins, value_range)
    return _LUT_CACHE[key]


def _segment(image: np.ndarray, scale: float, sigma: float, min_size: int,
             gray: bool) -> Tuple[np.ndarray, int]:
    """Felzenszwalb segmentation, labels in raster order of first appearance."""
    seg = felzenszwalb(image, scale, sigma, min_size, gray)
    return seg, int(seg.max()) + 1


def _histograms(image: np.ndarray, seg: np.ndarray, k: int, sizes: np.ndarray,
                texture_range: Tuple[float, float],
                gray: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Normalised colour (K, 75) and texture (K, 30) histograms of every segment."""
    flat = seg.ravel().astype(np.int64)
    # colour: HSV; H and S are in [0, 1] and always fall in bin 0 of (0, 255)
    hist_c = np.zeros((k, 3 * COLOUR_BINS))
    hist_c[:, 0] = sizes
    hist_c[:, COLOUR_BINS] = sizes
    v = image[..., 0] if gray else \
        np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])
    v = v.ravel()
    vbin = _lut(COLOUR_BINS, (0.0, 255.0))[v]
    hist_c[:, 2 * COLOUR_BINS:] = np.bincount(
        flat * COLOUR_BINS + vbin, minlength=k * COLOUR_BINS).reshape(k, COLOUR_BINS)
    # texture: LBP codes per channel (computed once when the channels are equal)
    tlut = _lut(TEXTURE_BINS, texture_range)
    hist_t = np.zeros((k, 3 * TEXTURE_BINS))
    for c in range(3):
        if gray and c > 0:
            hist_t[:, c * TEXTURE_BINS:(c + 1) * TEXTURE_BINS] = hist_t[:, :TEXTURE_BINS]
            continue
        tbin = tlut[lbp8(image[..., c]).ravel()]
        ok = tbin >= 0
        hist_t[:, c * TEXTURE_BINS:(c + 1) * TEXTURE_BINS] = np.bincount(
            flat[ok] * TEXTURE_BINS + tbin[ok],
            minlength=k * TEXTURE_BINS).reshape(k, TEXTURE_BINS)
    # L1 normalisation by the region size, as the reference (counts / len(pixels))
    return hist_c / sizes[:, None], hist_t / sizes[:, None]


def _neighbour_pairs(box: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Pairs (a, b), a < b, where a corner of box b lies strictly inside box a.

    Args:
        box: (K, 4) int64 ``min_x, min_y, max_x, max_y``.

    Returns:
        (P, 2) int64 in the reference's order (a ascending, then b ascending).
    """
    k = len(box)
    out: List[np.ndarray] = []
    x0, y0, x1, y1 = (box[:, i] for i in range(4))
    for s in range(0, k, chunk):
        a = slice(s, min(k, s + chunk))
        ax0, ay0, ax1, ay1 = (v[a, None] for v in (x0, y0, x1, y1))
        in_x0 = (ax0 < x0) & (x0 < ax1)
        in_x1 = (ax0 < x1) & (x1 < ax1)
        in_y0 = (ay0 < y0) & (y0 < ay1)
        in_y1 = (ay0 < y1) & (y1 < ay1)
        hit = (in_x0 & in_y0) | (in_x1 & in_y1) | (in_x0 & in_y1) | (in_x1 & in_y0)
        hit &= np.arange(k)[None, :] > np.arange(a.start, a.stop)[:, None]
        ia, ib = np.nonzero(hit)
        out.append(np.stack([ia + s, ib], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


class _Hierarchy:
    """Region table and similarity computation of the greedy grouping."""

    def __init__(self, hist_c: np.ndarray, hist_t: np.ndarray, sizes: np.ndarray,
                 box: np.ndarray, imsize: int) -> None:
        k = len(sizes)
        cap = max(1, 2 * k - 1)
        # Columns that are zero in every region stay zero under merging; adding 0.0
        # is exact, so dropping them keeps the sequential sums bit-identical.
        self.cols_c = np.flatnonzero(hist_c.any(axis=0))
        self.cols_t = np.flatnonzero(hist_t.any(axis=0))
        self.hc = np.zeros((cap, len(self.cols_c)))
        self.ht = np.zeros((cap, len(self.cols_t)))
        self.hc[:k] = hist_c[:, self.cols_c]
        self.ht[:k] = hist_t[:, self.cols_t]
        self.size = np.zeros(cap, np.int64)
        self.size[:k] = sizes
        self.box = np.zeros((cap, 4), np.int64)
        self.box[:k] = box
        self.n = k
        self.imsize = imsize

    def sim(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity of region pairs (a[i], b[i]), bit-identical to the reference."""
        colour = np.cumsum(np.minimum(self.hc[a], self.hc[b]), axis=1)
        texture = np.cumsum(np.minimum(self.ht[a], self.ht[b]), axis=1)
        colour = colour[:, -1] if colour.shape[1] else np.zeros(len(a))
        texture = texture[:, -1] if texture.shape[1] else np.zeros(len(a))
        s = self.size[a] + self.size[b]
        ba, bb = self.box[a], self.box[b]
        bw = np.maximum(ba[:, 2], bb[:, 2]) - np.minimum(ba[:, 0], bb[:, 0])
        bh = np.maximum(ba[:, 3], bb[:, 3]) - np.minimum(ba[:, 1], bb[:, 1])
        size_sim = 1.0 - s / self.imsize
        fill_sim = 1.0 - (bw * bh - self.size[a] - self.size[b]) / self.imsize
        return colour + texture + size_sim + fill_sim

    def merge(self, i: int, j: int) -> int:
        t = self.n
        si, sj = self.size[i], self.size[j]
        new = si + sj
        self.hc[t] = (self.hc[i] * si + self.hc[j] * sj) / new
        self.ht[t] = (self.ht[i] * si + self.ht[j] * sj) / new
        self.size[t] = new
        self.box[t, :2] = np.minimum(self.box[i, :2], self.box[j, :2])
        self.box[t, 2:] = np.maximum(self.box[i, 2:], self.box[j, 2:])
        self.n += 1
        return t


def _group(h: _Hierarchy, pairs: np.ndarray, use_numba: bool = True) -> None:
    """Greedy hierarchical grouping; appends merged regions to ``h`` in order.

    Runs :mod:`mmpad.core.proposals.grouping`'s numba kernel when numba is available
    (same procedure), else the Python loop below.

    Reproduces the reference loop ``while S: i, j = sorted(S.items(), key=sim)[-1]``:
    the heap pops the highest similarity and, among equal ones, the pair inserted
    last (``-counter``). Pairs are deleted lazily: a pair is stale as soon as one of
    its regions has been merged.
    """
    kernel = group_kernel() if use_numba else None
    if kernel is not None:
        h.n = int(kernel(h.hc, h.ht, h.size, h.box, h.n,
                         np.ascontiguousarray(pairs, dtype=np.int64), h.imsize))
        return
    heap: list = []
    partners: List[dict] = [dict() for _ in range(h.n)]   # region -> {partner: counter}
    counter = 0
    if len(pairs):
        sims = h.sim(pairs[:, 0], pairs[:, 1])
        for (a, b), s in zip(pairs.tolist(), sims.tolist()):
            heap.append((-s, -counter, a, b))
            partners[a][b] = counter
            partners[b][a] = counter
            counter += 1
        heapq.heapify(heap)
    merged = [False] * h.n
    while heap:
        _, _, i, j = heapq.heappop(heap)
        if merged[i] or merged[j]:
            continue
        # keys (i, *) and (j, *) in S's insertion order; the reference iterates them
        # in that order when it inserts the new region's pairs
        linked = sorted([(c, n) for n, c in partners[i].items() if n != j]
                        + [(c, n) for n, c in partners[j].items() if n != i])
        t = h.merge(i, j)
        merged[i] = merged[j] = True
        merged.append(False)
        partners.append({})
        for n in partners[i]:
            partners[n].pop(i, None)
        for n in partners[j]:
            partners[n].pop(j, None)
        partners[i] = partners[j] = {}
        seen = set()
        nbrs = []
        for _, n in linked:
            if n not in seen:
                seen.add(n)
                nbrs.append(n)
        if not nbrs:
            continue
        sims = h.sim(np.full(len(nbrs), t), np.asarray(nbrs))
        for n, s in zip(nbrs, sims.tolist()):
            heapq.heappush(heap, (-s, -counter, t, n))
            partners[t][n] = counter
            partners[n][t] = counter
            counter += 1


def selective_search(image: np.ndarray, scale: float = 1.0, sigma: float = 0.8,
                     min_size: int = 50,
                     texture_range: Tuple[float, float] = (0.0, 1.0)) -> Regions:
    """Selective search with the semantics of ``selectivesearch.selective_search``.

    Args:
        image: (H, W, 3) uint8. Channels are used as given (the reference passed
            OpenCV's BGR arrays for PAD and PIL's RGB arrays for SoCo).
        scale, sigma, min_size: Felzenszwalb parameters.
        texture_range: value range of the 10-bin LBP histogram: ``(0, 1)`` as in
            ``selectivesearch`` 0.4, ``(0, 255)`` as in SoCo's fixed copy.

    Returns:
        :class:`Regions` in the reference's order (initial segments in raster order
        of first appearance, then every merge).
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'selective_search expects an (H, W, 3) image, got shape '
                         f'{image.shape}')
    if image.dtype != np.uint8:
        raise ValueError(f'selective_search expects uint8 pixels, got {image.dtype}')
    height, width = image.shape[:2]
    gray = equal_channels(image)
    seg, k = _segment(image, scale, sigma, min_size, gray)
    sizes = np.bincount(seg.ravel(), minlength=k).astype(np.int64)
    box = np.zeros((k, 4), np.int64)
    for lab, sl in enumerate(ndi.find_objects(seg + 1)):
        box[lab] = (sl[1].start, sl[0].start, sl[1].stop - 1, sl[0].stop - 1)
    hist_c, hist_t = _histograms(image, seg, k, sizes, texture_range, gray)
    h = _Hierarchy(hist_c, hist_t, sizes, box, height * width)
    _group(h, _neighbour_pairs(box))
    b = h.box[:h.n]
    rects = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    return Regions(rects=rects, sizes=h.size[:h.n].copy(), segments=seg)
