#!/usr/bin/env python
"""Convert an AlignDet pre-training checkpoint into weights a stock mmdet detector
loads with ``load_from`` (:mod:`mmpad.aligndet.convert`).

Keeps the **online** detector (prefix ``online.`` stripped) and drops

* the momentum target (``target.*``),
* the embedding projectors / classifiers: keys containing ``retina_cls``,
  ``conv_cls``, ``fc_cls`` or ``projector`` (DETR's, which the reference left
  behind as an unexpected key),
* the regressors: ``retina_reg``, ``conv_reg``, ``conv_centerness``, ``fc_reg``
  (kept with ``--keep-regressors``).

With ``--config`` the converted weights are checked against the fine-tuning
config's model: missing, unexpected and shape-mismatched keys are listed (with
AlignDet's SyncBN-FPN fine-tuning, the FPN BN is missing and its conv biases
unexpected, as in the reference implementation).

Example::

    python tools/aligndet_to_mmdet.py work_dirs/aligndet_retina/epoch_12.pth \\
        work_dirs/aligndet_retina/aligndet_mmdet.pth \\
        --config configs/aligndet/finetune/retinanet_r50-aligndet_fpn_8xb2-1x_coco.py
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from collections import Counter
from typing import Dict, List, Optional

import torch
from mmengine.config import DictAction

from mmpad.aligndet.convert import ONLINE, REGRESSORS, convert_state_dict
from mmpad.core.checkpoint import (CheckpointConversionError, CheckpointError,
                                   read_state_dict)
from mmpad.core.checkpoint.compat import \
    check_against_config as _check_against_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='AlignDet pre-training checkpoint -> mmdet detector weights')
    parser.add_argument('src', help='AlignDet pre-training checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint for load_from')
    parser.add_argument('--config', help='fine-tuning config to check the keys '
                        'against (missing / unexpected / shape mismatch)')
    parser.add_argument('--keep-regressors', action='store_true',
                        help='keep the regression layers (' +
                        ', '.join(REGRESSORS) + ')')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value overrides for --config')
    return parser.parse_args(argv)


def _group(key: str) -> str:
    return key.split('.', 1)[0]


def check_against_config(state: Dict[str, torch.Tensor], config: str,
                         cfg_options: Optional[dict] = None
                         ) -> Dict[str, List[str]]:
    """``{'missing', 'unexpected', 'shape_mismatch'}`` -> sorted key names of
    ``state`` against the model of ``config``
    (:func:`mmpad.core.checkpoint.compat.check_against_config`)."""
    report = _check_against_config(state, config, cfg_options,
                                   default_scope='mmdet')
    return dict(missing=sorted(report.missing),
                unexpected=sorted(report.unexpected),
                shape_mismatch=sorted(k for k, _, _ in report.shape_mismatch))


def _print_keys(title: str, keys: List[str], limit: int = 20) -> None:
    groups = Counter(k.rsplit('.', 1)[0] for k in keys)
    print(f'{title}: {len(keys)}')
    for prefix, count in sorted(groups.items())[:limit]:
        print(f'    {prefix}.* x{count}')
    if len(groups) > limit:
        print(f'    ... ({len(groups) - limit} more groups)')


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.src):
        print(f'error: {args.src}: no such checkpoint', file=sys.stderr)
        return 2
    try:
        state = read_state_dict(args.src, error=CheckpointConversionError)
        converted, report = convert_state_dict(state, args.keep_regressors,
                                               args.src)
    except (CheckpointError, RuntimeError) as err:  # each names the file
        print(f'error: {err}', file=sys.stderr)
        return 2

    kept = Counter(_group(k[len(ONLINE):]) for k in report['kept'])
    print(f'{args.src}: {len(state)} keys')
    print('kept (online detector): ' + ', '.join(
        f'{g} {n}' for g, n in sorted(kept.items())))
    print(f'dropped target (momentum detector): {len(report["target"])}')
    _print_keys('dropped projector / classifier', report['classifier'])
    _print_keys('dropped regressor', report['regressor'])
    if report['other']:
        _print_keys('dropped (neither online nor target)', report['other'])

    if args.config:
        check = check_against_config(converted, args.config, args.cfg_options)
        print(f'against {args.config}:')
        _print_keys('  missing in the converted weights (trained from scratch)',
                    check['missing'])
        _print_keys('  unexpected (ignored by the non-strict load)',
                    check['unexpected'])
        _print_keys('  shape mismatch (skipped by the load)',
                    check['shape_mismatch'])

    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(aligndet_source=osp.abspath(args.src),
                aligndet_dropped=len(state) - len(converted))
    torch.save(dict(state_dict=converted, meta=meta), args.dst)
    print(f'wrote {args.dst}: {len(converted)} tensors '
          f'({sum(v.numel() for v in converted.values()) / 1e6:.2f} M values)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
