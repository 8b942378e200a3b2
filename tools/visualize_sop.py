#!/usr/bin/env python
"""Draw SOP pretext predictions: parent image, sub-image, true location mask and the
predicted mask, one row per sample of the config's validation set, as a PNG.

    python tools/visualize_sop.py CONFIG CHECKPOINT --out sop_masks.png [--num 4]
"""
import argparse
import sys

import numpy as np
import torch
from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--num', type=int, default=4, help='samples to draw')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def _overlay(gray: np.ndarray, mask: np.ndarray, color) -> np.ndarray:
    """(H, W, 3) uint8 image with ``mask`` (H, W) tinted in ``color``."""
    out = gray.astype(np.float32).copy()
    out[mask > 0] = 0.5 * out[mask > 0] + 0.5 * np.array(color, np.float32)
    return out.astype(np.uint8)


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmpad  # noqa: F401
    from mmpad.core.visualization import save_image_grid
    from mmpad.engine.inference import init_model
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS

    try:
        model = init_model(args.config, args.checkpoint,
                           cfg_options=args.cfg_options, scope='mmseg')
    except FileNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    cfg = model.cfg
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(cfg.val_dataloader.dataset)
        idx = np.linspace(0, len(dataset) - 1, args.num).astype(int)
        batch = pseudo_collate([dataset[int(i)] for i in idx])
        with torch.no_grad():
            results = model.test_step(batch)
    rows = []
    for inputs, res in zip(batch['inputs'], results):
        img = inputs.numpy()                           # (6, H, W) RGB parent | sub
        parent = np.ascontiguousarray(img[:3].transpose(1, 2, 0))
        sub = np.ascontiguousarray(img[3:6].transpose(1, 2, 0))
        gt = res.gt_sem_seg.data[0].numpy()
        pred = res.pred_sem_seg.data[0].numpy()
        rows.append(np.concatenate([
            parent, sub, _overlay(parent, gt, (0, 255, 0)),
            _overlay(parent, pred, (255, 0, 0))], axis=1))
    grid = np.concatenate(rows, axis=0)
    save_image_grid(grid, 'image | sub-image | true location | predicted', args.out)
    print(f'wrote {args.out} ({len(rows)} samples)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
