#!/usr/bin/env python
"""Per-iteration cost of the default hook set on 2 gloo ranks, and its collectives.

Two ranks (CPU, gloo, DDP) train the same tiny model with ``MMPadRunner`` in three
configurations, in alternating blocks of ``--iters`` iterations (A, B, C, A, B, C, ...), so
both see the same machine load:

* ``no hooks``: every hook removed (only the timing probe of this benchmark);
* ``mmengine defaults``: the default set less mmpad's two hooks;
* ``default``: what a config gets: mmengine's default hooks (runtime info, timer,
  sampler seed, logger, parameter scheduler, checkpoint every ``--ckpt-every``
  iterations) and the two ``MMPadRunner`` adds (``RandomStateHook``,
  ``NonFiniteLossHook``).

Printed: the median iteration time of each (iterations that write a checkpoint left
out; they are counted apart), the difference (the hooks' per-iteration overhead) and
its share of one PAD ViT-B step (measured here by ``bench_pad.py``'s worker on CPU,
or given with ``--step-ms``; goal <= 1 %), and the collectives the hooks issue per
iteration: the top-level ``torch.distributed`` calls, counted by wrapping those
functions (DDP's own gradient all-reduce runs in C++ and is not among them), in an
iteration that writes a checkpoint and in one that does not.

Usage: python benchmarks/bench_hooks.py [--blocks 4 --iters 30] [--step-ms 450]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import os.path as osp
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

os.environ.setdefault('OMP_NUM_THREADS', '1')

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = ('no hooks', 'mmengine defaults', 'default')
COUNTED = ('all_reduce', 'all_gather', 'all_gather_object', 'broadcast',
           'broadcast_object_list', 'barrier', 'reduce', 'gather', 'gather_object',
           'scatter', 'reduce_scatter', 'all_gather_into_tensor',
           'reduce_scatter_tensor', 'all_to_all')


def _count_collectives(counter: collections.Counter) -> None:
    """Wrap the ``torch.distributed`` functions in :data:`COUNTED` to count calls."""
    import torch.distributed as dist
    for name in COUNTED:
        fn = getattr(dist, name, None)
        if fn is None:
            continue

        def counted(*args, _fn=fn, _name=name, **kwargs):
            counter[_name] += 1
            return _fn(*args, **kwargs)
        setattr(dist, name, counted)


def _build(config: str, work_dir: str, block: int, iters: int, ckpt_every: int,
           probe):
    import torch
    import torch.nn as nn
    from mmengine.model import BaseModel
    from torch.utils.data import Dataset

    from mmpad.engine.hooks.nonfinite_loss_hook import NonFiniteLossHook
    from mmpad.engine.hooks.random_state_hook import RandomStateHook
    from mmpad.engine.runner import MMPadRunner

    class Samples(Dataset):
        def __len__(self):
            return 10_000

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            return dict(x=torch.randn(16, generator=g))

    class Tiny(BaseModel):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1))

        def forward(self, x, mode='loss'):
            out = self.net(x)
            return dict(loss_a=(out ** 2).mean(), loss_b=out.abs().mean())

    default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=ckpt_every,
                                         by_epoch=False, save_last=False))
    runner = MMPadRunner(
        model=Tiny(), work_dir=osp.join(work_dir, f'{config}_{block}'),
        experiment_name=f'bench_hooks_{config}_{block}',
        train_dataloader=dict(dataset=Samples(), batch_size=4, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-3, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=iters),
        default_hooks=default_hooks, custom_hooks=[probe], launcher='pytorch',
        log_level='WARNING', default_scope='mmengine')
    if config == 'no hooks':
        runner._hooks = [h for h in runner._hooks if h is probe]
    elif config == 'mmengine defaults':
        runner._hooks = [h for h in runner._hooks
                         if not isinstance(h, (RandomStateHook, NonFiniteLossHook))]
    return runner


def worker(rank: int, port: int, args, out_path: str) -> None:
    import torch.distributed as dist
    from mmengine.hooks import Hook
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE='2', LOCAL_RANK=str(rank))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    import mmpad  # noqa: F401
    counter: collections.Counter = collections.Counter()
    _count_collectives(counter)

    class Probe(Hook):
        """Time and collectives of each iteration, from one before_train_iter to
        the next (data loading, train_step and every hook included)."""
        priority = 'HIGHEST'

        def __init__(self):
            self.rows: List[Dict] = []
            self._t = None

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            now = time.perf_counter()
            if self._t is not None:
                self.rows.append(dict(s=now - self._t, calls=dict(counter)))
            counter.clear()
            self._t = now

    results = {c: dict(times=[], plain=collections.Counter(),
                       save=collections.Counter(), n_plain=0, n_save=0)
               for c in CONFIGS}
    with tempfile.TemporaryDirectory() as work:
        for block in range(args.blocks):
            for config in results:
                probe = Probe()
                runner = _build(config, work, block, args.iters, args.ckpt_every,
                                probe)
                runner.train()
                res = results[config]
                for i, row in enumerate(probe.rows):  # row i: iteration i (0-based)
                    saves = (i + 1) % args.ckpt_every == 0 and config != 'no hooks'
                    key = 'save' if saves else 'plain'
                    res[key].update(row['calls'])
                    res['n_' + key] += 1
                    if not saves and i >= args.warmup:
                        res['times'].append(row['s'])
    if rank == 0:
        with open(out_path, 'w') as f:
            json.dump({c: dict(median_s=statistics.median(r['times']),
                               n=len(r['times']),
                               plain={k: v / max(r['n_plain'], 1)
                                      for k, v in r['plain'].items()},
                               save={k: v / max(r['n_save'], 1)
                                     for k, v in r['save'].items()})
                       for c, r in results.items()}, f)
    dist.destroy_process_group()


def pad_vit_b_step_s(batch: int) -> float:
    """CPU time of one PAD-MAE ViT-B/16 training step, measured by
    ``benchmarks/bench_pad.py``'s worker (its command line: benchmarks import the
    package only, not each other)."""
    cmd = [sys.executable, osp.join(osp.dirname(osp.abspath(__file__)), 'bench_pad.py'),
           '--worker', '--arch', 'b', '--mode', 'pad', '--batch', str(batch),
           '--steps', '2', '--warmup', '1', '--threads', '1']
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore'))
    if proc.returncode != 0:
        raise RuntimeError(f'bench_pad.py worker failed:\n{proc.stderr[-3000:]}')
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')][-1]
    return json.loads(line)['step_s']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _fmt(calls: Dict[str, float]) -> str:
    return ', '.join(f'{k} {v:g}' for k, v in sorted(calls.items())) or 'none'


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--blocks', type=int, default=4)
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--ckpt-every', type=int, default=10)
    parser.add_argument('--step-ms', type=float, default=None,
                        help='PAD ViT-B step time to compare with (default: measure '
                             'one on CPU, batch --vit-batch, 1 thread)')
    parser.add_argument('--vit-batch', type=int, default=2)
    args = parser.parse_args(argv)
    import torch.multiprocessing as mp
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'result.json')
        mp.spawn(worker, args=(_free_port(), args, out), nprocs=2, join=True)
        with open(out) as f:
            res = json.load(f)
    bare, mme, full = (res[c] for c in CONFIGS)
    overhead_ms = (full['median_s'] - bare['median_s']) * 1e3
    ours_ms = (full['median_s'] - mme['median_s']) * 1e3
    print(f'2 gloo ranks, tiny model, {args.blocks} alternating blocks of '
          f'{args.iters} iterations per configuration (medians over '
          f'{"/".join(str(res[c]["n"]) for c in CONFIGS)} iterations)')
    print(f'  no hooks:           {bare["median_s"] * 1e3:8.2f} ms / iteration')
    print(f'  mmengine defaults:  {mme["median_s"] * 1e3:8.2f} ms / iteration')
    print(f'  default (+ mmpad\'s RandomStateHook, NonFiniteLossHook): '
          f'{full["median_s"] * 1e3:.2f} ms / iteration')
    print(f'  overhead of all default hooks: {overhead_ms:.2f} ms / iteration '
          f'(x{full["median_s"] / bare["median_s"]:.3f}); of mmpad\'s two: '
          f'{ours_ms:.2f} ms')
    print('collectives per iteration (top-level torch.distributed calls, rank 0):')
    print(f'  no hooks:                        {_fmt(bare["plain"])}')
    print(f'  mmengine defaults:               {_fmt(mme["plain"])}; '
          f'with a checkpoint: {_fmt(mme["save"])}')
    print(f'  default, no checkpoint written:  {_fmt(full["plain"])}   '
          '[goal: RandomStateHook none; NonFiniteLossHook one async 1-number all_reduce]')
    print(f'  default, checkpoint written:     {_fmt(full["save"])}   '
          '[goal: RandomStateHook one all_gather_object]')
    if args.step_ms is not None:
        step_ms, where = args.step_ms, 'given with --step-ms'
    else:
        step_ms = pad_vit_b_step_s(args.vit_batch) * 1e3
        where = f'measured: CPU, batch {args.vit_batch}, 1 thread'
    share = max(overhead_ms, 0.0) / step_ms * 100
    ours = max(ours_ms, 0.0) / step_ms * 100
    print(f'PAD ViT-B step: {step_ms:.0f} ms ({where}); overhead of all default hooks '
          f'= {share:.3f} % of it, of mmpad\'s two {ours:.3f} % '
          f'[goal <= 1 %: {"met" if share <= 1 else "NOT met"}]')
    return 0


if __name__ == '__main__':
    sys.exit(main())
