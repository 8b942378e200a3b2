"""The reference's norm-reset hook (present there, used by none of its configs).

Resets every BatchNorm / SyncBatchNorm (running statistics and affine
parameters) and GroupNorm / LayerNorm (affine parameters) of the model. The
reference ran it at ``before_run`` of mmcv 1.x, i.e. after checkpoint loading;
mmengine loads checkpoints after ``before_run``, so this hook acts at
``before_train`` of a fresh run (``runner.iter == 0``), before
``AlignDetMomentumHook`` synchronises the target.
"""
from __future__ import annotations

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdet.registry import HOOKS

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
_AFFINE_NORMS = (nn.GroupNorm, nn.LayerNorm)


def reset_norms(model: nn.Module) -> int:
    """Reset all norm layers of ``model``; returns how many were reset."""
    count = 0
    for module in model.modules():
        if isinstance(module, _BATCH_NORMS):
            module.reset_running_stats()
            module.reset_parameters()
            count += 1
        elif isinstance(module, _AFFINE_NORMS):
            module.reset_parameters()
            count += 1
    return count


@HOOKS.register_module()
class AlignDetResetNormsHook(Hook):
    """Reset the model's norm layers before a fresh run's first iteration."""
    priority = 'ABOVE_NORMAL'  # before AlignDetMomentumHook's target sync

    def before_train(self, runner) -> None:
        if runner.iter == 0:
            count = reset_norms(runner.model)
            print_log(f'AlignDetResetNormsHook: reset {count} norm layers',
                      logger='current')
