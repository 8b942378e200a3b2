"""Greedy hierarchical grouping of selective search as a numba kernel.

Same procedure as the Python ``_group`` of :mod:`mmpad.core.proposals.search`
(and the reference loop it reproduces): pop the most similar pair (ties: the pair
created last), merge it, delete the pairs of both regions, create the pairs of the
new region in the order the reference would (by the creation order of the deleted
pairs, first occurrence of each neighbour). Similarities are summed sequentially in
column order, so they are bit-identical to the reference's.

Data layout: pairs are numbered by creation (the counter that breaks ties), kept in
arrays (``pa``, ``pb``, ``psim``) that grow by doubling; each region has a linked
list of its pairs (``head``, ``nxt``); the heap holds pair numbers; a pair is stale
once one of its regions has been merged (lazy deletion).
"""
from __future__ import annotations

import numpy as np


def _sim(hc, ht, size, box, a, b, imsize):  # pragma: no cover (jitted)
    colour = 0.0
    for k in range(hc.shape[1]):
        colour += min(hc[a, k], hc[b, k])
    texture = 0.0
    for k in range(ht.shape[1]):
        texture += min(ht[a, k], ht[b, k])
    s = size[a] + size[b]
    bw = max(box[a, 2], box[b, 2]) - min(box[a, 0], box[b, 0])
    bh = max(box[a, 3], box[b, 3]) - min(box[a, 1], box[b, 1])
    size_sim = 1.0 - s / imsize
    fill_sim = 1.0 - (bw * bh - size[a] - size[b]) / imsize
    return colour + texture + size_sim + fill_sim


def _before(psim, p, q):  # pragma: no cover (jitted)
    """Pair p pops before pair q: higher similarity, then created later."""
    return psim[p] > psim[q] or (psim[p] == psim[q] and p > q)


def _push(heap, n_heap, psim, p):  # pragma: no cover (jitted)
    i = n_heap
    heap[i] = p
    while i > 0:
        parent = (i - 1) // 2
        if _before(psim, heap[i], heap[parent]):
            heap[i], heap[parent] = heap[parent], heap[i]
            i = parent
        else:
            break
    return n_heap + 1


def _pop(heap, n_heap, psim):  # pragma: no cover (jitted)
    top = heap[0]
    n_heap -= 1
    heap[0] = heap[n_heap]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n_heap:
            break
        best = left
        if left + 1 < n_heap and _before(psim, heap[left + 1], heap[left]):
            best = left + 1
        if _before(psim, heap[best], heap[i]):
            heap[i], heap[best] = heap[best], heap[i]
            i = best
        else:
            break
    return top, n_heap


def _group_kernel(hc, ht, size, box, n0, pairs, imsize):  # pragma: no cover (jitted)
    """Run the grouping in place on region arrays of capacity 2*n0 - 1.

    Args:
        hc, ht: (cap, Cc), (cap, Ct) float64 normalised histograms (rows < n0 set).
        size: (cap,) int64 pixel counts; box: (cap, 4) int64 min/max x/y.
        n0: number of initial segments.
        pairs: (P, 2) int64 initial neighbour pairs in the reference's order.
        imsize: H * W.

    Returns:
        The number of regions (n0 + number of merges).
    """
    cap_p = max(16, 2 * pairs.shape[0])
    pa = np.empty(cap_p, np.int64)
    pb = np.empty(cap_p, np.int64)
    psim = np.empty(cap_p)
    nxt_a = np.empty(cap_p, np.int64)     # next pair in pa[p]'s list
    nxt_b = np.empty(cap_p, np.int64)     # next pair in pb[p]'s list
    heap = np.empty(cap_p, np.int64)
    cap_r = size.shape[0]
    head = np.full(cap_r, -1, np.int64)
    dead = np.zeros(cap_r, np.bool_)
    n_pairs = 0
    n_heap = 0
    n = n0
    for r in range(pairs.shape[0]):
        a = pairs[r, 0]
        b = pairs[r, 1]
        pa[n_pairs] = a
        pb[n_pairs] = b
        psim[n_pairs] = _sim(hc, ht, size, box, a, b, imsize)
        nxt_a[n_pairs] = head[a]
        head[a] = n_pairs
        nxt_b[n_pairs] = head[b]
        head[b] = n_pairs
        n_heap = _push(heap, n_heap, psim, n_pairs)
        n_pairs += 1
    linked = np.empty(cap_r, np.int64)
    linked_c = np.empty(cap_r, np.int64)
    seen = np.full(cap_r, -1, np.int64)
    while n_heap > 0:
        p, n_heap = _pop(heap, n_heap, psim)
        i = pa[p]
        j = pb[p]
        if dead[i] or dead[j]:
            continue
        # live pairs of i and j except (i, j): their partners, with creation order
        m = 0
        for r in (i, j):
            q = head[r]
            while q >= 0:
                other = pb[q] if pa[q] == r else pa[q]
                nq = nxt_a[q] if pa[q] == r else nxt_b[q]
                if not dead[other] and other != i and other != j:
                    if m == linked.shape[0]:
                        grown = np.empty(2 * m, np.int64)
                        grown[:m] = linked
                        linked = grown
                        grown_c = np.empty(2 * m, np.int64)
                        grown_c[:m] = linked_c
                        linked_c = grown_c
                    linked[m] = other
                    linked_c[m] = q
                    m += 1
                q = nq
        order = np.argsort(linked_c[:m])
        # merge i and j into t
        t = n
        si = size[i]
        sj = size[j]
        new = si + sj
        for k in range(hc.shape[1]):
            hc[t, k] = (hc[i, k] * si + hc[j, k] * sj) / new
        for k in range(ht.shape[1]):
            ht[t, k] = (ht[i, k] * si + ht[j, k] * sj) / new
        size[t] = new
        box[t, 0] = min(box[i, 0], box[j, 0])
        box[t, 1] = min(box[i, 1], box[j, 1])
        box[t, 2] = max(box[i, 2], box[j, 2])
        box[t, 3] = max(box[i, 3], box[j, 3])
        dead[i] = True
        dead[j] = True
        n += 1
        for u in range(m):
            other = linked[order[u]]
            if seen[other] == t:
                continue
            seen[other] = t
            if n_pairs == pa.shape[0]:            # grow the pair arrays
                c2 = 2 * n_pairs
                pa2 = np.empty(c2, np.int64)
                pa2[:n_pairs] = pa
                pa = pa2
                pb2 = np.empty(c2, np.int64)
                pb2[:n_pairs] = pb
                pb = pb2
                ps2 = np.empty(c2)
                ps2[:n_pairs] = psim
                psim = ps2
                na2 = np.empty(c2, np.int64)
                na2[:n_pairs] = nxt_a
                nxt_a = na2
                nb2 = np.empty(c2, np.int64)
                nb2[:n_pairs] = nxt_b
                nxt_b = nb2
                h2 = np.empty(c2, np.int64)
                h2[:n_heap] = heap[:n_heap]
                heap = h2
            pa[n_pairs] = t
            pb[n_pairs] = other
            psim[n_pairs] = _sim(hc, ht, size, box, t, other, imsize)
            nxt_a[n_pairs] = head[t]
            head[t] = n_pairs
            nxt_b[n_pairs] = head[other]
            head[other] = n_pairs
            n_heap = _push(heap, n_heap, psim, n_pairs)
            n_pairs += 1
    return n


_kernel = None


def group_kernel():
    """The jitted grouping kernel, or None without numba."""
    global _kernel, _sim, _before, _push, _pop
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover
        return None
    if _kernel is None:
        from mmpad.core.proposals.felzenszwalb import jit
        _sim = jit(_sim, inline='always')
        _before = jit(_before, inline='always')
        _push = jit(_push)
        _pop = jit(_pop)
        _kernel = jit(_group_kernel)
    return _kernel
