#!/usr/bin/env python
"""ObjectSensitiveRandomRoICrop throughput vs mmpretrain's RandomResizedCrop.

Same images (MSIP-like generated scenes at 320x256 and 640x512), same output size
(224, bicubic, pillow backend, as in PAD pre-training), timed side by side in one run:

* ``RandomResizedCrop(224, crop_ratio_range=(0.2, 1.0))``: the fallback crop;
* ``ObjectSensitiveRandomRoICrop`` with RoIs in the sample (``rois``, e.g. from
  ``MSIPDataset(load_rois=True)``);
* ``ObjectSensitiveRandomRoICrop`` reading the RoI file (``roi_path``) every call;
* ``ObjectSensitiveRandomRoICrop`` with RoIs but without its equal-channel
  shortcut (infrared images are resized as one channel and replicated, which
  gives the same pixels), i.e. the sampling procedure alone.

Prints samples/s and the ratios to RandomResizedCrop (target >= 1x).

Usage: python benchmarks/bench_roi_crop.py [--n 400]
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import tempfile
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402

import mmpad  # noqa: E402,F401
from mmpad.datasets.synthetic import render_scene  # noqa: E402
from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop  # noqa: E402
from mmpad.core.proposals import generate_proposals, write_roi_file  # noqa: E402


def _samples(n_img, h, w, seed, tmp):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_img):
        img = np.repeat(render_scene(rng, h, w).image[:, :, None], 3, axis=2)
        rois = generate_proposals(img, 'pad')
        path = osp.join(tmp, f'{h}_{i}.txt')
        write_roi_file(path, rois)
        out.append((img, rois, path))
    return out


def _time(transform, samples, n, key):
    """Samples per second of CPU time (the machine may be shared)."""
    np.random.seed(0)
    t0 = time.process_time()
    for k in range(n):
        img, rois, path = samples[k % len(samples)]
        res = dict(img=img)
        if key == 'rois':
            res['rois'] = rois
        elif key == 'roi_path':
            res['roi_path'] = path
        transform(res)
    return n / (time.process_time() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=400, help='transform calls per setting')
    args = ap.parse_args()
    import mmcv
    from mmpretrain.datasets.transforms import RandomResizedCrop
    rrc = RandomResizedCrop(224, crop_ratio_range=(0.2, 1.0), interpolation='bicubic',
                            backend='pillow')
    roi = ObjectSensitiveRandomRoICrop(224)

    class NoShortcut(ObjectSensitiveRandomRoICrop):
        def _resize(self, crop):
            return mmcv.imresize(crop, tuple(self.scale[::-1]),
                                 interpolation=self.interpolation, backend=self.backend)
    plain = NoShortcut(224)
    print(f'{"images":9s} {"RandomResizedCrop/s":>20s} {"RoICrop(rois)/s":>16s} '
          f'{"ratio":>6s} {"RoICrop(file)/s":>16s} {"ratio":>6s} '
          f'{"no-shortcut/s":>14s} {"ratio":>6s} {"roi-crop share":>15s}')
    with tempfile.TemporaryDirectory() as tmp:
        for h, w in ((256, 320), (512, 640)):
            samples = _samples(8, h, w, h, tmp)
            _time(rrc, samples, 20, None)                       # warm-up
            base = _time(rrc, samples, args.n, None)
            ObjectSensitiveRandomRoICrop.reset_stats()
            with_rois = _time(roi, samples, args.n, 'rois')
            share = 1 - ObjectSensitiveRandomRoICrop.get_stats()['fallback_rate']
            with_file = _time(roi, samples, args.n, 'roi_path')
            no_short = _time(plain, samples, args.n, 'rois')
            print(f'{w}x{h:<5d} {base:20.1f} {with_rois:16.1f} {with_rois / base:5.2f}x '
                  f'{with_file:16.1f} {with_file / base:5.2f}x {no_short:14.1f} '
                  f'{no_short / base:5.2f}x {share:15.3f}', flush=True)


if __name__ == '__main__':
    main()
