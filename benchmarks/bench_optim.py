#!/usr/bin/env python
"""PAD's optimizer and start-up rows, each measured side by side in one run.

Rows (goal printed beside each figure):

* **AdamW parameter groups** (PAD and full MAE, the PAD recipe's AdamW with
  ``flat_decay_mult=0``): groups built by mmengine's default constructor (one per
  parameter), by ``GroupMergingOptimWrapperConstructor`` (merged by equal
  settings) and by the reference (2 groups: decayed, not decayed). Each layout
  steps its own copy of the trainable weights with the same gradients, one step
  of each per round (order rotated); the ratio to the reference is the median
  over the rounds of the ratio within a round (process CPU time), and the
  weights after the steps are compared exactly.
* **optimizer log at start** (PAD-MAE ViT-B config, built on the meta device):
  WARNING lines of mmengine's constructor vs ours.
* **DDP find_unused_parameters** (2 gloo ranks, PAD-MAE ViT-S, same batch and
  masks): the old way (plain detach of the held scale, DDP with
  ``find_unused_parameters=True``) vs the hold in the graph with a zero gradient
  and ``find_unused_parameters=False``, alternating steps of one run, held and
  then released (``DelayedScaleHook``); the weights of both are compared exactly.
* **PAD vs full peak memory** (MAE ViT-S): ``bench_pad.py``'s measurement.

Usage::

    python benchmarks/bench_optim.py                  # CPU, ~3 min
    python benchmarks/bench_optim.py --rows groups,log
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import os.path as osp
import socket
import statistics
import subprocess
import sys
import time
import types

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)

BENCH_PAD = osp.join(osp.dirname(osp.abspath(__file__)), 'bench_pad.py')


def bench_pad(*argv: str) -> dict:
    """The last JSON line ``benchmarks/bench_pad.py ARGV`` prints (its command line:
    benchmarks import the package only, not each other)."""
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    proc = subprocess.run([sys.executable, BENCH_PAD, *argv], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f'bench_pad.py {" ".join(argv)} failed:\n{proc.stderr[-3000:]}')
    return json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith('{')][-1])

ROWS = ('groups', 'log', 'ddp', 'memory')
PAD_CFG = 'configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py'
OPTIM = dict(type='AdamW', lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)


def build_mae(arch: str, pad: bool, img: int = 224):
    """MAE (``bench_pad.py --print-cfg``) or its PAD version, built and initialised."""
    import mmpad  # noqa: F401
    from mmengine.logging import MMLogger
    from mmpretrain.registry import MODELS
    MMLogger.get_instance('bench_optim', log_level='WARNING')
    cfg = bench_pad('--print-cfg', arch)
    if img != 224:
        cfg['backbone']['img_size'] = img
        cfg['neck']['num_patches'] = (img // 16)**2
    if pad:
        cfg = dict(type='PAD', algorithm=cfg,
                   adapter=dict(bottleneck=64, scale_mode='concat'))
    model = MODELS.build(cfg)
    model.init_weights()
    return model


# ------------------------------------------------------------------ groups
def layouts(model) -> dict:
    """name -> param groups (of ``model``'s parameters) of the three layouts."""
    from mmengine.optim import DefaultOptimWrapperConstructor

    from mmpad.engine.optim_constructor import \
        GroupMergingOptimWrapperConstructor
    from mmengine.logging import MMLogger
    out = {}
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # mmengine's warning per frozen parameter
    try:
        for name, cls in (('per-parameter', DefaultOptimWrapperConstructor),
                          ('merged', GroupMergingOptimWrapperConstructor)):
            wrapper = cls(dict(type='OptimWrapper', optimizer=dict(OPTIM)),
                          paramwise_cfg=dict(flat_decay_mult=0.0))(model)
            out[name] = wrapper.optimizer.param_groups
    finally:
        logger.setLevel(level)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    out['reference'] = [  # the PAD code's timm-style 2 groups
        dict(params=[p for _, p in named if p.ndim > 1],
             weight_decay=OPTIM['weight_decay']),
        dict(params=[p for _, p in named if p.ndim <= 1], weight_decay=0.0)]
    return out


def fixed_malloc_thresholds() -> bool:
    """Fix glibc's mmap / trim thresholds (16 MB / 1 GB) in this process.

    Otherwise the threshold adapts to the allocation history, so that the AdamW
    step's temporaries (one per parameter) are fresh zero-filled pages in one
    layout and reused heap memory in the next: up to 2x either way, unrelated to
    the groups. Returns False where glibc's ``mallopt`` is not available.
    """
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c'))
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 16 * 2**20)) and \
            bool(libc.mallopt(m_trim_threshold, 2**30))
    except (OSError, AttributeError):
        return False


def bench_groups(args) -> None:
    import torch
    fixed = fixed_malloc_thresholds()
    print('\n== AdamW parameter groups: one per parameter (mmengine) / merged by '
          'equal settings / the reference (2) ==')
    print(f'  (CPU, single-tensor AdamW; malloc thresholds fixed: {fixed})')
    for pad in (True, False):
        model = build_mae(args.arch, pad)
        label = 'PAD' if pad else 'full'
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        g = torch.Generator().manual_seed(0)
        grads = {id(p): torch.randn(p.shape, generator=g) * 1e-2 for _, p in named}
        opts, copies = {}, {}
        for name, groups in layouts(model).items():
            clone = {id(p): p.detach().clone().requires_grad_() for _, p in named}
            for pid, c in clone.items():
                c.grad = grads[pid]
            hyper = [dict({k: v for k, v in grp.items() if k != 'params'},
                          params=[clone[id(p)] for p in grp['params']])
                     for grp in groups]
            kw = {k: v for k, v in OPTIM.items() if k != 'type'}
            opts[name] = torch.optim.AdamW(hyper, **kw)
            copies[name] = [clone[id(p)] for _, p in named]
        times = {k: [] for k in opts}
        names = list(opts)
        for i in range(args.warmup + args.steps):
            for name in names[i % 3:] + names[:i % 3]:  # rotate the order
                t0 = time.process_time()
                opts[name].step()
                if i >= args.warmup:
                    times[name].append(time.process_time() - t0)
        # per round ratios (the three steps of a round run back to back)
        ratio = {k: statistics.median(a / b for a, b in
                                      zip(times[k], times['reference']))
                 for k in times}
        ref_ms = statistics.median(times['reference']) * 1e3
        same = {k: all(torch.equal(a, b) for a, b in
                       zip(copies[k], copies['per-parameter']))
                for k in ('merged', 'reference')}
        ngroups = {k: len(o.param_groups) for k, o in opts.items()}
        print(f'  {label:<4} groups {ngroups["per-parameter"]:>4} / '
              f'{ngroups["merged"]:>3} / {ngroups["reference"]}   step time vs '
              f'reference: per-parameter {ratio["per-parameter"]:.3f}, merged '
              f'{ratio["merged"]:.3f}  (goal merged <= 1.00)   reference step '
              f'{ref_ms:.0f} ms')
        print(f'       weights after {args.warmup + args.steps} steps identical to '
              f'per-parameter groups: merged {same["merged"]}, reference '
              f'{same["reference"]}  (goal: True)')
        del model, opts, copies


# --------------------------------------------------------------------- log
def bench_log(args) -> None:
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    import mmpad  # noqa: F401
    print('\n== optimizer build log, PAD-MAE ViT-B config ==')
    cfg = Config.fromfile(osp.join(REPO, PAD_CFG))
    with torch.device('meta'):
        model = MODELS.build(cfg.model.to_dict())
    optim = copy.deepcopy(cfg.optim_wrapper.to_dict())
    optim.update(type='OptimWrapper')
    optim.pop('loss_scale', None)
    logger = MMLogger.get_current_instance()
    for name, constructor in (('mmengine default', None),
                              ('GroupMerging', optim['constructor'])):
        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logger.addHandler(handler)
        level = logger.level
        logger.setLevel(logging.INFO)
        try:
            ocfg = dict(optim)
            ocfg.pop('constructor')
            if constructor:
                ocfg['constructor'] = constructor
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                wrapper = build_optim_wrapper(model, ocfg)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        warn = sum(r.levelno >= logging.WARNING for r in records)
        print(f'  {name:<17} WARNING lines {warn:>4}, AdamW groups '
              f'{len(wrapper.optimizer.param_groups):>4}  (goal: 0 warnings, '
              'one INFO line with the counts)')
        if constructor:
            line = [r.getMessage() for r in records if 'frozen tensors' in
                    r.getMessage()]
            print(f'    INFO: {line[0] if line else "(missing)"}')


# --------------------------------------------------------------------- ddp
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, args, out) -> None:
    import torch
    import torch.distributed as dist
    from mmpretrain.structures import DataSample
    from torch.nn.parallel import DistributedDataParallel as DDP

    from mmpad.core.adapters import iter_adapters
    from mmpad.pad.delayed_scale_hook import DelayedScaleHook
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    runs = {}
    for name, in_graph in (('old', False), ('new', True)):
        torch.manual_seed(0)
        model = build_mae(args.arch, pad=True, img=args.ddp_img).train()
        for a in iter_adapters(model):
            a.hold_in_graph = in_graph
        ddp = DDP(model, find_unused_parameters=not in_graph)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05)
        runner = types.SimpleNamespace(
            model=ddp, optim_wrapper=types.SimpleNamespace(optimizer=opt),
            train_loop=object(), max_iters=args.ddp_steps, iter=0, epoch=0,
            logger=logging.getLogger('bench_optim'))
        hook = DelayedScaleHook(hold_until=args.ddp_steps // 2 - 1, by_epoch=False)
        hook.before_train(runner)
        runs[name] = (model, ddp, opt, runner, hook)
    g = torch.Generator().manual_seed(rank)
    x = torch.randn(args.ddp_batch, 3, args.ddp_img, args.ddp_img, generator=g)
    samples = [DataSample() for _ in range(args.ddp_batch)]
    times = {k: [] for k in runs}
    order = list(runs)
    for i in range(args.ddp_steps):
        for name in (order if i % 2 == 0 else order[::-1]):
            model, ddp, opt, runner, hook = runs[name]
            runner.iter = i
            hook.before_train_iter(runner, i)
            dist.barrier()
            t0 = time.perf_counter()
            torch.manual_seed(1000 + 10 * i + rank)  # same masks both ways
            loss = ddp(x, samples, mode='loss')['loss']
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            times[name].append(time.perf_counter() - t0)
    old, new = runs['old'][0].state_dict(), runs['new'][0].state_dict()
    same = all(torch.equal(old[k], new[k]) for k in old)
    if rank == 0:
        out.put(dict(times=times, same=same))
    dist.destroy_process_group()


def bench_ddp(args) -> None:
    import torch.multiprocessing as mp
    print(f'\n== DDP, 2 gloo ranks, PAD-MAE ViT-{args.arch.upper()} at '
          f'{args.ddp_img} px, batch {args.ddp_batch} per rank, '
          f'{args.ddp_steps} steps (first half held) ==')
    ctx = mp.get_context('spawn')
    out = ctx.SimpleQueue()
    mp.spawn(_ddp_worker, args=(2, _free_port(), args, out), nprocs=2, join=True)
    res = out.get()
    t = {k: statistics.median(v[1:]) for k, v in res['times'].items()}
    print(f'  step (wall) find_unused_parameters=True + plain detach '
          f'{t["old"] * 1e3:.0f} ms, False + hold in graph {t["new"] * 1e3:.0f} ms'
          f': ratio {t["new"] / t["old"]:.3f} ({(t["old"] - t["new"]) * 1e3:+.1f} '
          'ms per step saved; goal: measured, removed if exact)')
    print(f'  weights identical after the release: {res["same"]}  (goal: True)')


# ------------------------------------------------------------------ memory
def bench_memory(args) -> None:
    print(f'\n== PAD vs full continual pre-training, MAE ViT-{args.arch.upper()}, '
          'peak memory (bench_pad.py) ==')
    worker = ['--worker', '--arch', args.arch, '--batch', '2', '--steps', '2',
              '--warmup', '1', '--threads', '1']
    pad = bench_pad(*worker, '--mode', 'pad')
    full = bench_pad(*worker, '--mode', 'full')
    mem_p = pad['peak_rss_mb'] - pad['rss_imports_mb']
    mem_f = full['peak_rss_mb'] - full['rss_imports_mb']
    print(f'  peak memory above imports (MB): PAD {mem_p:.0f}, full {mem_f:.0f}: '
          f'ratio {mem_p / mem_f:.3f}  (goal <= 0.70)')


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rows', default=','.join(ROWS),
                   help=f'comma list of {ROWS}')
    p.add_argument('--arch', default='s', choices=['s', 'b', 'l'],
                   help='MAE encoder of the groups, DDP and memory rows')
    p.add_argument('--steps', type=int, default=30, help='timed AdamW steps')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--ddp-img', type=int, default=224)
    p.add_argument('--ddp-batch', type=int, default=1)
    p.add_argument('--ddp-steps', type=int, default=8)
    args = p.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(',') if r.strip()]
    bad = [r for r in rows if r not in ROWS]
    if bad:
        p.error(f'--rows: unknown {bad}; choose from {ROWS}')
    import torch
    torch.set_num_threads(1)
    t0 = time.time()
    for row in rows:
        globals()[f'bench_{row}'](args)
    print(f'\n(total {time.time() - t0:.0f} s)')


if __name__ == '__main__':
    main()
