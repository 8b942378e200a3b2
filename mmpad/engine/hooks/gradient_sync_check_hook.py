"""Check that data-parallel ranks really train one model.

Under DDP every rank must apply the same update: after the backward pass the
gradients of the trainable parameters are all-reduced, so they are identical on
every rank before the optimizer steps. Things that silently break this: a parameter
that is trainable on one rank and frozen on another (e.g. a hook switching
``requires_grad`` on rank 0 only), a ``no_sync`` left on, gradients modified after
the all-reduce by rank-dependent code, a buffer-driven branch that differs per rank.

The hook registers an optimizer *step pre-hook*, so it sees the gradients exactly as
the optimizer will use them. Every ``interval`` steps it reduces each trainable
tensor's gradient to a small fingerprint (float64 sum, sum of squares and a
position-weighted sum; identical gradients give bit-identical fingerprints), gathers
the fingerprints of all ranks and raises, naming the iteration and the first
differing parameters, if any rank differs. A parameter whose gradient is ``None``
on some ranks but not on others is reported too. At the end of training the
parameters and buffers themselves (the momentum target of AlignDet included) are
compared the same way.

Under FSDP (``MMFullyShardedDataParallel`` or mmpad's
``PADFullyShardedDataParallel``, ``use_orig_params=True``) each rank holds only its
shard of every gradient, so the hook first gathers the full gradients with
``FullyShardedDataParallel.summon_full_params(with_grads=True)`` and compares those;
parameters FSDP ignores are not gathered, and when they are trainable their
per-rank (never reduced) gradients are what the hook catches. Parameter names are
reported as in the unwrapped model (without ``_fsdp_wrapped_module.``).

Use it in a config's ``custom_hooks`` while validating a new setup; the cost is one
small all-gather per checked step (under FSDP also one all-gather of the full
gradients).
"""
from __future__ import annotations

import contextlib
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

from mmpad.core.arg_check import check_bool, check_int


def fingerprint(t: torch.Tensor) -> Tuple[float, float, float]:
    """Three float64 numbers that are equal for equal tensors and differ for
    (almost) any difference, including a permutation of the elements."""
    x = t.detach().reshape(-1).double()
    pos = torch.arange(1, x.numel() + 1, dtype=torch.float64, device=x.device)
    return (x.sum().item(), (x * x).sum().item(), (x * pos).sum().item())


class GradientMismatchError(RuntimeError):
    """Raised when ranks disagree on gradients or weights."""


@HOOKS.register_module()
class GradientSyncCheckHook(Hook):
    """Assert that trainable gradients (and, at the end, weights) are identical
    on all data-parallel ranks.

    Args:
        interval: check every ``interval``-th optimizer step. Defaults to 1.
        check_weights: also compare all parameters and buffers after training.
    """

    priority = 'LOWEST'

    def __init__(self, interval: int = 1, check_weights: bool = True) -> None:
        owner = type(self).__name__
        self.interval = check_int(owner, 'interval', interval, 1)
        self.check_weights = check_bool(owner, 'check_weights', check_weights)
        self.checked_steps = 0
        self.checked_tensors = 0
        self._steps = 0
        self._names: Dict[int, str] = {}
        self._runner = None
        self._handles: List = []

    # ---------------------------------------------------------------- setup
    @staticmethod
    def _module(runner) -> torch.nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    @staticmethod
    def _clean(name: str) -> str:
        return name.replace('_fsdp_wrapped_module.', '')

    def _full(self, with_grads: bool):
        """Under FSDP, a context in which every rank holds the full parameters
        (and gradients); otherwise a no-op."""
        model = self._runner.model if self._runner is not None else None
        if isinstance(model, FSDP):
            return FSDP.summon_full_params(model, writeback=False,
                                           with_grads=with_grads)
        return contextlib.nullcontext()

    def before_train(self, runner) -> None:
        self._runner = runner
        if get_world_size() == 1:
            runner.logger.info('GradientSyncCheckHook: single process, nothing '
                               'to compare')
            return
        if isinstance(runner.model, FSDP) and \
                not getattr(runner.model, '_use_orig_params', True):
            raise ValueError(
                'GradientSyncCheckHook: under FSDP it needs use_orig_params=True '
                '(it compares the gradients of the original parameters)')
        self._names = {id(p): self._clean(n) for n, p in
                       self._module(runner).named_parameters()}
        wrapper = runner.optim_wrapper
        wrappers = wrapper.values() if hasattr(wrapper, 'values') else [wrapper]
        for w in wrappers:
            self._handles.append(
                w.optimizer.register_step_pre_hook(self._before_step))

    # ---------------------------------------------------------------- checks
    def _before_step(self, optimizer, args, kwargs) -> None:
        self._steps += 1
        if (self._steps - 1) % self.interval:
            return
        local: Dict[str, Optional[Tuple[float, float, float]]] = {}
        with self._full(with_grads=True):
            for group in optimizer.param_groups:
                for p in group['params']:
                    if not p.requires_grad:
                        continue
                    name = self._names.get(id(p), f'<param {id(p)}>')
                    local[name] = None if p.grad is None else fingerprint(p.grad)
        it = self._runner.iter if self._runner is not None else self._steps - 1
        self._compare(local, f'gradients at iteration {it}')
        self.checked_steps += 1
        self.checked_tensors = sum(v is not None for v in local.values())

    @staticmethod
    def _compare(local: Dict[str, object], what: str) -> None:
        gathered = all_gather_object(local)
        ref = gathered[0]
        for rank, other in enumerate(gathered[1:], start=1):
            if other.keys() != ref.keys():
                only0 = sorted(set(ref) - set(other))[:3]
                only1 = sorted(set(other) - set(ref))[:3]
                raise GradientMismatchError(
                    f'GradientSyncCheckHook: {what}: rank 0 and rank {rank} '
                    f'have different tensor sets ({len(ref)} vs {len(other)}): '
                    f'only on rank 0: {only0}, only on rank {rank}: {only1}')
            diff = [k for k in ref if ref[k] != other[k]]
            if diff:
                none = [k for k in diff if (ref[k] is None) != (other[k] is None)]
                detail = (f'{len(none)} have a gradient on one rank only '
                          f'(e.g. {none[:3]}); ' if none else '')
                raise GradientMismatchError(
                    f'GradientSyncCheckHook: {what}: {len(diff)} tensors differ '
                    f'between rank 0 and rank {rank}: {detail}first {diff[:5]}')

    def after_train(self, runner) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        if get_world_size() == 1:
            return
        if self.check_weights:
            if isinstance(runner.model, FSDP):
                with self._full(with_grads=False):
                    module = self._module(runner)
                    local = {self._clean(k): fingerprint(v) for k, v in
                             [*module.named_parameters(), *module.named_buffers()]
                             if v.is_floating_point()}
            else:
                state = self._module(runner).state_dict()
                local = {k: fingerprint(v) for k, v in state.items()
                         if torch.is_tensor(v) and v.is_floating_point()}
            self._compare(local, 'weights after training')
        runner.logger.info(
            f'GradientSyncCheckHook: gradients of {self.checked_tensors} trainable '
            f'tensors identical on all {get_world_size()} ranks in '
            f'{self.checked_steps} checked steps'
            + ('; all weights identical after training' if self.check_weights
               else ''))
