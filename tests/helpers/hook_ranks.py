"""Worker for tests/engine/test_default_hooks_distributed.py: two gloo ranks (CPU)
train a tiny model with ``MMPadRunner`` (DDP) under each scenario and write what
they saw to ``<out>/<scenario>_rank<r>.json``.

Scenarios:

* ``rng``: 6 iterations, a checkpoint every 3; the top-level
  ``torch.distributed.all_gather_object`` calls of each iteration, and this rank's
  RNG states after iterations 2 and 3 (the checkpoint of iteration 3 must hold the
  latter);
* ``skip`` / ``skip_local``: the loss of rank 1 only is NaN at iteration 3, with
  ``NonFiniteLossHook(action='skip')``; ``skip_local`` is the control, whose ranks
  decide alone (the flag is not all-reduced);
* ``raise``: the same NaN with ``action='raise'``: the error each rank raised.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import os.path as osp
import random
from typing import Dict, List

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch.utils.data import Dataset

SCENARIOS = ('rng', 'skip', 'skip_local', 'raise')
BAD_RANK, BAD_ITER = 1, 2  # 0-based: the third iteration


class Samples(Dataset):

    def __len__(self):
        return 64

    def __getitem__(self, i):
        return dict(x=torch.full((4,), float(i % 7 + 1)))


class Noisy(BaseModel):
    """Draws from python ``random``, numpy and torch every forward (like masking
    and augmentation do; each rank a different count), and can make one rank's
    loss NaN at one iteration."""

    def __init__(self, poison: bool):
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.poison = poison
        self.calls = 0

    def forward(self, x, mode='loss'):
        # rank r draws r + 1 numbers: the ranks' generators differ
        n = dist.get_rank() + 1
        noise = (torch.rand(n).sum() + float(np.random.rand(n).sum())
                 + sum(random.random() for _ in range(n)))
        out = self.fc(x * (1 + 0.01 * noise)).mean()
        loss_b = out.abs()
        if self.poison and dist.get_rank() == BAD_RANK and self.calls == BAD_ITER:
            loss_b = loss_b * float('nan')
        self.calls += 1
        return dict(loss_a=out ** 2, loss_b=loss_b)


class Record(Hook):
    """After each iteration (after the checkpoint hook): this rank's weights, RNG
    states and the ``all_gather_object`` calls made during the iteration."""
    priority = 'LOWEST'

    def __init__(self, calls: List[int]):
        self.calls = calls
        self.rows: List[Dict] = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.calls[0] = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        model = runner.model.module
        self.rows.append(dict(weight=model.fc.weight.detach().flatten().tolist(),
                              gathers=self.calls[0], rng=rng_digest()))


def rng_digest(states: Dict = None) -> str:
    """A digest of ``get_rng_states()`` (or of the given states)."""
    from mmpad.engine.hooks.random_state_hook import get_rng_states
    states = get_rng_states() if states is None else states
    h = hashlib.sha1(states['torch'].numpy().tobytes())
    h.update(np.asarray(states['numpy'][1]).tobytes())
    h.update(repr((states['numpy'][2], tuple(states['python'][1]))).encode())
    return h.hexdigest()


def run(rank: int, port: str, out: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=port, RANK=str(rank),
                      WORLD_SIZE='2', LOCAL_RANK=str(rank))
    dist.init_process_group('gloo', rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=60))
    import mmpad  # noqa: F401
    from mmpad.engine.hooks.nonfinite_loss_hook import (NonFiniteLossError,
                                                        NonFiniteLossHook)
    from mmpad.engine.runner import MMPadRunner

    calls = [0]
    gather = dist.all_gather_object

    def counted(*args, **kwargs):
        calls[0] += 1
        return gather(*args, **kwargs)
    dist.all_gather_object = counted

    class LocalOnly(NonFiniteLossHook):
        """The control: each rank decides from its own loss alone."""

        def _agree(self, flag):
            return None  # the flag stays this rank's own

    for scenario in SCENARIOS:
        torch.manual_seed(0)
        np.random.seed(0)
        random.seed(0)
        record = Record(calls)
        hooks: List = [record]
        if scenario != 'rng':
            hook_cls = LocalOnly if scenario == 'skip_local' else NonFiniteLossHook
            hooks.append(hook_cls(action='raise' if scenario == 'raise' else 'skip'))
        work_dir = osp.join(out, scenario)
        runner = MMPadRunner(
            model=Noisy(poison=scenario != 'rng'), work_dir=work_dir,
            experiment_name=f'hook_ranks_{scenario}',
            train_dataloader=dict(dataset=Samples(), batch_size=2, num_workers=0,
                                  sampler=dict(type='DefaultSampler', shuffle=False),
                                  collate_fn=dict(type='default_collate')),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
            train_cfg=dict(by_epoch=False, max_iters=6),
            default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3,
                                               by_epoch=False)),
            custom_hooks=hooks, launcher='pytorch', default_scope='mmengine',
            log_level='WARNING')
        error = None
        try:
            runner.train()
        except NonFiniteLossError as e:
            error = str(e)
        skipped = [h.skipped for h in runner.hooks if isinstance(h, NonFiniteLossHook)]
        with open(osp.join(out, f'{scenario}_rank{rank}.json'), 'w') as f:
            json.dump(dict(rows=record.rows, error=error, skipped=skipped,
                           final=runner.model.module.fc.weight.detach().flatten().tolist(),
                           work_dir=work_dir), f)
        dist.barrier()
    dist.destroy_process_group()
