"""Test-only pieces for FSDP runs under mmengine's Runner, imported by test configs
(``custom_imports``): a hook saving every rank's full weights (gathered under FSDP)
before and after training, and, for the controls, stock
``MMFullyShardedDataParallel`` made to run under the Runner (the model initialised
before sharding, since the Runner initialises after wrapping, which fails on flat
shards; the root fixed before the Runner's first ``state_dict``) with torch's
always-wrap policy less containers, and mmpad's wrapper with mmengine's gradient
clipping."""
import contextlib

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model.wrappers import MMFullyShardedDataParallel
from mmengine.registry import FUNCTIONS, HOOKS, MODEL_WRAPPERS
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

from mmpad.engine.fsdp_wrap import PADFullyShardedDataParallel


@FUNCTIONS.register_module()
def wrap_every_module(module, recurse, nonwrapped_numel):
    """torch's ``always_wrap_policy``, less the containers (FSDP cannot gather for
    modules without a forward) and modules left with no parameters."""
    return recurse or (nonwrapped_numel > 0 and not isinstance(
        module, (torch.nn.ModuleList, torch.nn.ModuleDict)))


@MODEL_WRAPPERS.register_module()
class InitFirstFSDP(MMFullyShardedDataParallel):

    def __init__(self, module, **kwargs):
        module.init_weights()
        super().__init__(module=module, **kwargs)
        with FSDP.summon_full_params(self, writeback=False):
            pass  # this is the root (the Runner reads unit state_dicts first)


@HOOKS.register_module()
class DumpFullWeightsHook(Hook):
    """``{name: (tensor, requires_grad)}`` of the unwrapped model's parameters, at
    ``{out}/{init,final}_rank{r}.pth``."""

    priority = 'LOWEST'

    def __init__(self, out):
        self.out = out

    def _dump(self, runner, tag):
        model = runner.model
        ctx = (FSDP.summon_full_params(model, writeback=False)
               if isinstance(model, FSDP) else contextlib.nullcontext())
        with ctx:
            sd = {n.replace('_fsdp_wrapped_module.', ''):
                  (p.detach().clone(), p.requires_grad)
                  for n, p in model.module.named_parameters()}
        torch.save(sd, f'{self.out}/{tag}_rank{get_rank()}.pth')

    def before_train(self, runner):
        self._dump(runner, 'init')

    def after_train(self, runner):
        self._dump(runner, 'final')


@MODEL_WRAPPERS.register_module()
class PADFSDPWithStockClip(PADFullyShardedDataParallel):
    """mmpad's wrapper with mmengine's own gradient clipping by norm, which sees
    each rank's gradient shards only (the mechanism under test switched off)."""

    train_step = MMFullyShardedDataParallel.train_step
