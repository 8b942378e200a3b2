#!/usr/bin/env python
"""Convert a PAD / MAE / MILAN pre-training checkpoint (mmpretrain layout) for the
downstream backbones (:mod:`mmpad.pad.checkpoint_conversion`).

    # PAD checkpoint -> ViTDet backbone with adapters (FLIR detection)
    python tools/convert_pad_checkpoint.py work_dirs/pad/epoch_100.pth \\
        checkpoints/pad_vitdet.pth --target det --bottleneck 64
    # PAD checkpoint -> mmseg MAE backbone with adapters (SODA / MFNet UperNet)
    python tools/convert_pad_checkpoint.py work_dirs/pad/epoch_100.pth \\
        checkpoints/pad_mae_seg.pth --target seg --bottleneck 64
    # ImageNet MAE checkpoint (paradigm b) -> baseline backbone
    python tools/convert_pad_checkpoint.py mae_vit-base-p16_...pth \\
        checkpoints/in1k_mae_seg.pth --target seg

Prints what was mapped, created (tensors that pre-training does not have, at their
downstream init), dropped and left missing. Point the downstream config's
``model.backbone.init_cfg=dict(type='Pretrained', checkpoint=OUT)`` at the result.
"""
import argparse
import os
import os.path as osp
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an mmpretrain PAD / MAE pre-training checkpoint '
        'for the mmdet (det) or mmseg (seg) adapter ViT backbones.')
    parser.add_argument('src', help='pre-training checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument('--target', required=True, choices=['det', 'seg'],
                        help='det: PADViTDet (mmdet, ViTSAM names); seg: PADMAE '
                        '(mmseg MAE names)')
    parser.add_argument('--num-heads', type=int, default=None,
                        help='attention heads of the backbone; sizes the zero '
                        'relative position tables (default: width // 64)')
    parser.add_argument('--bottleneck', type=int, default=None,
                        help='refuse a checkpoint whose adapters have another '
                        'bottleneck (PAD: 64)')
    parser.add_argument('--layer-scale-init', type=float, default=1.0,
                        help='seg: init of the created layer-scale gammas '
                        '(default 1.0)')
    parser.add_argument('--no-layer-scale', action='store_true',
                        help='seg: create no gammas (backbone init_values=None)')
    parser.add_argument('--qv-bias', action='store_true',
                        help='seg: split the qkv bias into q_bias / v_bias for '
                        'BEiT-style backbones (the key bias is dropped, which '
                        'leaves the attention unchanged)')
    parser.add_argument('--drop-adapters', action='store_true',
                        help='drop the adapters on purpose (baseline backbone)')
    parser.add_argument('--force', action='store_true',
                        help='overwrite DST if it exists')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.src):
        print(f'error: {args.src} does not exist', file=sys.stderr)
        return 2
    if osp.exists(args.dst) and not args.force:
        print(f'error: {args.dst} exists (use --force to overwrite)',
              file=sys.stderr)
        return 2
    import torch

    from mmpad.core.checkpoint import CheckpointError, read_checkpoint
    from mmpad.pad.checkpoint_conversion import (CheckpointConversionError,
                                                 convert_pad_checkpoint,
                                                 extract_state_dict)

    try:
        checkpoint = read_checkpoint(args.src,
                                     error=CheckpointConversionError)
        state_dict = extract_state_dict(checkpoint, args.src)
        converted, report = convert_pad_checkpoint(
            state_dict,
            args.target,
            filename=args.src,
            num_heads=args.num_heads,
            layer_scale_init=None if args.no_layer_scale else
            args.layer_scale_init,
            qv_bias=args.qv_bias,
            drop_adapters=args.drop_adapters,
            bottleneck=args.bottleneck)
    except (CheckpointError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(report.summary())
    if report.missing:
        print(f'warning: {len(report.missing)} backbone tensors are missing; '
              'the backbone keeps its own init for them', file=sys.stderr)
    adapter = report.info.adapter
    meta = dict(mmpad=dict(
        converted_from=osp.abspath(args.src),
        target=args.target,
        embed_dims=report.info.embed_dims,
        num_layers=report.info.num_layers,
        adapter_bottleneck=None if adapter is None or args.drop_adapters else
        adapter.bottleneck,
        adapter_scale=None if adapter is None or args.drop_adapters else
        adapter.scale))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=converted, meta=meta), args.dst)
    print(f'saved {len(converted)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
