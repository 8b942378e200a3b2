"""Optimizer parameter groups merged by equal hyper-parameters, and a quiet start.

mmengine's ``DefaultOptimWrapperConstructor`` (and mmpretrain's layer-decay
constructor built on it) gives every parameter its own group as soon as
``paramwise_cfg`` is set: 185 groups for PAD-MAE ViT-B, 252 for the full model,
where AdamW needs as many groups as there are distinct settings (2 with
``flat_decay_mult=0``). Each group is a separate pass of the optimizer (Python
overhead on the CPU; on CUDA the batched ``foreach`` / ``fused`` kernels run per
group). :class:`GroupMergingMixin` keeps the constructor's rules and merges the
groups whose settings are equal (every key but ``params`` and the per-parameter
``param_name``), in the order of their first parameter, parameters in model
order; the update of every parameter is the same.

It also replaces mmengine's one WARNING per frozen parameter ("... is skipped
since its requires_grad=False") by one INFO line with the counts.

Checkpoints: the optimizer ``state_dict`` of merged groups has fewer groups. A
checkpoint written with one group per parameter cannot be mapped exactly (the
parameter schedulers keep one value per group too), so resuming it fails with one
error that names the switch ``paramwise_cfg.merge_groups=False``, which builds
the old layout.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

#: per-parameter entries of a group that are not settings (dropped on merging)
NAME_KEYS = ('param_name', 'param_names')
#: the text of mmengine's per-frozen-parameter warning
FROZEN_SKIP_TEXT = 'is skipped since its requires_grad=False'


def group_settings_key(group: dict) -> Tuple:
    """A hashable key of every setting of ``group`` (all keys but ``params`` and
    :data:`NAME_KEYS`); equal keys <=> equal settings, exactly (``repr`` of a
    float round-trips)."""
    return tuple(sorted((k, type(v).__name__, repr(v)) for k, v in group.items()
                        if k != 'params' and k not in NAME_KEYS))


def merge_param_groups(groups: List[dict]) -> List[dict]:
    """Merge the groups with equal settings.

    Args:
        groups: optimizer parameter groups (``{'params': [...], 'lr': ..., ...}``).

    Returns:
        One group per distinct setting, ordered by the first group that has it;
        inside a group the parameters keep their order in ``groups``. Per-parameter
        names (``param_name``) are dropped.
    """
    merged: Dict[Tuple, dict] = {}
    for group in groups:
        key = group_settings_key(group)
        if key not in merged:
            merged[key] = {k: v for k, v in group.items()
                           if k != 'params' and k not in NAME_KEYS}
            merged[key]['params'] = []
        params = group['params']
        merged[key]['params'].extend(
            [params] if not isinstance(params, (list, tuple)) else params)
    return list(merged.values())


def group_of_each_param(model: nn.Module, param_groups: List[dict]) -> Dict[str, dict]:
    """``{parameter name: its group}`` for the parameters of ``model`` that are in
    ``param_groups`` (names as in ``model.named_parameters()``)."""
    group_of = {id(p): g for g in param_groups for p in g['params']}
    return {n: group_of[id(p)] for n, p in model.named_parameters()
            if id(p) in group_of}


class _FrozenSkipCounter(logging.Filter):
    """Swallows mmengine's per-frozen-parameter warnings, counting them."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if FROZEN_SKIP_TEXT in record.getMessage():
            self.count += 1
            return False
        return True


class GroupMergingMixin:
    """Placed before an mmengine optimizer-wrapper constructor: merges its groups
    (:func:`merge_param_groups`) unless ``paramwise_cfg.merge_groups=False``, and
    logs one line of counts instead of a warning per frozen parameter."""

    paramwise_cfg: dict

    @property
    def merge_groups(self) -> bool:
        value = self.paramwise_cfg.get('merge_groups', True)
        if not isinstance(value, bool):
            raise TypeError(
                f'{type(self).__name__}: optim_wrapper.paramwise_cfg.merge_groups '
                f'must be True or False, got {value!r}')
        return value

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   **kwargs) -> None:
        """The constructor's ``add_params``; on the top-level call (``prefix=''``)
        its groups are merged and the counts logged."""
        if prefix:
            return super().add_params(params, module, prefix=prefix, **kwargs)
        logger = MMLogger.get_current_instance()
        counter = _FrozenSkipCounter()
        logger.addFilter(counter)
        groups: List[dict] = []
        try:
            super().add_params(groups, module, prefix=prefix, **kwargs)
        finally:
            logger.removeFilter(counter)
        self.num_unmerged_groups = len(groups)
        if self.merge_groups:
            groups = merge_param_groups(groups)
        params.extend(groups)
        in_groups = {id(p) for g in groups for p in g['params']}
        frozen = sum(1 for p in module.parameters()
                     if not p.requires_grad and id(p) not in in_groups)
        print_log(
            f'{type(self).__name__}: {len(in_groups)} parameter tensors in '
            f'{len(groups)} optimizer groups'
            + (f' (merged from {self.num_unmerged_groups} by equal settings)'
               if self.merge_groups else '')
            + f'; {frozen} frozen tensors (requires_grad=False) left out',
            logger='current', level=logging.INFO)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        self.num_unmerged_groups: Optional[int] = None
        wrapper = super().__call__(model)
        if self.merge_groups and self.num_unmerged_groups is not None:
            wrapper.optimizer.register_load_state_dict_pre_hook(
                self._check_layout_hook(len(wrapper.optimizer.param_groups),
                                        self.num_unmerged_groups))
        return wrapper

    def _check_layout_hook(self, merged: int, unmerged: int):
        owner = type(self).__name__

        def hook(optimizer, state_dict):
            saved = len(state_dict.get('param_groups', ()))
            if saved == merged or saved == len(optimizer.param_groups):
                return None
            if saved == unmerged:
                raise ValueError(
                    f'{owner}: the optimizer state to load has {saved} parameter '
                    f'groups (one per parameter, written before groups were '
                    f'merged); this optimizer merges them into {merged} groups of '
                    'equal settings. To resume this checkpoint set optim_wrapper.'
                    'paramwise_cfg.merge_groups=False')
            raise ValueError(
                f'{owner}: the optimizer state to load has {saved} parameter '
                f'groups; this optimizer has {merged} ({unmerged} before merging '
                'groups of equal settings): the checkpoint was written for '
                'another model or optim_wrapper config')
        return hook


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GroupMergingOptimWrapperConstructor(GroupMergingMixin,
                                          DefaultOptimWrapperConstructor):
    """mmengine's default constructor (same ``paramwise_cfg`` rules) with its
    parameter groups merged by equal settings and one log line for the frozen
    parameters. Extra ``paramwise_cfg`` key: ``merge_groups`` (default True).

    Example::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=1.5e-4, weight_decay=0.05),
            constructor='GroupMergingOptimWrapperConstructor',
            paramwise_cfg=dict(flat_decay_mult=0.0))  # -> 2 groups
    """
