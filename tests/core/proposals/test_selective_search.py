"""Selective search: bit-compatibility with scikit-image / selectivesearch 0.4."""
import glob
import os.path as osp
import warnings

import cv2
import numpy as np
import pytest

from mmpad.core.proposals.felzenszwalb import felzenszwalb
from mmpad.core.proposals.lbp import lbp8
from mmpad.core.proposals.search import (_group, _Hierarchy, _neighbour_pairs,
                                              selective_search)


def _images(demo_data, n=3):
    files = sorted(glob.glob(osp.join(demo_data, 'flir/train/thermal_8_bit/*.jpeg')))
    return [cv2.imread(f) for f in files[:n]]


def _colour_image(seed=0, h=48, w=64):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :w // 2] = (200, 30, 30)
    img[h // 3:, w // 3:] = (20, 180, 90)
    noise = rng.integers(0, 25, (h, w, 3))
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def test_felzenszwalb_matches_skimage(demo_data):
    from skimage.segmentation import felzenszwalb as sk_felzenszwalb
    from skimage.util import img_as_float
    for img in _images(demo_data, 2) + [_colour_image(1)]:
        for scale, min_size in ((600, 30), (300, 100)):
            ref = sk_felzenszwalb(img_as_float(img), scale=scale, sigma=0.9,
                                  min_size=min_size)
            ours = felzenszwalb(img, scale, 0.9, min_size)
            np.testing.assert_array_equal(ours, ref)


def test_edge_costs_bit_identical_to_skimage_formula():
    from skimage.filters import gaussian
    from skimage.util import img_as_float64
    from mmpad.core.proposals.felzenszwalb import _costs
    rng = np.random.default_rng(0)
    for t in range(6):
        h, w = (int(v) for v in rng.integers(2, 60, 2))
        img = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        if t % 2:
            img[..., 1] = img[..., 2] = img[..., 0]
        g = gaussian(img_as_float64(img), sigma=[0.9, 0.9, 0], mode='reflect',
                     channel_axis=-1)
        ref = []
        for a, b in ((g[:, 1:], g[:, :w - 1]), (g[1:], g[:h - 1]),
                     (g[1:, 1:], g[:h - 1, :w - 1]), (g[1:, :w - 1], g[:h - 1, 1:])):
            ref.append(np.sqrt(np.sum((a - b) * (a - b), axis=-1)).ravel())
        np.testing.assert_array_equal(_costs(img, 0.9), np.hstack(ref))


def test_felzenszwalb_exact_with_tied_costs():
    """Blocky images have many equal edge costs: the fast edge order (ties by
    index) must either give scikit-image's labels or detect the conflict and fall
    back to np.argsort's order."""
    import cv2 as _cv2
    from skimage.segmentation import felzenszwalb as sk_felzenszwalb
    from skimage.util import img_as_float64
    rng = np.random.default_rng(7)
    for t in range(24):
        h, w = (int(v) for v in rng.integers(12, 40, 2))
        q = int(rng.integers(2, 6))
        blocks = rng.integers(0, q, (h // 3 + 1, w // 3 + 1)).astype(np.uint8) * (200 // q)
        img = _cv2.resize(blocks, (w, h), interpolation=_cv2.INTER_NEAREST)
        img = np.repeat(img[..., None], 3, 2) if t % 2 else \
            np.stack([img, np.roll(img, 3, 0), img], -1)
        for scale, min_size in ((1, 1), (50, 5), (300, 40), (10, 3), (30, 100)):
            ref = sk_felzenszwalb(img_as_float64(img), scale=scale, sigma=0.9,
                                  min_size=min_size)
            np.testing.assert_array_equal(felzenszwalb(img, scale, 0.9, min_size), ref)


def test_edge_order_sorts_like_argsort():
    from mmpad.core.proposals.felzenszwalb import edge_order
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(2, 3000))
        x = np.abs(np.round(rng.random(n) * rng.choice([1e-3, 1, 1e3]),
                            int(rng.integers(1, 12))))
        x[rng.random(n) < 0.1] = 0.0
        order, s, tied = edge_order(x)
        ref = np.argsort(x, kind='stable')
        np.testing.assert_array_equal(s, x[ref])
        np.testing.assert_array_equal(order, ref)      # ties come in index order
        assert tied == bool(((s[1:] == s[:-1]) & (s[1:] > 0)).any())


def test_lbp_matches_skimage(demo_data):
    from skimage.feature import local_binary_pattern
    rng = np.random.default_rng(0)
    chans = [img[..., 0] for img in _images(demo_data, 2)]
    chans += [rng.integers(0, 256, (17, 23)).astype(np.uint8),
              rng.integers(0, 3, (20, 20)).astype(np.uint8)]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for c in chans:
            ref = local_binary_pattern(c.astype(np.float64), 8, 1.0)
            np.testing.assert_array_equal(lbp8(c), ref)


def test_neighbour_pairs_follow_reference_corner_rule():
    # box = min_x, min_y, max_x, max_y
    box = np.array([[0, 0, 10, 10],      # 0
                    [5, 5, 20, 20],      # 1: its top-left corner is inside 0
                    [30, 30, 40, 40],    # 2: disjoint from all
                    [-5, -5, 50, 50]])   # 3: contains everything, no corner inside
    pairs = _neighbour_pairs(box)
    # (0,1): corner of 1 inside 0. (1,3)/(0,3)/(2,3): corners of 3 are outside
    # boxes 0..2, and the test is one-directional (earlier box contains a corner of
    # the later box), so 3 has no neighbours.
    assert pairs.tolist() == [[0, 1]]


def _naive_group(h, pairs):
    """The reference loop, literally: dict of similarities, full sort per merge."""
    S = {}
    for a, b in pairs.tolist():
        S[(a, b)] = float(h.sim(np.array([a]), np.array([b]))[0])
    order = []
    while S:
        i, j = sorted(S.items(), key=lambda kv: kv[1])[-1][0]
        t = h.merge(i, j)
        order.append((i, j))
        dele = [k for k in list(S) if i in k or j in k]
        for k in dele:
            del S[k]
        for k in [a for a in dele if a != (i, j)]:
            n = k[1] if k[0] in (i, j) else k[0]
            S[(t, n)] = float(h.sim(np.array([t]), np.array([n]))[0])
    return order


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('use_numba', [True, False])
def test_heap_grouping_equals_naive_loop_including_ties(seed, use_numba):
    rng = np.random.default_rng(seed)
    k = 30
    # few distinct histogram values and sizes -> many exactly tied similarities
    hist_c = rng.integers(0, 3, (k, 75)).astype(float)
    hist_t = rng.integers(0, 2, (k, 30)).astype(float)
    sizes = rng.integers(1, 4, k) * 10
    x0 = rng.integers(0, 40, k)
    y0 = rng.integers(0, 40, k)
    box = np.stack([x0, y0, x0 + rng.integers(2, 30, k), y0 + rng.integers(2, 30, k)], 1)
    pairs = _neighbour_pairs(box)
    h1 = _Hierarchy(hist_c, hist_t, sizes, box, 10000)
    h2 = _Hierarchy(hist_c, hist_t, sizes, box, 10000)
    naive = _naive_group(h1, pairs)
    _group(h2, pairs, use_numba=use_numba)
    assert h2.n == h1.n == k + len(naive)
    np.testing.assert_array_equal(h2.box[:h2.n], h1.box[:h1.n])
    np.testing.assert_array_equal(h2.size[:h2.n], h1.size[:h1.n])


def test_matches_selectivesearch_package(demo_data):
    ss = pytest.importorskip('selectivesearch')
    img = _images(demo_data, 1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        _, regions = ss.selective_search(img, scale=600, sigma=0.9, min_size=30)
    ours = selective_search(img, 600, 0.9, 30)
    np.testing.assert_array_equal(ours.rects, np.array([r['rect'] for r in regions]))
    np.testing.assert_array_equal(ours.sizes, np.array([r['size'] for r in regions]))


def test_regions_are_a_hierarchy(demo_data):
    img = _images(demo_data, 1)[0]
    r = selective_search(img, 300, 0.9, 100)
    k = int(r.segments.max()) + 1
    assert len(r.rects) >= k
    # initial segments: sizes are their pixel counts, rects their pixel extents
    np.testing.assert_array_equal(r.sizes[:k], np.bincount(r.segments.ravel()))
    ys, xs = np.nonzero(r.segments == 0)
    assert r.rects[0].tolist() == [xs.min(), ys.min(), xs.max() - xs.min(),
                                   ys.max() - ys.min()]
    # a merged region is at least as large as the smallest segment; the last
    # merge of a connected hierarchy covers the most pixels
    assert r.sizes[k:].min(initial=10 ** 9) >= r.sizes[:k].min()
    assert r.sizes.max() <= img.shape[0] * img.shape[1]
    h, w = img.shape[:2]
    assert (r.rects[:, 0] >= 0).all() and (r.rects[:, 0] + r.rects[:, 2] < w).all()
    assert (r.rects[:, 1] >= 0).all() and (r.rects[:, 1] + r.rects[:, 3] < h).all()


def test_rejects_bad_input():
    with pytest.raises(ValueError, match='uint8'):
        selective_search(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match='shape'):
        selective_search(np.zeros((8, 8), np.uint8))


def test_without_numba_gives_the_same_regions(demo_data, monkeypatch):
    import mmpad.core.proposals.felzenszwalb as fz
    import mmpad.core.proposals.lbp as lbp_mod
    img = _images(demo_data, 1)[0]
    fast = selective_search(img, 600, 0.9, 30)
    monkeypatch.setattr(fz, 'numba', None)
    monkeypatch.setattr(lbp_mod, 'numba', None)
    slow = selective_search(img, 600, 0.9, 30)
    np.testing.assert_array_equal(fast.rects, slow.rects)
    np.testing.assert_array_equal(fast.segments, slow.segments)
