"""CPU memory per rank of PAD-MAE pre-training under DDP and under FSDP.

Runs the model of a PAD config (default: the full-size ViT-L/16 PAD-MAE) on 2 gloo
processes for a few training iterations on random images, once wrapped in
``MMDistributedDataParallel`` and once in ``PADFullyShardedDataParallel`` (the
``_fsdp.py`` twins' wrapper), and prints each rank's peak resident memory while
training (the peak is reset after the model is wrapped: every rank builds the full
model before FSDP shards it, as under DDP) and the FSDP / DDP ratio beside the goal.

    python benchmarks/bench_fsdp_memory.py            # ViT-L/16, batch 2, 3 iters
    python benchmarks/bench_fsdp_memory.py \
        --config configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py

The modes run one after the other (2 processes each), not side by side: the
numbers are memory, not time. ``MALLOC_MMAP_THRESHOLD_`` is fixed so that freed
tensors go back to the OS and the resident peak measures what is live.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CFG = 'configs/pad/pad-mae_vit-large-p16_8xb512-amp-coslr-100e_msip.py'
GOAL = 0.6  # FSDP per-rank peak <= 0.6 x DDP's, 2 ranks


def _rss_mib(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process, MiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'/proc/self/status has no {field}')


def _reset_peak() -> None:
    """Reset ``VmHWM`` to the current resident size (Linux >= 4.0)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def worker(args) -> None:
    """One rank: build, wrap, train ``args.iters`` iterations, report memory."""
    import torch
    import torch.distributed as dist
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    import mmpad  # noqa: F401
    from mmpad.engine.fsdp_wrap import PADFullyShardedDataParallel

    dist.init_process_group('gloo')
    rank = dist.get_rank()
    torch.manual_seed(0)
    base = _rss_mib('VmRSS')
    cfg = Config.fromfile(osp.join(REPO, args.config))
    model_cfg = cfg.model.copy()  # as mmengine's Runner builds it
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    built = _rss_mib('VmRSS')
    if args.mode == 'ddp':
        from mmengine.model import MMDistributedDataParallel
        wrapped = MMDistributedDataParallel(model, device_ids=None,
                                            find_unused_parameters=True)
    else:
        wrapped = PADFullyShardedDataParallel(model, device_id='cpu')
    params = [p for p in wrapped.parameters() if p.requires_grad]
    optim = OptimWrapper(torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05))
    size = cfg.train_pipeline[1]['size']
    _reset_peak()
    wrapped_rss = _rss_mib('VmRSS')
    for _ in range(args.iters):
        # a batch as the MAE recipe's default_collate stacks it
        data = dict(inputs=torch.randint(0, 255, (args.batch, 3, size, size),
                                         dtype=torch.uint8),
                    data_samples=[DataSample() for _ in range(args.batch)])
        wrapped.train_step(data, optim)
    out = dict(rank=rank, mode=args.mode, base=base, built=built,
               wrapped=wrapped_rss, peak_train=_rss_mib('VmHWM'),
               trainable=sum(p.numel() for p in model.parameters()
                             if p.requires_grad))
    with open(osp.join(args.out, f'{args.mode}_rank{rank}.json'), 'w') as f:
        json.dump(out, f)
    dist.destroy_process_group()


def run_mode(mode: str, args, out: str) -> list:
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               MALLOC_MMAP_THRESHOLD_='65536', PYTHONPATH=os.pathsep.join(
                   [REPO] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--master_port', str(args.port), osp.abspath(__file__), '--worker',
           '--mode', mode, '--config', args.config, '--iters', str(args.iters),
           '--batch', str(args.batch), '--out', out]
    subprocess.run(cmd, cwd=REPO, env=env, check=True)
    rows = []
    for rank in range(2):
        with open(osp.join(out, f'{mode}_rank{rank}.json')) as f:
            rows.append(json.load(f))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CFG)
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--batch', type=int, default=2, help='images per rank')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--port', type=int, default=29613)
    parser.add_argument('--mode', choices=['ddp', 'fsdp'])
    parser.add_argument('--out')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    out = tempfile.mkdtemp(prefix='bench_fsdp_memory_')
    res = {mode: run_mode(mode, args, out) for mode in ('ddp', 'fsdp')}
    print(f'{osp.basename(args.config)}: 2 gloo ranks, batch {args.batch} per rank, '
          f'{args.iters} iterations, trainable {res["ddp"][0]["trainable"]:,}')
    print('MiB per rank          ' + '   '.join(f'{m}:r{r["rank"]}'.rjust(9)
                                               for m in res for r in res[m]))
    for key, label in (('base', 'before the model'), ('built', 'model built'),
                       ('wrapped', 'after wrapping'),
                       ('peak_train', 'peak while training')):
        print(f'{label:<22}' + '   '.join(f'{r[key]:9.0f}' for m in res
                                          for r in res[m]))
    ddp = max(r['peak_train'] for r in res['ddp'])
    fsdp = max(r['peak_train'] for r in res['fsdp'])
    base = max(r['base'] for m in res for r in res[m])
    print(f'peak while training, max over ranks: DDP {ddp:.0f} MiB, FSDP {fsdp:.0f} '
          f'MiB; FSDP / DDP = {fsdp / ddp:.2f} (goal <= {GOAL})')
    print(f'same less the {base:.0f} MiB of the process before the model: FSDP / '
          f'DDP = {(fsdp - base) / (ddp - base):.2f} (goal <= {GOAL})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
