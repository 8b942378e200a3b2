#!/usr/bin/env python
"""Draw MAE / PAD-MAE reconstructions of infrared images: original, masked input,
reconstruction (visible patches pasted back), one row per image, as a PNG.

    python tools/visualize_mae.py CONFIG CHECKPOINT --out recon.png [--num 4]
    python tools/visualize_mae.py CONFIG CHECKPOINT --out recon.png --img a.jpg b.jpg

Without ``--img`` the rows are ``--num`` samples of the config's training set (after
its pipeline, RoI crops included); with ``--img`` they are the given images, resized
and centre-cropped by :class:`mmpad.pad.inferencer.PADInferencer`. Both draw with
that inferencer's code. With a norm-pix target (MAE's default) the prediction is in
per-patch normalised units; it is mapped back with each patch's own mean and std,
as in the MAE paper's figures.
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
    parser.add_argument('--img', nargs='+', help='images to draw (default: samples '
                        'of the training set)')
    parser.add_argument('--num', type=int, default=4,
                        help='training samples to draw (without --img)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value config overrides')
    return parser.parse_args(argv)


def dataset_rows(inferencer, num: int, seed: int) -> list:
    """``num`` training samples (spread over the set), drawn as triptychs."""
    from mmengine.dataset import default_collate
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS

    from mmpad.pad.inferencer import check_reconstructs, reconstruct, triptych
    model, cfg = inferencer.model, inferencer.config
    check_reconstructs(model, 'visualize_mae')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        torch.manual_seed(seed)
        np.random.seed(seed)
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        idx = np.linspace(0, len(dataset) - 1, num).astype(int)
        batch = default_collate([dataset[int(i)] for i in idx])
        with torch.no_grad():
            inputs = inferencer._normalised(batch)
            return triptych(model, inputs, reconstruct(model, inputs))


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmpad  # noqa: F401
    from mmpad.core.visualization import save_image_grid
    from mmpad.pad.inferencer import TRIPTYCH_TITLE, PADInferencer

    try:
        inferencer = PADInferencer(args.config, args.checkpoint,
                                   cfg_options=args.cfg_options)
        if args.img:
            results = inferencer(args.img, seed=args.seed, show_dir=None)
            rows = [np.concatenate([r['input'], r['masked'], r['reconstruction']],
                                   axis=1) for r in results]
        else:
            rows = dataset_rows(inferencer, args.num, args.seed)
    except (FileNotFoundError, TypeError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    save_image_grid(np.concatenate(rows, axis=0), TRIPTYCH_TITLE, args.out)
    print(f'wrote {args.out} ({len(rows)} images)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
