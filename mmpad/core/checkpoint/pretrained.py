"""Load a converted PAD / MAE checkpoint into a downstream ViT backbone, loudly.

mmengine's non-strict loading only *warns* about shape mismatches and silently
drops unexpected keys. For PAD that hides the two mistakes that matter most:
adapters of the wrong size, and learned adapters / scales that the downstream
backbone cannot hold. :func:`load_pretrained_backbone` therefore refuses, before
anything is loaded (:func:`mmpad.core.checkpoint.compat.check_checkpoint_compatible`
with the downstream rules: every tensor shape must fit, adapters on both sides or
on neither), a checkpoint of another architecture, other adapter sizes or scale
mode, and adapters on one side only; then it logs what was loaded, missing and
unexpected. Every refusal is a :class:`~mmpad.core.CheckpointMismatchError` (a
``ValueError``) naming the file.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log

from mmpad.core.adapters.freezing import is_adapter_param
from mmpad.core.checkpoint.compat import check_checkpoint_compatible
from mmpad.core.checkpoint.errors import CheckpointMismatchError
from mmpad.core.checkpoint.reader import read_state_dict
from mmpad.core.checkpoint.report import CheckpointReport

#: buffers a ViT recomputes from its geometry; they are never loaded
DERIVED_BUFFERS = ('relative_position_index', )
#: what :func:`load_pretrained_backbone` returns (one report type)
LoadReport = CheckpointReport


def read_backbone_state_dict(filename: str,
                             prefix: Optional[str] = None
                             ) -> Dict[str, torch.Tensor]:
    """The backbone state dict of a converted checkpoint (keys without prefix).

    Accepts ``{'state_dict': ...}``, ``{'model': ...}`` or a bare state dict
    (:func:`mmpad.core.checkpoint.reader.read_state_dict`). With ``prefix``
    (e.g. ``'backbone.'`` to start from a fine-tuned detector) only the keys
    under it are kept, without it. Without ``prefix``, a pre-training checkpoint
    that was not converted (``backbone.*`` / ``neck.*`` keys) is refused with a
    hint to run ``tools/convert_pad_checkpoint.py``.

    Raises:
        CheckpointMismatchError: no tensors, none under ``prefix``, or an
            unconverted pre-training checkpoint.
    """
    tensors = read_state_dict(filename, prefix, error=CheckpointMismatchError)
    if not prefix and any(k.startswith(('backbone.', 'neck.'))
                          for k in tensors):
        raise CheckpointMismatchError(
            f'{filename}: looks like an unconverted pre-training checkpoint '
            f'(keys such as {next(iter(tensors))!r}); convert it with '
            '`python tools/convert_pad_checkpoint.py CKPT OUT --target det|seg` '
            'and point init_cfg.checkpoint at the result (or set '
            "init_cfg.prefix='backbone.' to take the backbone of a fine-tuned "
            'model)')
    return tensors


def load_pretrained_backbone(backbone: nn.Module,
                             state_dict: Dict[str, torch.Tensor],
                             filename: str,
                             resized_on_load: Callable[[str], bool],
                             has_adapters: bool) -> CheckpointReport:
    """Load ``state_dict`` into ``backbone`` (non-strict) with clear errors.

    Args:
        backbone: the downstream ViT.
        state_dict: converted weights, keys as in ``backbone.state_dict()``.
        filename: the checkpoint's path, named in errors and logs.
        resized_on_load: keys whose shape the backbone adapts itself
            (position embeddings, relative position tables).
        has_adapters: whether ``backbone`` holds adapters (kept for the
            callers; the rules read the adapters from ``backbone``'s keys).

    Returns:
        A :class:`CheckpointReport` (``kind='load'``): ``loaded``, ``missing``
        (buffers the ViT recomputes left out), ``unexpected``.

    Raises:
        CheckpointMismatchError: no tensor name of the checkpoint matches the
            backbone, or too little of it would load (another architecture); a
            tensor has the wrong shape (e.g. another adapter bottleneck
            or scale mode); the checkpoint's adapters do not match the
            backbone's (another scale mode, or the backbone has none: dropping
            them would silently discard the learned adapters and scales); or
            the backbone has adapters and the checkpoint has none.
    """
    check_checkpoint_compatible(
        backbone, state_dict, filename, resized_on_load=resized_on_load,
        opt_out=None, strict_shapes=True, tolerate_missing_adapters=False)
    own = backbone.state_dict()
    result = backbone.load_state_dict(state_dict, strict=False)
    report = CheckpointReport(
        kind='load',
        matched=sorted(k for k in state_dict if k in own),
        missing=sorted(k for k in result.missing_keys
                       if not k.endswith(DERIVED_BUFFERS)),
        unexpected=sorted(result.unexpected_keys))
    num_adapters = sum(is_adapter_param(k) for k in state_dict)
    print_log(
        f'Loaded {len(report.loaded)} tensors from {filename} into '
        f'{type(backbone).__name__} ({num_adapters} adapter tensors); '
        f'missing: {report.missing or "none"}; '
        f'unexpected: {report.unexpected or "none"}',
        logger='current')
    return report
