#!/usr/bin/env python
"""Convert an AlignDet pre-training checkpoint into weights a stock mmdet detector
loads with ``load_from`` (aligndet spec §5, §9).

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
unexpected, as in the reference; spec D11).

Example::

    python tools/aligndet_to_mmdet.py work_dirs/aligndet_retina/epoch_12.pth \\
        work_dirs/aligndet_retina/aligndet_mmdet.pth \\
        --config configs/aligndet/finetune/retinanet_r50_fpn_1x_coco_aligndet.py
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from collections import Counter
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import DictAction

ONLINE = 'online.'
CLASSIFIERS = ('retina_cls', 'conv_cls', 'fc_cls', 'projector')
REGRESSORS = ('retina_reg', 'conv_reg', 'conv_centerness', 'fc_reg')


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


def convert_state_dict(
        state: Dict[str, torch.Tensor], keep_regressors: bool = False,
        source: str = '<state_dict>'
) -> Tuple[Dict[str, torch.Tensor], Dict[str, List[str]]]:
    """Online weights without projectors (and regressors).

    Returns:
        The converted state dict and ``{'kept', 'target', 'classifier',
        'regressor', 'other'}`` -> original key names.
    """
    from tqdm import tqdm
    if not any(k.startswith(ONLINE) for k in state):
        sample = ', '.join(sorted(state)[:3])
        raise ValueError(
            f'{source}: not an AlignDet pre-training checkpoint: no key starts '
            f'with {ONLINE!r} (first keys: {sample})')
    out: Dict[str, torch.Tensor] = {}
    report: Dict[str, List[str]] = {
        k: [] for k in ('kept', 'target', 'classifier', 'regressor', 'other')}
    for key in tqdm(sorted(state), desc='converting', unit='key', leave=False):
        if key.startswith('target.'):
            report['target'].append(key)
            continue
        if not key.startswith(ONLINE):
            report['other'].append(key)
            continue
        name = key[len(ONLINE):]
        parts = name.split('.')
        if any(c in parts for c in CLASSIFIERS):
            report['classifier'].append(key)
        elif not keep_regressors and any(r in parts for r in REGRESSORS):
            report['regressor'].append(key)
        else:
            out[name] = state[key]
            report['kept'].append(key)
    return out, report


def check_against_config(state: Dict[str, torch.Tensor], config: str,
                         cfg_options: Optional[dict] = None) -> dict:
    """Missing / unexpected / shape-mismatched keys of ``state`` for the model of
    ``config``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmpad  # noqa: F401
    from mmdet.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    expected = model.state_dict()
    mismatched = sorted(k for k in state if k in expected
                        and state[k].shape != expected[k].shape)
    return dict(
        missing=sorted(set(expected) - set(state)),
        unexpected=sorted(set(state) - set(expected)),
        shape_mismatch=mismatched)


def _print_keys(title: str, keys: List[str], limit: int = 20) -> None:
    groups = Counter(k.rsplit('.', 1)[0] for k in keys)
    print(f'{title}: {len(keys)}')
    for prefix, count in sorted(groups.items())[:limit]:
        print(f'    {prefix}.* x{count}')
    if len(groups) > limit:
        print(f'    ... ({len(groups) - limit} more groups)')


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmpad.core.checkpoint.loading import torch_load_checked
    if not osp.isfile(args.src):
        print(f'error: {args.src}: no such checkpoint', file=sys.stderr)
        return 2
    try:
        ckpt = torch_load_checked(args.src, map_location='cpu')
    except RuntimeError as err:  # CheckpointLoadError: names the file
        print(f'error: {err}', file=sys.stderr)
        return 2
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        print(f'error: {args.src}: no state_dict in checkpoint', file=sys.stderr)
        return 2
    try:
        converted, report = convert_state_dict(state, args.keep_regressors,
                                               args.src)
    except ValueError as err:
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
