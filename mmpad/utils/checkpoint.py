"""Checkpoint loading that works under torch >= 2.6 without turning safety off.

mmengine 0.10.7 calls ``torch.load(filename, map_location)`` without ``weights_only``.
torch >= 2.6 defaults to ``weights_only=True``, which rejects OpenMMLab checkpoints
because their ``meta`` holds a few non-tensor Python objects (mmengine's
``HistoryBuffer`` from the message hub, whose ``statistics_methods`` pickle as
``getattr(HistoryBuffer, 'mean')``, numpy arrays and scalars).

:func:`install_safe_checkpoint_loading` re-registers mmengine's local-file loader so
that it keeps ``weights_only=True`` but allow-lists exactly those benign types for the
duration of the load (``torch.serialization.safe_globals``). Nothing is allowed
globally, and unrelated ``torch.load`` calls are untouched. A checkpoint that needs
anything else fails with a message naming the file and the offending globals; a user
who trusts the file can set ``MMPAD_TRUST_CHECKPOINTS=1``.
"""
from __future__ import annotations

import os
import os.path as osp
import pickle
from typing import Any, Callable, List, Optional

import torch

TRUST_ENV = 'MMPAD_TRUST_CHECKPOINTS'


def mmengine_safe_globals() -> List[Any]:
    """The non-tensor types found in mmengine / OpenMMLab checkpoints."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    try:  # numpy >= 1.25 moved these under numpy.core -> numpy._core
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover
        from numpy._core.multiarray import _reconstruct, scalar
    # ``getattr`` is needed for HistoryBuffer's bound statistics methods. It is allowed
    # only inside this scoped load: the weights-only unpickler still refuses to *call*
    # anything outside this list, so attributes fetched with it cannot be invoked.
    safe: List[Any] = [HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar,
                       getattr]
    for name in ('bool_', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
                 'uint32', 'uint64', 'float16', 'float32', 'float64', 'str_'):
        safe.append(type(np.dtype(getattr(np, name))))
    return safe


def torch_load_checked(filename: str,
                       map_location: Optional[Any] = None,
                       trust: Optional[bool] = None) -> Any:
    """``torch.load`` with ``weights_only=True`` plus the mmengine allow-list.

    Args:
        filename: path of a local checkpoint.
        map_location: as for :func:`torch.load`.
        trust: load with ``weights_only=False``; defaults to the
            ``MMPAD_TRUST_CHECKPOINTS`` environment variable.
    """
    if trust is None:
        trust = os.environ.get(TRUST_ENV, '0') == '1'
    if trust:
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(mmengine_safe_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
        except Exception:  # noqa: BLE001 - best effort diagnostics only
            unsafe = ['<could not list>']
        raise RuntimeError(
            f'Checkpoint {filename!r} holds Python objects that torch.load '
            f'(weights_only=True) refuses: {unsafe}. mmpad allows only the types '
            'OpenMMLab checkpoints normally contain. If you trust this file, set '
            f'{TRUST_ENV}=1 to load it with weights_only=False.') from err
    except (EOFError, RuntimeError) as err:
        if 'PytorchStreamReader' in str(err) or isinstance(err, EOFError):
            raise RuntimeError(
                f'Checkpoint {filename!r} is truncated or not a torch checkpoint '
                f'({err}).') from err
        raise


def _load_from_local(filename: str, map_location: Optional[Any]) -> Any:
    """Replacement for mmengine's ``load_from_local`` (scheme prefix '')."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch_load_checked(filename, map_location=map_location)


_installed: Optional[Callable] = None


def install_safe_checkpoint_loading() -> None:
    """Route mmengine's local checkpoint loading through
    :func:`torch_load_checked`. Idempotent."""
    global _installed
    from mmengine.runner.checkpoint import CheckpointLoader
    if _installed is not None and \
            CheckpointLoader._schemes.get('') is _installed:
        return
    CheckpointLoader.register_scheme(prefixes='', force=True)(_load_from_local)
    _installed = _load_from_local
