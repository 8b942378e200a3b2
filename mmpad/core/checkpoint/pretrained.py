"""Load a converted PAD / MAE checkpoint into a downstream ViT backbone, loudly.

mmengine's non-strict loading only *warns* about shape mismatches and silently
drops unexpected keys. For PAD that hides the two mistakes that matter most
(pad.md §5.1, defect 6): adapters of the wrong size, and learned adapters / scales
that the downstream backbone cannot hold. :func:`load_pretrained_backbone`
therefore raises on both, and on a checkpoint of another architecture (nothing,
or too little, would load: :func:`mmpad.core.check_checkpoint_compatible`), and logs
what was loaded, missing and unexpected. Every refusal is a
:class:`~mmpad.core.CheckpointMismatchError` (a ``ValueError``) naming the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

from mmpad.core.checkpoint.compat import (CheckpointMismatchError,
                                           check_checkpoint_compatible)

#: buffers a ViT recomputes from its geometry; they are never loaded
DERIVED_BUFFERS = ('relative_position_index', )


@dataclass
class LoadReport:
    """What :func:`load_pretrained_backbone` did (keys without prefix)."""
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)


def read_backbone_state_dict(filename: str,
                             prefix: Optional[str] = None
                             ) -> Dict[str, torch.Tensor]:
    """The backbone state dict of a converted checkpoint (keys without prefix).

    Accepts ``{'state_dict': ...}``, ``{'model': ...}`` or a bare state dict.
    With ``prefix`` (e.g. ``'backbone.'`` to start from a fine-tuned detector)
    only the keys under it are kept, without it. Without ``prefix``, a
    pre-training checkpoint that was not converted (``backbone.*`` / ``neck.*``
    keys) is refused with a hint to run ``tools/convert_pad_checkpoint.py``.
    """
    ckpt = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise CheckpointMismatchError(
            f'{filename}: expected a checkpoint dict, got '
            f'{type(ckpt).__name__}')
    state_dict = ckpt.get('state_dict', ckpt.get('model', ckpt))
    tensors = {k: v for k, v in state_dict.items() if torch.is_tensor(v)}
    if not tensors:
        raise CheckpointMismatchError(
            f'{filename}: holds no tensors (keys: {sorted(state_dict)[:8]})')
    if prefix:
        tensors = {k[len(prefix):]: v for k, v in tensors.items()
                   if k.startswith(prefix)}
        if not tensors:
            raise CheckpointMismatchError(
                f'{filename}: no key starts with {prefix!r}')
    elif any(k.startswith(('backbone.', 'neck.')) for k in tensors):
        raise CheckpointMismatchError(
            f'{filename}: looks like an unconverted pre-training checkpoint '
            f'(keys such as {next(iter(tensors))!r}); convert it with '
            '`python tools/convert_pad_checkpoint.py CKPT OUT --target det|seg` '
            'and point init_cfg.checkpoint at the result (or set '
            "init_cfg.prefix='backbone.' to take the backbone of a fine-tuned "
            'model)')
    return tensors


def _is_adapter(key: str) -> bool:
    return '.adapter.' in key


def load_pretrained_backbone(backbone: nn.Module,
                             state_dict: Dict[str, torch.Tensor],
                             filename: str,
                             resized_on_load: Callable[[str], bool],
                             has_adapters: bool) -> LoadReport:
    """Load ``state_dict`` into ``backbone`` (non-strict) with clear errors.

    Args:
        backbone: the downstream ViT.
        state_dict: converted weights, keys as in ``backbone.state_dict()``.
        filename: the checkpoint's path, named in errors and logs.
        resized_on_load: keys whose shape the backbone adapts itself
            (position embeddings, relative position tables).
        has_adapters: whether ``backbone`` holds adapters.

    Raises:
        CheckpointMismatchError: no tensor name of the checkpoint matches the
            backbone, or too little of it would load (another architecture); a
            tensor has the wrong shape (e.g. another adapter bottleneck
            or scale mode); the checkpoint's adapters cannot all be loaded
            (dropping them would silently discard the learned adapters and
            scales, pad.md defect 6); or the backbone has adapters and the
            checkpoint has none.
    """
    check_checkpoint_compatible(
        backbone, state_dict, filename, resized_on_load=resized_on_load,
        check_adapters=False, opt_out=None)
    own = backbone.state_dict()
    wrong = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
             for k, v in state_dict.items()
             if k in own and v.shape != own[k].shape and not resized_on_load(k)]
    if wrong:
        hint = (' The adapter bottleneck / scale mode of the checkpoint differs '
                'from model.backbone.adapter_cfg.'
                if any(_is_adapter(w.split(':')[0]) for w in wrong) else '')
        raise CheckpointMismatchError(
            f'{filename}: tensors do not fit {type(backbone).__name__}: '
            + '; '.join(wrong) + '.' + hint)

    ckpt_adapters = [k for k in state_dict if _is_adapter(k)]
    if ckpt_adapters and not has_adapters:
        raise CheckpointMismatchError(
            f'{filename}: holds {len(ckpt_adapters)} adapter tensors (a PAD '
            f'checkpoint) but {type(backbone).__name__} has no adapters, which '
            'would drop the learned adapters and scales (pad.md §5.1). Use the '
            'PAD config (model.backbone.adapter_cfg set), or convert with '
            '--drop-adapters for a baseline on purpose.')
    if has_adapters and not ckpt_adapters:
        raise CheckpointMismatchError(
            f'{filename}: has no adapter weights but the backbone has adapters '
            '(model.backbone.adapter_cfg is set). Use a PAD checkpoint, or set '
            'model.backbone.adapter_cfg=None for an ImageNet / full-pre-training '
            'baseline.')

    result = backbone.load_state_dict(state_dict, strict=False)
    missing = [k for k in result.missing_keys
               if not k.endswith(DERIVED_BUFFERS)]
    unexpected = list(result.unexpected_keys)
    bad_adapters = [k for k in missing + unexpected if _is_adapter(k)]
    if bad_adapters:
        raise CheckpointMismatchError(
            f'{filename}: adapter tensors do not match the backbone '
            f'(missing or unexpected: {bad_adapters[:6]}); the checkpoint was '
            'trained with another adapter scale mode than '
            'model.backbone.adapter_cfg.')
    report = LoadReport(
        loaded=sorted(k for k in state_dict if k in own),
        missing=sorted(missing),
        unexpected=sorted(unexpected))
    print_log(
        f'Loaded {len(report.loaded)} tensors from {filename} into '
        f'{type(backbone).__name__} ({len(ckpt_adapters)} adapter tensors); '
        f'missing: {report.missing or "none"}; '
        f'unexpected: {report.unexpected or "none"}',
        logger='current')
    return report
