#!/usr/bin/env python
"""Draw MAE / PAD-MAE reconstructions of infrared images: original, masked input,
reconstruction (visible patches pasted back), one row per image, as a PNG.

    python tools/visualize_mae.py CONFIG CHECKPOINT --out recon.png [--num 4]

With a norm-pix target (MAE's default) the prediction is in per-patch normalised
units; it is mapped back with each patch's own mean and std, as in the MAE paper's
figures.
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
    parser.add_argument('--num', type=int, default=4, help='images to draw')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value config overrides')
    return parser.parse_args(argv)


def _to_uint8(img: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> np.ndarray:
    """(3, H, W) normalised -> (H, W, 3) uint8 RGB."""
    img = img * std[:, None, None] + mean[:, None, None]
    return img.clamp(0, 255).byte().permute(1, 2, 0).numpy()


def reconstruct(model, inputs: torch.Tensor):
    """Returns (masked input, reconstruction with visible patches pasted), both
    (B, 3, H, W) in the model's normalised input space."""
    head = model.head
    latent, mask, ids_restore = model.backbone(inputs)
    pred = model.neck(latent, ids_restore)                  # (B, L, p*p*3)
    target = head.patchify(inputs)                          # (B, L, p*p*3)
    if getattr(head, 'norm_pix', False):
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        pred = pred * (var + 1.e-6)**.5 + mean
    m = mask.unsqueeze(-1)                                  # 1 = masked
    masked = head.unpatchify(target * (1 - m))
    pasted = head.unpatchify(target * (1 - m) + pred * m)
    return masked, pasted


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmpad  # noqa: F401
    from mmpad.core.visualization import save_image_grid
    from mmpad.engine.inference import init_model
    from mmengine.dataset import default_collate
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS

    try:
        model = init_model(args.config, args.checkpoint,
                           cfg_options=args.cfg_options)
    except FileNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    cfg = model.cfg
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        torch.manual_seed(args.seed)
        np.random.seed(args.seed)
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        idx = np.linspace(0, len(dataset) - 1, args.num).astype(int)
        batch = default_collate([dataset[int(i)] for i in idx])
        inputs = model.data_preprocessor(batch, training=False)['inputs']
        if isinstance(inputs, (list, tuple)):  # SelfSupDataPreprocessor: one per view
            inputs = inputs[0]
        with torch.no_grad():
            masked, pasted = reconstruct(model, inputs)
    pre = model.data_preprocessor
    mean, std = pre.mean.view(-1), pre.std.view(-1)
    rows = []
    for i in range(len(idx)):
        cells = [_to_uint8(t[i], mean, std) for t in (inputs, masked, pasted)]
        rows.append(np.concatenate(cells, axis=1))
    grid = np.concatenate(rows, axis=0)
    save_image_grid(grid, 'original | masked input | reconstruction', args.out)
    print(f'wrote {args.out} ({len(idx)} images)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
