#!/usr/bin/env python
"""PAD train pipeline throughput (images/s per core), side by side in one process.

Pipelines, on the same 640x512 one-channel JPEGs (MSIP-like generated scenes, RoIs
in the sample as with ``MSIPDataset(load_rois=True)``), 224 px output:

* ``3-channel``: the pipeline before gray-once (``LoadImageFromFileSafe(min_size=60)``
  + ``ObjectSensitiveRandomRoICrop`` + ``RandomFlip`` + ``PackInputs``): 3 equal
  channels decoded, compared and resized once, replicated, flipped and packed;
* ``gray``: the PAD config's pipeline, ``color_type='grayscale'`` (exact: the same
  batch after ``InfraredSelfSupDataPreprocessor``);
* ``gray+reduced``: ``lazy_decode=True`` + ``reduced_decode=2`` (opt-in, not exact);
* ``gray+device``: ``resize='device'``, the CPU part of the device-resize mode;
* ``stock MAE``: mmpretrain's MAE pipeline (``LoadImageFromFile`` +
  ``RandomResizedCrop(224, (0.2, 1.0), bicubic)`` + ``RandomFlip`` + ``PackInputs``).

Each pipeline runs ``--n`` samples per round, rounds alternate between pipelines
(``--rounds``), the best round counts; CPU time of this process (one thread).
Prints img/s per core, the ratio to ``3-channel`` and the goal (>= 400 img/s per
core), the time of each stage of the first two, and the share of crops that the
reduced decode can decode at 1/2.

Usage: python benchmarks/bench_pipeline.py [--n 300] [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import tempfile
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import mmpad  # noqa: E402,F401
from mmpad.datasets.synthetic import render_scene  # noqa: E402

GOAL = 400.0  # img/s per core


def _scene_rois(rng: np.random.Generator, h: int, w: int, n: int = 40) -> np.ndarray:
    """Selective-search-like RoIs: many small / medium boxes, a few large ones."""
    side = np.exp(rng.uniform(np.log(40), np.log(min(h, w)), (n, 2))).astype(np.int64)
    x = rng.integers(0, w - side[:, 0] + 1)
    y = rng.integers(0, h - side[:, 1] + 1)
    return np.stack([x, y, side[:, 0], side[:, 1]], 1)


def _write_samples(tmp: str, n: int, h: int = 512, w: int = 640) -> list:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        img = render_scene(rng, h, w).image  # (h, w) uint8
        path = osp.join(tmp, f'{i}.jpg')
        cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append(dict(img_path=path, rois=_scene_rois(rng, h, w)))
    return out


def _pipelines() -> dict:
    from mmengine.dataset.base_dataset import Compose

    def pad(gray=False, lazy=False, reduced=1, resize='cpu'):
        load = dict(type='LoadImageFromFileSafe', min_size=60, lazy_decode=lazy)
        if gray:
            load['color_type'] = 'grayscale'
        return Compose([
            load,
            dict(type='mmpretrain.ObjectSensitiveRandomRoICrop', size=224, p=0.85,
                 reduced_decode=reduced, resize=resize),
            dict(type='mmpretrain.RandomFlip', prob=0.5),
            dict(type='mmpretrain.PackInputs')])
    stock = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='mmpretrain.RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0),
             backend='pillow', interpolation='bicubic'),
        dict(type='mmpretrain.RandomFlip', prob=0.5),
        dict(type='mmpretrain.PackInputs')])
    return {'3-channel': pad(), 'gray': pad(gray=True),
            'gray+reduced': pad(gray=True, lazy=True, reduced=2),
            'gray+device': pad(gray=True, resize='device'),
            'stock MAE': stock}


def _round(pipe, samples, n: int) -> float:
    t0 = time.process_time()
    for k in range(n):
        pipe(dict(samples[k % len(samples)]))
    return n / (time.process_time() - t0)


def _stages(pipe, samples, n: int) -> tuple:
    """ms per image of (loading, RoI crop, flip + pack), from the pipeline's
    prefixes timed one after the other."""
    from mmengine.dataset.base_dataset import Compose
    t = [1e3 / _round(Compose(pipe.transforms[:k]), samples, n) for k in (1, 2, 4)]
    return t[0], t[1] - t[0], t[2] - t[1]


def _reduced_share(samples, n: int) -> float:
    """Share of PAD crops (p = 0.85) at least 2x the output in both directions."""
    from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop
    t = ObjectSensitiveRandomRoICrop(224, p=0.85, reduced_decode=2)
    big = 0
    for k in range(n):
        s = samples[k % len(samples)]
        params = t.roi_crop_params((512, 640), s['rois'])
        if params is None:
            continue
        big += t._reduce_for(params[2], params[3]) == 2
    return big / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=300, help='samples per round')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--images', type=int, default=32)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    pipes = _pipelines()
    best = {k: 0.0 for k in pipes}
    with tempfile.TemporaryDirectory() as tmp:
        samples = _write_samples(tmp, args.images)
        for pipe in pipes.values():  # warm-up
            _round(pipe, samples, 20)
        for r in range(args.rounds):
            np.random.seed(r)
            for name, pipe in pipes.items():
                best[name] = max(best[name], _round(pipe, samples, args.n))
        share = _reduced_share(samples, 2000)
        stages = {k: _stages(pipes[k], samples, args.n) for k in ('3-channel', 'gray')}
    base = best['3-channel']
    print(f'PAD train pipeline, 640x512 gray JPEG -> 224, OMP_NUM_THREADS=1, '
          f'best of {args.rounds} alternating rounds of {args.n}')
    print(f'{"pipeline":14s} {"img/s/core":>11s} {"vs 3-channel":>13s} {"goal":>12s}')
    for name, v in best.items():
        goal = f'>= {GOAL:.0f}' if name != 'stock MAE' else '(reference)'
        print(f'{name:14s} {v:11.1f} {v / base:12.2f}x {goal:>12s}')
    for name, (load, crop, rest) in stages.items():
        print(f'{name:14s} stages, ms/img: load+decode {load:.2f}, RoI crop {crop:.2f}, '
              f'flip+pack {rest:.2f}')
    print(f'share of PAD crops >= 2x 224 (decoded at 1/2 with reduced_decode=2): '
          f'{share:.3f}')


if __name__ == '__main__':
    main()
