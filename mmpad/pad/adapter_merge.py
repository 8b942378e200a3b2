"""Adapter-only PAD checkpoints: extract the adapters of a full checkpoint, and
merge them back into the full checkpoint they were trained from. Pure torch.

PAD pre-training changes only the adapters (and the SSL decoder, discarded
downstream), so a PAD encoder is the ImageNet encoder it started from plus its
adapters (keys containing ``.adapter.``). :func:`merge_states` refuses keys whose
shape differs from the base's and new keys whose block is missing from the base
(a checkpoint of another model or another key prefix).
"""
from __future__ import annotations

import os.path as osp
from collections import OrderedDict
from typing import Dict, Mapping, Sequence, Tuple

import torch

from mmpad.core.adapters.freezing import ADAPTER_KEY
from mmpad.core.atomic_file import save_atomic  # noqa: F401 (exported)
from mmpad.core.checkpoint.errors import (CheckpointConversionError,
                                          CheckpointMismatchError)
from mmpad.core.checkpoint.reader import (WRAPPERS, read_checkpoint,
                                          read_state_dict)


def load_state(path: str) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """(the whole checkpoint dict, its state dict) of ``path``; a bare state
    dict comes back as ``{'state_dict': state}``.

    Raises:
        CheckpointConversionError: no such file, or no tensors.
        CheckpointLoadError: the file cannot be loaded.
    """
    if not osp.isfile(path):
        raise CheckpointConversionError(f'{path}: no such file')
    ckpt = read_checkpoint(path, error=CheckpointConversionError)
    state = read_state_dict(ckpt, filename=path, revise_keys=(),
                            error=CheckpointConversionError)
    if not any(isinstance(ckpt.get(k), Mapping) for k in WRAPPERS):
        ckpt = {'state_dict': state}
    return ckpt, state


def _block_prefix(key: str) -> str:
    """'backbone.layers.3.adapter.down.weight' -> 'backbone.layers.3.'"""
    idx = key.find(ADAPTER_KEY)
    return key[:idx + 1] if idx > 0 else ''


def merge_states(base: Mapping[str, torch.Tensor],
                 adapter: Mapping[str, torch.Tensor],
                 base_name: str = 'base',
                 adapter_name: str = 'adapter',
                 progress: bool = False) -> Tuple[OrderedDict, dict]:
    """Entries of ``adapter`` replace or extend ``base``; nothing of ``base``
    is removed.

    Returns:
        The merged state dict and ``{'added': [keys], 'replaced': [keys],
        'kept': number of base tensors kept}``.

    Raises:
        CheckpointConversionError: ``adapter`` is empty, or a new key has no
            block of ``base`` to attach to.
        CheckpointMismatchError: a key has another shape than in ``base``.
    """
    from tqdm import tqdm
    if not adapter:
        raise CheckpointConversionError(
            f'{adapter_name}: the state dict is empty')
    merged = OrderedDict(base)
    report = dict(added=[], replaced=[], kept=0)
    base_keys = list(base)
    for key, value in tqdm(adapter.items(), desc='merge', disable=not progress):
        if key in base:
            if base[key].shape != value.shape:
                raise CheckpointMismatchError(
                    f'{adapter_name}: {key} has shape {tuple(value.shape)} '
                    f'but {base_name} has {tuple(base[key].shape)} (different '
                    'model size or adapter bottleneck?)')
            report['replaced'].append(key)
        else:
            block = _block_prefix(key)
            if not block or not any(
                    k.startswith(block) and ADAPTER_KEY not in '.' + k
                    for k in base_keys):
                raise CheckpointConversionError(
                    f'{adapter_name}: {key} is new, and {base_name} has no '
                    f'block {block or key!r} to attach it to (keys there look '
                    f'like {base_keys[:3]}); wrong base checkpoint or key '
                    'prefix?')
            report['added'].append(key)
        merged[key] = value
    report['kept'] = len(base) - len(report['replaced'])
    return merged, report


def extract_state(state: Mapping[str, torch.Tensor],
                  keys: Sequence[str] = (ADAPTER_KEY, )) -> OrderedDict:
    """The entries whose name contains one of ``keys`` (or starts with it)."""
    return OrderedDict(
        (k, v) for k, v in state.items()
        if any(s in '.' + k or k.startswith(s) for s in keys))


