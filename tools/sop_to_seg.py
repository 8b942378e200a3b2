#!/usr/bin/env python
"""Convert an SOP pre-training checkpoint into the stock downstream segmentor.

The 6-channel input kernel of an ``early`` model is sliced back to 3 channels,
fusion modules / segment embeddings and the 1-channel classifiers (``conv_seg``)
are dropped. The output is loadable with ``load_from`` by the stock config with
only ``conv_seg`` missing; ``--check-config`` verifies exactly that.

Examples::

    python tools/sop_to_seg.py work_dirs/sop_pretrain/iter_40000.pth sop_r50.pth
    python tools/sop_to_seg.py IN.pth OUT.pth --check-config \\
        configs/sop/finetune/deeplabv3plus_r50-d8-in1k_4xb4-80k_loveda-512x512.py
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import torch

from mmpad.core.checkpoint import CheckpointError, read_state_dict
from mmpad.sop.convert import (FUSION_MODES, ConversionError,
                               check_against_seg_config, sop_to_seg_state_dict)
from mmpad.sop.first_conv import SLICE_MODES


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='SOP checkpoint -> stock mmseg segmentor checkpoint')
    p.add_argument('src', help='SOP checkpoint (mmengine .pth)')
    p.add_argument('dst', help='output checkpoint')
    p.add_argument('--fusion', default='auto', choices=('auto', ) + FUSION_MODES,
                   help='fusion mode of the SOP model (default: detect)')
    p.add_argument('--early-slice', default='image_x2', choices=SLICE_MODES,
                   help='6->3 channel rule for early fusion: 2*W[:, :3] '
                   '(image_x2, default), W[:, :3] (image) or W[:, :3]+W[:, 3:] (sum)')
    p.add_argument('--first-conv-key', default=None,
                   help='key of the input kernel (default: detect)')
    p.add_argument('--keep-conv-seg', action='store_true',
                   help='keep the 1-channel classifiers')
    p.add_argument('--check-config', default=None,
                   help='downstream config: build its model and check that the '
                   'output loads with only conv_seg missing')
    return p.parse_args(argv)


def load_state_dict(path: str) -> dict:
    """The tensors of the SOP checkpoint ``path`` (``module.`` stripped)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such checkpoint')
    return dict(read_state_dict(path, error=ConversionError))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm
    try:
        state = load_state_dict(args.src)
        items = dict(tqdm(state.items(), desc='reading', unit='tensor',
                          disable=len(state) < 50))
        out, report = sop_to_seg_state_dict(
            items, fusion=args.fusion, early_slice=args.early_slice,
            first_conv_key=args.first_conv_key, keep_conv_seg=args.keep_conv_seg)
    except (CheckpointError, FileNotFoundError, RuntimeError) as err:
        message = str(err)  # name the file once (load errors already do)
        if args.src not in message:
            message = f'{args.src}: {message}'
        print(f'error: {message}', file=sys.stderr)
        return 2
    print(report.summary())
    if args.check_config:
        problems = check_against_seg_config(out, args.check_config)
        if problems:
            print(f'error: the converted weights do not fit {args.check_config}:\n  '
                  + '\n  '.join(problems), file=sys.stderr)
            return 3
        print(f'check: loads into {args.check_config} with only conv_seg missing')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=out,
                    meta=dict(sop_to_seg=dict(
                        source=osp.abspath(args.src), fusion=report.fusion,
                        early_slice=args.early_slice, dropped=report.dropped))),
               args.dst)
    print(f'saved {report.kept} tensors to {args.dst} '
          f'({len(report.dropped)} dropped, {len(report.sliced)} sliced)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
