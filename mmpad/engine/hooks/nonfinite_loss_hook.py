"""Stop or skip a training iteration whose loss is NaN or inf, before it corrupts the
weights (and so every checkpoint written after it).

The hook wraps the model's ``parse_losses`` (to see each loss term) and the optim
wrapper's ``update_params`` (to keep a bad step from reaching the optimizer). Under DDP
the decision is all-reduced, so every rank raises or skips together and no rank waits
for a gradient all-reduce that never comes.

    custom_hooks = [dict(type='NonFiniteLossHook', action='raise')]   # default
    custom_hooks = [dict(type='NonFiniteLossHook', action='skip', max_skips=10)]
"""
from __future__ import annotations

from typing import List, Optional

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
        self._bad_terms: List[str] = []
        self._pending_skip = False

    # ---------------------------------------------------------------- wrapping
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        parse_losses = model.parse_losses
        update_params = runner.optim_wrapper.update_params

        def checked_parse_losses(losses):
            loss, log_vars = parse_losses(losses)
            self._check(runner, log_vars)
            return loss, log_vars

        def guarded_update_params(loss, *args, **kwargs):
            if not self._pending_skip:
                return update_params(loss, *args, **kwargs)
            self._pending_skip = False
            # DDP expects a backward after every forward: run one on a zero loss, then
            # drop the gradients instead of stepping.
            runner.optim_wrapper.backward(torch.nan_to_num(loss) * 0)
            runner.optim_wrapper.zero_grad()

        model.parse_losses = checked_parse_losses
        runner.optim_wrapper.update_params = guarded_update_params

    # ---------------------------------------------------------------- checking
    def _check(self, runner, log_vars) -> None:
        bad = []
        for name, value in log_vars.items():
            if 'loss' not in name:
                continue
            v = value if torch.is_tensor(value) else torch.tensor(float(value))
            if not bool(torch.isfinite(v).all()):
                bad.append(f'{name}={float(v.detach().float().mean())}')
        flag = torch.tensor([1.0 if bad else 0.0])
        if dist.is_available() and dist.is_initialized():
            if dist.get_backend() == 'nccl':
                flag = flag.cuda()
            dist.all_reduce(flag)
        if float(flag.sum()) == 0:
            return
        where = f'iteration {runner.iter + 1}'
        terms = ', '.join(bad) if bad else 'on another rank'
        if self.action == 'raise':
            raise NonFiniteLossError(
                f'Non-finite loss at {where}: {terms}. The update was not applied, so '
                'the last checkpoint is intact. Lower the learning rate, enable AMP '
                "loss scaling, or use NonFiniteLossHook(action='skip').")
        self.skipped += 1
        self._pending_skip = True
        runner.message_hub.update_info('train/nonfinite_skipped', self.skipped)
        runner.logger.warning(f'Skipped {where}: non-finite loss ({terms}); '
                              f'{self.skipped} skipped so far.')
        if self.max_skips is not None and self.skipped > self.max_skips:
            raise NonFiniteLossError(
                f'{self.skipped} iterations had a non-finite loss (last: {where}: '
                f'{terms}), more than max_skips={self.max_skips}.')
