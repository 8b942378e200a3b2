"""The one checkpoint reader of mmpad: the runner (``load_from`` / ``--resume``),
the downstream backbones (``init_cfg=dict(type='Pretrained')``), the SOP
segmentor, the converters and the tools read checkpoints here.

* :func:`read_checkpoint`: the whole checkpoint dict; a local file is loaded by
  :func:`~mmpad.core.checkpoint.loading.torch_load_checked` (CRC-32s verified,
  no code execution), a URL (``https://``, ``open-mmlab://``, ...) by mmengine's
  ``CheckpointLoader``, which mmpad routes through the same loader.
* :func:`read_state_dict`: its tensors: ``state_dict`` (or ``model``, timm
  style) unwrapped, ``module.`` stripped, optionally only the keys under a
  prefix; a checkpoint without any is one
  :class:`~mmpad.core.checkpoint.errors.CheckpointContentError` naming the file.
"""
from __future__ import annotations

import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Iterable, Mapping, Optional, Tuple, Type, Union

import torch

from mmpad.core.checkpoint.errors import (CheckpointContentError,
                                          CheckpointError)
from mmpad.core.checkpoint.loading import torch_load_checked

#: the entries that wrap a state dict, tried in this order
WRAPPERS = ('state_dict', 'model')
#: the key revision of mmengine's loaders: DDP's ``module.`` stripped
STRIP_MODULE = ((r'^module\.', ''), )
_URL = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')

PathOrCheckpoint = Union[str, os.PathLike, Mapping]


def is_url(filename: str) -> bool:
    """``https://...``, ``open-mmlab://...``: read through mmengine's loaders."""
    return bool(_URL.match(str(filename)))


def read_checkpoint(filename: Union[str, os.PathLike],
                    map_location: Any = 'cpu',
                    error: Type[CheckpointError] = CheckpointContentError
                    ) -> dict:
    """The checkpoint dict in ``filename`` (a local path or a URL mmengine
    supports), loaded safely and verified.

    Raises:
        FileNotFoundError: no such local file.
        CheckpointLoadError: the file cannot be loaded (damaged, unsafe).
        error: the file holds something else than a dict.
    """
    filename = str(filename)
    if is_url(filename):
        from mmengine.runner.checkpoint import CheckpointLoader

        from mmpad.core.checkpoint.loading import \
            install_safe_checkpoint_loading
        install_safe_checkpoint_loading()  # idempotent
        checkpoint = CheckpointLoader.load_checkpoint(
            filename, map_location=map_location)
    else:
        checkpoint = torch_load_checked(osp.expanduser(filename),
                                        map_location=map_location)
    if not isinstance(checkpoint, dict):
        raise error(f'{filename}: not a checkpoint dict '
                    f'({type(checkpoint).__name__})')
    return checkpoint


def read_state_dict(source: PathOrCheckpoint,
                    prefix: Optional[str] = None,
                    *,
                    filename: Optional[str] = None,
                    map_location: Any = 'cpu',
                    wrappers: Iterable[str] = WRAPPERS,
                    revise_keys: Iterable[Tuple[str, str]] = STRIP_MODULE,
                    tensors_only: bool = True,
                    allow_empty: bool = False,
                    error: Type[CheckpointError] = CheckpointContentError
                    ) -> 'OrderedDict[str, torch.Tensor]':
    """The state dict of a checkpoint file or of a checkpoint already read.

    Args:
        source: a path / URL (read by :func:`read_checkpoint`) or a checkpoint
            dict.
        prefix: keep only the keys under it, without it (e.g. ``'backbone.'``).
        filename: named in errors (default: ``source`` when it is a path).
        map_location: as for :func:`torch.load`.
        wrappers: the first of these entries holding a dict is the state dict
            (none: the checkpoint itself is).
        revise_keys: ``(pattern, replacement)`` applied to every key, in order
            (default: strip ``module.``).
        tensors_only: drop entries that are not tensors.
        allow_empty: return an empty dict instead of raising.
        error: the :class:`CheckpointError` subclass raised.

    Returns:
        ``key -> tensor`` in the checkpoint's order (the source's
        ``_metadata``, which versioned modules read while loading, is kept).

    Raises:
        error: not a checkpoint dict, no tensors, or no key under ``prefix``.
    """
    if isinstance(source, (str, os.PathLike)):
        filename = filename or str(source)
        checkpoint = read_checkpoint(source, map_location, error=error)
    else:
        filename = filename or '<checkpoint>'
        checkpoint = source
    if not isinstance(checkpoint, Mapping):
        raise error(f'{filename}: not a checkpoint dict '
                    f'({type(checkpoint).__name__})')
    state = next((checkpoint[key] for key in wrappers
                  if isinstance(checkpoint.get(key), Mapping)), checkpoint)
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in state.items():
        if tensors_only and not torch.is_tensor(value):
            continue
        for pattern, repl in revise_keys:
            key = re.sub(pattern, repl, key)
        out[key] = value
    metadata = getattr(state, '_metadata', None)
    if metadata is not None:
        out._metadata = metadata
    if not out and not allow_empty:
        raise error(f'{filename}: holds no tensors (keys: '
                    f'{sorted(map(str, state))[:8]})')
    if prefix:
        under = OrderedDict((k[len(prefix):], v) for k, v in out.items()
                            if k.startswith(prefix))
        if metadata is not None:
            under._metadata = metadata
        if not under and not allow_empty:
            raise error(f'{filename}: no key starts with {prefix!r}')
        out = under
    return out
