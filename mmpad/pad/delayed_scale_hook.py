"""Delayed scale learning (``later_study``, ``scale_epoch=0.6`` in the PAD code).

The adapters' learned scale (``scale_pred`` / the scalar) is held at its initial
value (s = 0.5) for the first ``ratio`` of training and learned afterwards:
with ``ratio=0.6`` and 100 epochs, 0-based epochs 0..60 are held and 61..99
learn (released when ``epoch > round(0.6 * max_epochs)``). Iteration-based
loops use the same rule on the 0-based iteration index.

Holding is done by ``adapter.detach_scale = True`` (the weight is used detached
in forward), never by flipping ``requires_grad``: the parameter stays in DDP's
bucket and in the optimizer from the start. While held it stays in the autograd
graph with an exact zero gradient (``PatchwiseScaleAdapter.hold_in_graph``), so
DDP needs no ``find_unused_parameters``, and this hook drops that gradient before
every optimizer step (an optimizer step pre-hook): AdamW skips the parameter, so
neither weight decay nor its Adam moments touch it, which start at the release
step, exactly as with the PAD code's plain detach (no gradient at all). Gradient
clipping sees the same norm (a zero gradient adds nothing).
"""
from __future__ import annotations

from typing import List, Optional

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from mmpad.core.adapters import iter_adapters, set_scale_detached
from mmpad.core.arg_check import check_bool, check_float, check_int


@HOOKS.register_module()
class DelayedScaleHook(Hook):
    """Hold the adapters' learned scales for the first part of training.

    Args:
        ratio: fraction of training during which the scale is held. The last
            held step is ``round(ratio * total)`` (0-based), ``total`` being
            ``max_epochs`` or ``max_iters``. Defaults to 0.6 (PAD's).
        hold_until: explicit last held 0-based epoch / iteration; overrides
            ``ratio``.
        by_epoch: count epochs (True) or iterations (False). ``None`` picks
            epochs for ``EpochBasedTrainLoop`` and iterations otherwise.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 ratio: float = 0.6,
                 hold_until: Optional[int] = None,
                 by_epoch: Optional[bool] = None) -> None:
        owner = type(self).__name__
        self.ratio = check_float(owner, 'ratio', ratio, 0.0, 1.0)
        self.hold_until = check_int(owner, 'hold_until', hold_until, 0,
                                    allow_none=True)
        self.by_epoch = None if by_epoch is None else check_bool(owner, 'by_epoch',
                                                                 by_epoch)
        self.held: Optional[bool] = None
        self.last_held_step: Optional[int] = None
        self._scale_params: List[nn.Parameter] = []
        self._handles: list = []

    # ----------------------------------------------------------- helpers
    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _check_ddp(self, runner, learned: list) -> None:
        if all(a.hold_in_graph for a in learned):
            return
        model = runner.model
        if is_model_wrapper(model) and hasattr(model, 'find_unused_parameters'):
            if not model.find_unused_parameters:
                raise RuntimeError(
                    'DelayedScaleHook: adapters with hold_in_graph=False give '
                    'the held scale predictor no gradient, so under DDP set '
                    "model_wrapper_cfg=dict(type='MMDistributedDataParallel', "
                    'find_unused_parameters=True)')

    def _drop_held_grads(self, optimizer, args, kwargs) -> None:
        """Optimizer step pre-hook: while held, the scales' (zero) gradients are
        dropped, so the optimizer skips them (no weight decay, no moments)."""
        if self.held:
            for param in self._scale_params:
                param.grad = None

    def _register_step_hooks(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        wrapper = getattr(runner, 'optim_wrapper', None)
        if wrapper is None:
            return
        wrappers = wrapper.values() if hasattr(wrapper, 'values') else [wrapper]
        for w in wrappers:
            self._handles.append(
                w.optimizer.register_step_pre_hook(self._drop_held_grads))

    def _set(self, runner, step: int) -> None:
        held = step <= self.last_held_step
        if held == self.held:
            return
        self.held = held
        set_scale_detached(self._model(runner), held)
        unit = 'epoch' if self.by_epoch else 'iter'
        if held:
            runner.logger.info(
                f'DelayedScaleHook: adapter scales held at their initial value '
                f'up to {unit} {self.last_held_step} (0-based)')
        else:
            runner.logger.info(
                f'DelayedScaleHook: adapter scales learn from {unit} {step} '
                '(0-based) on')

    # ------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        if self.by_epoch is None:
            self.by_epoch = isinstance(runner.train_loop, EpochBasedTrainLoop)
        total = runner.max_epochs if self.by_epoch else runner.max_iters
        self.last_held_step = self.hold_until if self.hold_until is not None \
            else int(round(self.ratio * total))
        model = self._model(runner)
        learned = [a for a in iter_adapters(model) if a.learned_scale]
        if not learned:
            runner.logger.warning(
                'DelayedScaleHook: the model has no adapter with a learned '
                'scale; nothing to hold')
            return
        frozen = [a for a in learned
                  if not all(p.requires_grad for p in a.scale_parameters())]
        if frozen:
            raise RuntimeError(
                f'DelayedScaleHook: {len(frozen)} adapters have a scale with '
                'requires_grad=False; it must stay trainable (it is held by '
                'detaching, so that DDP all-reduces its gradient once released)')
        self._check_ddp(runner, learned)
        self._scale_params = [p for a in learned for p in a.scale_parameters()]
        self._register_step_hooks(runner)
        self.held = None
        self._set(runner, runner.epoch if self.by_epoch else runner.iter)

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch and self.last_held_step is not None:
            self._set(runner, runner.epoch)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if not self.by_epoch and self.last_held_step is not None:
            self._set(runner, runner.iter)

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
