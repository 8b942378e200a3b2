#!/usr/bin/env python
"""Draw SOP pretext predictions as a PNG, one row per sample.

    python tools/visualize_sop.py CONFIG CHECKPOINT --out sop_masks.png [--num 4]
    python tools/visualize_sop.py CONFIG CHECKPOINT --out sop.png --pair IMAGE SUB_IMAGE

Without ``--pair`` the rows are ``--num`` samples of the config's validation set:
image, sub-image, true location (green) and predicted location (red). With
``--pair`` the row is the given image and sub-image (a crop of it, any size) and the
predicted location, as :class:`mmpad.sop.inferencer.SOPInferencer` computes it.
Both draw with that inferencer's code.
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
    parser.add_argument('--pair', nargs=2, metavar=('IMAGE', 'SUB_IMAGE'),
                        help='an image and a sub-image of it (default: samples of '
                        'the validation set)')
    parser.add_argument('--num', type=int, default=4,
                        help='validation samples to draw (without --pair)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def dataset_rows(inferencer, num: int) -> list:
    """``num`` validation samples: image | sub-image | true | predicted location."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS

    from mmpad.sop.inferencer import GT_COLOR, PRED_COLOR, overlay, split_pair
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(inferencer.cfg.val_dataloader.dataset)
        idx = np.linspace(0, len(dataset) - 1, num).astype(int)
        batch = pseudo_collate([dataset[int(i)] for i in idx])
        with torch.no_grad():
            results = inferencer.forward(batch)
    rows = []
    for inputs, res in zip(batch['inputs'], results):
        parent, sub = split_pair(inputs, inferencer.to_rgb)
        gt = res.gt_sem_seg.data[0].numpy()
        pred = res.pred_sem_seg.data[0].numpy()
        rows.append(np.concatenate([parent, sub, overlay(parent, gt, GT_COLOR),
                                    overlay(parent, pred, PRED_COLOR)], axis=1))
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmpad  # noqa: F401
    from mmpad.core.visualization import save_image_grid
    from mmpad.engine.inference import load_config
    from mmpad.sop.inferencer import SOPInferencer

    try:
        inferencer = SOPInferencer(load_config(args.config, args.cfg_options),
                                   args.checkpoint)
        if args.pair:
            predictions = inferencer(tuple(args.pair))['predictions']
            rows = [np.concatenate([p['image'], p['sub_image'], _pred(p)], axis=1)
                    for p in predictions]
            title = 'image | sub-image | predicted'
        else:
            rows = dataset_rows(inferencer, args.num)
            title = 'image | sub-image | true location | predicted'
    except (FileNotFoundError, TypeError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    save_image_grid(np.concatenate(rows, axis=0), title, args.out)
    print(f'wrote {args.out} ({len(rows)} samples)')
    return 0


def _pred(prediction: dict) -> np.ndarray:
    from mmpad.sop.inferencer import PRED_COLOR, overlay
    return overlay(prediction['image'], prediction['mask'], PRED_COLOR)


if __name__ == '__main__':
    sys.exit(main())
