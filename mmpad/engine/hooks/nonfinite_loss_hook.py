"""Stop or skip a training iteration whose loss is NaN or inf, before it corrupts the
weights (and so every checkpoint written after it).

The hook wraps the model's ``parse_losses`` (to see each loss term) and the optim
wrapper's ``step`` (to keep a bad update from reaching the optimizer). The loss terms
are checked on the device, without waiting for them; under DDP the flag (one number) is
all-reduced asynchronously, so it travels while the backward pass runs, and is read
once, right before the optimizer step. Every rank reads the same flag, so every rank
raises or skips together; the backward pass runs on every rank either way (its
gradients are dropped), so no rank waits for a gradient all-reduce that never comes.

    custom_hooks = [dict(type='NonFiniteLossHook', action='raise')]   # default
    custom_hooks = [dict(type='NonFiniteLossHook', action='skip', max_skips=10)]
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from mmpad.core.arg_check import check_choice, check_int


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or inf."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise (``action='raise'``) or skip and count (``action='skip'``) iterations
    whose loss is not finite.

    Args:
        action: ``'raise'`` stops the run with the iteration and the loss terms named;
            ``'skip'`` drops the update (gradients zeroed, no optimizer step), logs a
            warning and counts it in the message hub as ``train/nonfinite_skipped``.
        max_skips: with ``'skip'``, raise once more than this many iterations were
            skipped (``None``: never).
    """
    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'raise', max_skips: Optional[int] = None):
        owner = type(self).__name__
        self.action = check_choice(owner, 'action', action, ('raise', 'skip'))
        self.max_skips = check_int(owner, 'max_skips', max_skips, 0, allow_none=True)
        self.skipped = 0
        #: (flag, its all-reduce or None, the log_vars it was computed from) of the
        #: last ``parse_losses`` whose update is not decided yet
        self._pending: Optional[Tuple[torch.Tensor, Any, Dict[str, Any]]] = None

    # ---------------------------------------------------------------- wrapping
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        optim_wrapper = runner.optim_wrapper
        if getattr(model.parse_losses, '_nonfinite_guard', False):
            return  # wrapped already (a second train() of the same runner)
        parse_losses = model.parse_losses
        update_params = optim_wrapper.update_params
        step = optim_wrapper.step

        def checked_parse_losses(losses):
            loss, log_vars = parse_losses(losses)
            self._start_check(log_vars)
            return loss, log_vars

        def guarded_step(*args, **kwargs):
            if not self._decide(runner):
                return step(*args, **kwargs)
            # skipped: update_params zeroes the gradients next

        def guarded_update_params(loss, *args, **kwargs):
            # the backward pass runs on every rank, bad loss or not (DDP expects
            # one after every forward); a bad update is dropped in guarded_step
            result = update_params(loss, *args, **kwargs)
            if self._pending is not None and self._decide(runner):
                # no optimizer step in this call (gradient accumulation): drop
                # the gradients accumulated with the bad loss
                optim_wrapper.zero_grad()
            return result

        checked_parse_losses._nonfinite_guard = True  # type: ignore[attr-defined]
        model.parse_losses = checked_parse_losses
        optim_wrapper.update_params = guarded_update_params
        optim_wrapper.step = guarded_step

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        # a model whose train_step bypasses runner.optim_wrapper (e.g. one optim
        # wrapper per sub-model) still stops, one update late
        if self._pending is not None:
            self._decide(runner, applied=True)

    # ---------------------------------------------------------------- checking
    def _start_check(self, log_vars: Dict[str, Any]) -> None:
        """Flag (shape ``(1,)``, 1.0 = some loss term is not finite) computed on the
        loss device without a host sync; all-reduced asynchronously under DDP."""
        if self._pending is not None and self._pending[1] is not None:
            self._pending[1].wait()  # undecided (e.g. a loss computed in val)
        finite: List[torch.Tensor] = []
        host_bad = False
        for name, value in log_vars.items():
            if 'loss' not in name:
                continue
            if torch.is_tensor(value):
                finite.append(torch.isfinite(value.detach()).all().reshape(1))
            else:
                host_bad |= not math.isfinite(float(value))
        flag = (torch.logical_not(torch.cat(finite).all()).float().reshape(1)
                if finite else torch.zeros(1))
        if host_bad:
            flag = torch.ones_like(flag)
        work = None
        if dist.is_available() and dist.is_initialized():
            if dist.get_backend() == 'nccl':
                if not flag.is_cuda:
                    flag = flag.cuda()
            elif flag.device.type != 'cpu':
                flag = flag.cpu()
            work = self._agree(flag)
        self._pending = (flag, work, log_vars)

    def _agree(self, flag: torch.Tensor) -> Optional[Any]:
        """Start summing ``flag`` over the ranks, in place; returns the work to wait
        for. Issued right after the forward pass on every rank, so it precedes
        DDP's gradient all-reduces in the same order everywhere."""
        return dist.all_reduce(flag, async_op=True)

    def _decide(self, runner, applied: bool = False) -> bool:
        """Wait for the flag of the pending check; ``True``: skip this update.
        Raises :class:`NonFiniteLossError` with ``action='raise'`` (or when the
        update was ``applied`` already) and past ``max_skips``."""
        flag, work, log_vars = self._pending
        self._pending = None
        if work is not None:
            work.wait()
        if float(flag.sum()) == 0:  # the one host sync of the check
            return False
        bad = []
        for name, value in log_vars.items():
            if 'loss' not in name:
                continue
            v = value if torch.is_tensor(value) else torch.tensor(float(value))
            if not bool(torch.isfinite(v).all()):
                bad.append(f'{name}={float(v.detach().float().mean())}')
        where = f'iteration {runner.iter + 1}'
        terms = ', '.join(bad) if bad else 'on another rank'
        if applied:
            raise NonFiniteLossError(
                f'Non-finite loss at {where}: {terms}. The model\'s train_step does '
                'not update through runner.optim_wrapper, so the update was applied '
                'before this check: resume from the last checkpoint written before it.')
        if self.action == 'raise':
            raise NonFiniteLossError(
                f'Non-finite loss at {where}: {terms}. The update was not applied, so '
                'the last checkpoint is intact. Lower the learning rate, enable AMP '
                "loss scaling, or use NonFiniteLossHook(action='skip').")
        self.skipped += 1
        runner.message_hub.update_info('train/nonfinite_skipped', self.skipped)
        runner.logger.warning(f'Skipped {where}: non-finite loss ({terms}); '
                              f'{self.skipped} skipped so far.')
        if self.max_skips is not None and self.skipped > self.max_skips:
            raise NonFiniteLossError(
                f'{self.skipped} iterations had a non-finite loss (last: {where}: '
                f'{terms}), more than max_skips={self.max_skips}.')
        return True
