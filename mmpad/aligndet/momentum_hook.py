"""Momentum (EMA) update of AlignDet's target detector.

Before iteration ``k`` of ``K = max_iters``::

    m_k = 1 - (1 - m_0) * (cos(pi * k / K) + 1) / 2        (m_0 = 0.996 -> 1)

and after that iteration's optimizer step ``target <- m_k target + (1 - m_k)
online`` (parameters only; DETR's ``query_embedding`` copied; see
``AlignDetPretrainer.momentum_update``). Before the first iteration of a fresh run
(``runner.iter == 0``) the target is synchronised with the online detector, i.e.
after weight init and ``load_from`` (the reference synchronised before weight
init, so its target started from an independent random init); a resumed run
keeps the target from its checkpoint. mmdet's ``MeanTeacherHook`` has a constant
momentum and no schedule, hence this hook.
"""
from __future__ import annotations

import math
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS

from mmpad.core.arg_check import check_float, check_int


def cosine_momentum(cur_iter: int, max_iters: int, base_momentum: float = 0.996,
                    end_momentum: float = 1.0) -> float:
    """``m_k`` of the cosine schedule: ``base_momentum`` at 0, ``end_momentum``
    at ``max_iters``."""
    if max_iters <= 0:
        raise ValueError(f'max_iters must be > 0, got {max_iters}')
    progress = (math.cos(math.pi * cur_iter / max_iters) + 1) / 2
    return end_momentum - (end_momentum - base_momentum) * progress


@HOOKS.register_module()
class AlignDetMomentumHook(Hook):
    """Cosine-scheduled momentum update of ``model.target`` from ``model.online``.

    Args:
        base_momentum: momentum at the first iteration (0.996).
        end_momentum: momentum reached at ``max_iters`` (1.0).
        interval: update every ``interval`` iterations.
    """
    priority = 'NORMAL'

    def __init__(self, base_momentum: float = 0.996, end_momentum: float = 1.0,
                 interval: int = 1) -> None:
        owner = type(self).__name__
        base_momentum = check_float(owner, 'base_momentum', base_momentum, 0.0, 1.0)
        end_momentum = check_float(owner, 'end_momentum', end_momentum,
                                   base_momentum, 1.0)
        self.base_momentum = base_momentum
        self.end_momentum = end_momentum
        self.interval = check_int(owner, 'interval', interval, 1)
        self.momentum = base_momentum

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        for name in ('online', 'target', 'sync_target', 'momentum_update'):
            if not hasattr(model, name):
                raise AttributeError(
                    f'AlignDetMomentumHook needs a model with online/target '
                    f'detectors (AlignDetPretrainer); {type(model).__name__} has '
                    f'no {name!r}')
        return model

    def before_train(self, runner) -> None:
        model = self._model(runner)
        if runner.iter == 0:
            model.sync_target()

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        self.momentum = cosine_momentum(runner.iter, runner.max_iters,
                                        self.base_momentum, self.end_momentum)
        runner.message_hub.update_scalar('train/target_momentum', self.momentum)

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self._model(runner).momentum_update(self.momentum)
