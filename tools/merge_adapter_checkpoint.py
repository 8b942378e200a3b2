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
kept.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

ADAPTER_KEY = '.adapter.'


class CheckpointError(ValueError):
    """A checkpoint that cannot be merged / extracted, with the file named."""


def _torch_load_checked():
    """``mmpad.core.checkpoint.loading.torch_load_checked`` (weights_only loading
    with the OpenMMLab allow-list), loaded without ``import mmpad``, which
    would import every host library (seconds) for nothing."""
    mod = sys.modules.get('mmpad.core.checkpoint.loading')
    if mod is None:
        spec = importlib.util.spec_from_file_location(
            '_mmpad_utils_checkpoint',
            osp.join(REPO, 'mmpad', 'utils', 'checkpoint.py'))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    return mod.torch_load_checked


def load_state(path: str) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """Load ``path``; return (the whole checkpoint dict, its state dict)."""
    if not osp.isfile(path):
        raise CheckpointError(f'{path}: no such file')
    try:
        ckpt = _torch_load_checked()(path, map_location='cpu')
    except RuntimeError as err:
        raise CheckpointError(str(err)) from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'{path}: expected a dict checkpoint, got '
                              f'{type(ckpt).__name__}')
    for key in ('state_dict', 'model'):
        if isinstance(ckpt.get(key), dict):
            state = ckpt[key]
            break
    else:
        if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            state, ckpt = ckpt, {'state_dict': ckpt}
        else:
            raise CheckpointError(
                f'{path}: no `state_dict` (top-level keys: {sorted(ckpt)[:8]})')
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f'{path}: non-tensor entries {bad[:5]}')
    return ckpt, state


def _block_prefix(key: str) -> str:
    """'backbone.layers.3.adapter.down.weight' -> 'backbone.layers.3.'"""
    idx = key.find(ADAPTER_KEY)
    return key[:idx + 1] if idx > 0 else ''


def merge_states(base: Dict[str, torch.Tensor],
                 adapter: Dict[str, torch.Tensor],
                 base_name: str = 'base',
                 adapter_name: str = 'adapter',
                 progress: bool = False) -> Tuple[OrderedDict, dict]:
    """Return (merged state dict, report). Entries of ``adapter`` replace or
    extend ``base``; nothing of ``base`` is removed."""
    if not adapter:
        raise CheckpointError(f'{adapter_name}: the state dict is empty')
    merged = OrderedDict(base)
    report = dict(added=[], replaced=[], kept=0)
    base_keys = list(base)
    for key, value in tqdm(adapter.items(), desc='merge', disable=not progress):
        if key in base:
            if base[key].shape != value.shape:
                raise CheckpointError(
                    f'{adapter_name}: {key} has shape {tuple(value.shape)} '
                    f'but {base_name} has {tuple(base[key].shape)} (different '
                    'model size or adapter bottleneck?)')
            report['replaced'].append(key)
        else:
            block = _block_prefix(key)
            if not block or not any(
                    k.startswith(block) and ADAPTER_KEY not in '.' + k
                    for k in base_keys):
                raise CheckpointError(
                    f'{adapter_name}: {key} is new, and {base_name} has no '
                    f'block {block or key!r} to attach it to (keys there look '
                    f'like {base_keys[:3]}); wrong base checkpoint or key '
                    'prefix?')
            report['added'].append(key)
        merged[key] = value
    report['kept'] = len(base) - len(report['replaced'])
    return merged, report


def extract_state(state: Dict[str, torch.Tensor],
                  keys: Sequence[str] = (ADAPTER_KEY, )) -> OrderedDict:
    """The entries whose name contains one of ``keys`` (or starts with it)."""
    out = OrderedDict(
        (k, v) for k, v in state.items()
        if any(s in '.' + k or k.startswith(s) for s in keys))
    return out


def save_atomic(obj, path: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp.{os.getpid()}'
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def cmd_merge(args) -> int:
    base_ckpt, base = load_state(args.base)
    adapter_ckpt, adapter = load_state(args.adapter)
    meta = adapter_ckpt.get('meta') or {}
    if not meta.get('adapter_only', False) and not args.force:
        raise CheckpointError(
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
        raise CheckpointError(
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
