#!/usr/bin/env python
"""Merge an adapter-only PAD checkpoint into a full checkpoint, or extract one.

PAD pre-training changes only the adapters (and the SSL decoder, which is
discarded downstream), so the encoder of a PAD model is the ImageNet encoder it
started from. ``AdapterCheckpointHook`` therefore saves only the adapters (about
5 MB for ViT-B instead of ~1.3 GB with the optimizer state). This tool puts
them back::

    # full PAD checkpoint = ImageNet MAE checkpoint + adapters
    python tools/merge_adapter_checkpoint.py merge \\
        checkpoints/mae_vit-base-p16_8xb512-amp-coslr-1600e_in1k_20220825-f7569ca2.pth \\
        work_dirs/pad-mae/adapter_only_epoch_100.pth  pad-mae_full.pth

    # adapter-only checkpoint from a full one (adapters = keys with '.adapter.')
    python tools/merge_adapter_checkpoint.py extract work_dirs/pad-mae/epoch_100.pth \\
        pad-mae_adapters.pth [--key .adapter. --key neck.]

``merge`` refuses keys whose shape differs from the base's and adapter keys whose
block is missing from the base (a checkpoint of another model or another key
prefix). Both commands write atomically and print what was added, replaced and
kept (:mod:`mmpad.pad.adapter_merge`).
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

from mmpad.core.adapters.freezing import ADAPTER_KEY
from mmpad.core.checkpoint import CheckpointConversionError, CheckpointError
from mmpad.pad.adapter_merge import (extract_state, load_state, merge_states,
                                     save_atomic)

__all__ = ['main', 'CheckpointError', 'load_state', 'merge_states',
           'extract_state', 'save_atomic', 'ADAPTER_KEY']


def cmd_merge(args) -> int:
    base_ckpt, base = load_state(args.base)
    adapter_ckpt, adapter = load_state(args.adapter)
    meta = adapter_ckpt.get('meta') or {}
    if not meta.get('adapter_only', False) and not args.force:
        raise CheckpointConversionError(
            f'{args.adapter}: meta.adapter_only is not set; this does not look '
            'like an adapter-only checkpoint (use --force to merge anyway)')
    merged, report = merge_states(base, adapter, args.base, args.adapter,
                                  progress=True)
    out_meta = dict(base_ckpt.get('meta') or {})
    out_meta['merged_adapter'] = dict(
        base=osp.basename(args.base), adapter=osp.basename(args.adapter),
        added=len(report['added']), replaced=len(report['replaced']))
    save_atomic(dict(meta=out_meta, state_dict=merged), args.out)
    n_added = sum(adapter[k].numel() for k in report['added'])
    print(f'merged {args.adapter} into {args.base} -> {args.out}\n'
          f'  added    {len(report["added"]):5d} tensors ({n_added:,} values)\n'
          f'  replaced {len(report["replaced"]):5d} tensors\n'
          f'  kept     {report["kept"]:5d} tensors from the base\n'
          f'  dropped  training state of the base: '
          f'{sorted(k for k in base_ckpt if k not in ("meta", "state_dict"))}')
    return 0


def cmd_extract(args) -> int:
    ckpt, state = load_state(args.checkpoint)
    keys = args.key or [ADAPTER_KEY]
    out = extract_state(state, keys)
    if not out:
        raise CheckpointConversionError(
            f'{args.checkpoint}: no key matches {keys}; is it a PAD '
            'checkpoint?')
    src_meta = ckpt.get('meta') or {}
    meta = dict(adapter_only=True, keys=list(keys),
                source=osp.basename(args.checkpoint),
                epoch=src_meta.get('epoch'), iter=src_meta.get('iter'),
                num_params=int(sum(v.numel() for v in out.values())))
    meta = {k: v for k, v in meta.items() if v is not None}
    save_atomic(dict(meta=meta, state_dict=out), args.out)
    size = osp.getsize(args.out) / 2**20
    print(f'extracted {len(out)} of {len(state)} tensors '
          f'({meta["num_params"]:,} values, {size:.2f} MB) matching {keys} '
          f'from {args.checkpoint} -> {args.out}; left out '
          f'{len(state) - len(out)} tensors')
    return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    sub = parser.add_subparsers(dest='command', required=True)
    m = sub.add_parser('merge', help='base + adapter-only -> full checkpoint')
    m.add_argument('base', help='full checkpoint (e.g. the ImageNet one)')
    m.add_argument('adapter', help='adapter-only checkpoint')
    m.add_argument('out', help='output path')
    m.add_argument('--force', action='store_true',
                   help='merge even if the second file is not marked '
                   'adapter-only')
    m.set_defaults(func=cmd_merge)
    e = sub.add_parser('extract', help='full -> adapter-only checkpoint')
    e.add_argument('checkpoint', help='full PAD checkpoint')
    e.add_argument('out', help='output path')
    e.add_argument('--key', action='append',
                   help="keep names containing / starting with this (repeat); "
                   "default '.adapter.'")
    e.set_defaults(func=cmd_extract)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return args.func(args)
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
