#!/usr/bin/env python
"""mmpad.core.proposals vs the ``selectivesearch==0.4`` package the reference used.

Both run on the same FLIR-style generated images (mmpad.datasets.synthetic), whose
ground-truth person / bicycle / car boxes are known, at the demo size (320x256), at
the FLIR ADAS v1 size (640x512), and at 640x512 with a smooth random texture added
(+/-12 grey levels, as sensor non-uniformity and clutter give real images; it
roughly doubles the number of segments, the boxes stay valid). For each method's
parameters the benchmark reports, side by side in one run:

* CPU time per image (``time.process_time``, single thread; wall time on a
  shared machine mostly measures the other processes) and the speed ratio
  (reference / mmpad) of the totals, plus the median of the per-image ratios;
* proposals per second (filtered proposals / time);
* recall of the generated objects at IoU >= 0.5 by the filtered proposals;
* whether the two implementations produced identical region lists.

The reference is ``selectivesearch.selective_search`` followed by the same filter
(mmpad.core.proposals.filters). For the AlignDet preset the reference is SoCo's copy of
the package, i.e. 0.4 with the texture histogram range fixed to (0, 255); the
benchmark applies that one-line difference to the installed package in memory (no
site-packages edit). ``selectivesearch`` 0.4 runs unmodified with scikit-image 0.26
and numpy 1.26. Install it with ``pip install -r requirements/bench.txt``.

Usage: python benchmarks/bench_proposals.py [--n-small 8] [--n-large 4]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault('OMP_NUM_THREADS', '1')

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from mmpad.datasets.synthetic import render_scene  # noqa: E402
from mmpad.core.proposals import (box_iou_xywh, get_preset, nms_in_order,  # noqa: E402
                             pad_roi_filter, selective_search, soco_filter,
                             unique_rows)


def _reference(preset_name: str):
    """The reference callable for a preset: image -> (rects, sizes)."""
    import selectivesearch
    import selectivesearch.selectivesearch as ss_mod
    p = get_preset(preset_name)
    original = ss_mod._calc_texture_hist

    def soco_texture_hist(img):  # SoCo's fix: LBP codes binned over (0, 255)
        hist = np.array([])
        for c in (0, 1, 2):
            hist = np.concatenate([hist] + [np.histogram(img[:, c], 10,
                                                         (0.0, 255.0))[0]])
        return hist / len(img)

    def run(image):
        ss_mod._calc_texture_hist = soco_texture_hist \
            if p.texture_range[1] > 1 else original
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                _, regions = selectivesearch.selective_search(
                    image, scale=p.scale, sigma=p.sigma, min_size=p.min_size)
        finally:
            ss_mod._calc_texture_hist = original
        rects = np.array([r['rect'] for r in regions], np.int64).reshape(-1, 4)
        return rects, np.array([r['size'] for r in regions], np.int64)
    return run


def _filtered(preset_name, rects, sizes, shape):
    p = get_preset(preset_name)
    keep = pad_roi_filter(rects, sizes) if p.filter == 'pad' \
        else soco_filter(rects, shape)
    out = rects[keep]
    if p.dedupe:
        out = unique_rows(out)
    if p.nms_iou is not None:
        out = nms_in_order(out, p.nms_iou)
    return out


def _recall(gts, props, thr=0.5):
    hit = total = 0
    for gt, pr in zip(gts, props):
        if len(gt) == 0:
            continue
        total += len(gt)
        if len(pr):
            hit += int((box_iou_xywh(gt, pr).max(axis=1) >= thr).sum())
    return hit / max(total, 1)


def _images(n, h, w, seed, texture=0.0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        sc = render_scene(rng, h, w)
        img = sc.image.astype(np.float32)
        if texture:
            tex = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32),
                                   (0, 0), 3)
            img = img + tex / tex.std() * texture
        img = np.clip(img, 0, 255).astype(np.uint8)
        img = np.repeat(img[:, :, None], 3, axis=2)       # as cv2.imread gives it
        out.append((img, np.array([b for _, b in sc.boxes]).reshape(-1, 4)))
    return out


def bench(preset_name, images):
    p = get_preset(preset_name)
    ref = _reference(preset_name)
    t_ref = t_ours = 0.0
    n_ref = n_ours = 0
    identical = 0
    props_ref, props_ours, gts, ratios = [], [], [], []
    for img, gt in images:
        x = cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if p.channel_order == 'rgb' else img
        t0 = time.process_time()
        r_rects, r_sizes = ref(x)
        t1 = time.process_time()
        ours = selective_search(x, p.scale, p.sigma, p.min_size, p.texture_range)
        t2 = time.process_time()
        t_ref += t1 - t0
        t_ours += t2 - t1
        ratios.append((t1 - t0) / max(t2 - t1, 1e-9))
        identical += int(r_rects.shape == ours.rects.shape
                         and (r_rects == ours.rects).all()
                         and (r_sizes == ours.sizes).all())
        fr = _filtered(preset_name, r_rects, r_sizes, img.shape)
        fo = _filtered(preset_name, ours.rects, ours.sizes, img.shape)
        n_ref += len(fr)
        n_ours += len(fo)
        props_ref.append(fr)
        props_ours.append(fo)
        gts.append(gt)
    n = len(images)
    return dict(ms_ref=1000 * t_ref / n, ms_ours=1000 * t_ours / n,
                ratio=t_ref / t_ours, median_ratio=float(np.median(ratios)),
                pps_ref=n_ref / t_ref, pps_ours=n_ours / t_ours,
                recall_ref=_recall(gts, props_ref), recall_ours=_recall(gts, props_ours),
                identical=f'{identical}/{n}', props=n_ours / n)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n-small', type=int, default=8, help='320x256 images')
    ap.add_argument('--n-large', type=int, default=4,
                    help='640x512 images (plain and textured)')
    args = ap.parse_args()
    try:
        import selectivesearch  # noqa: F401
    except ImportError:  # the benchmark needs the reference package
        sys.exit('selectivesearch is not installed: pip install -r '
                 'requirements/bench.txt')
    # compile / load the numba kernels outside the timed region
    selective_search(np.zeros((16, 16, 3), np.uint8), 100, 0.9, 10)
    sets = [('320x256', _images(args.n_small, 256, 320, 0)),
            ('640x512', _images(args.n_large, 512, 640, 1)),
            ('640x512+tex', _images(args.n_large, 512, 640, 2, texture=12.0))]
    print(f'{"preset":9s} {"images":15s} {"ref ms":>8s} {"mmpad ms":>9s} '
          f'{"speed-up":>9s} {"median":>7s} {"ref prop/s":>11s} {"mmpad prop/s":>13s} '
          f'{"recall@.5 ref":>14s} {"mmpad":>6s} {"identical":>10s} {"prop/img":>9s}')
    for preset in ('pad', 'aligndet'):
        for name, imgs in sets:
            r = bench(preset, imgs)
            print(f'{preset:9s} {len(imgs):2d}x{name:12s} {r["ms_ref"]:8.1f} '
                  f'{r["ms_ours"]:9.1f} {r["ratio"]:8.1f}x {r["median_ratio"]:6.1f}x '
                  f'{r["pps_ref"]:11.1f} {r["pps_ours"]:13.1f} '
                  f'{r["recall_ref"]:14.3f} {r["recall_ours"]:6.3f} '
                  f'{r["identical"]:>10s} {r["props"]:9.1f}', flush=True)


if __name__ == '__main__':
    main()
