#!/usr/bin/env python
"""Images/s of a config's train pipeline (dataset + transforms + collate) through a
torch DataLoader with N worker processes, to hold against the model's images/s
(benchmarks/bench_pad.py): is the GPU starved?

The dataset and the collate function are built from ``train_dataloader`` of the
config; samples are drawn with replacement, so a small generated data set serves
any number of batches (its files then sit in the page cache: decode and
transforms are measured, not the disk). The first ``--warmup`` batches (worker
start-up) are not timed. The gpu-check config imports ``gpu_probe_hook``: put
``benchmarks/gpu`` on ``PYTHONPATH`` (run_pad_gpu.sh does).

    python benchmarks/gpu/bench_loader.py benchmarks/gpu/pad-mae_vit-base-p16_gpu-check.py \\
        --data-root data/msip/ --workers 1,16 --batch 256 --batches 8 --json-out l.json
"""
from __future__ import annotations

import argparse
import json
import os
import time


def measure(dataset, collate, workers: int, batch: int, batches: int, warmup: int,
            pin_memory: bool) -> dict:
    """Images/s over ``batches`` batches after ``warmup`` untimed ones."""
    from torch.utils.data import DataLoader, RandomSampler
    import torch
    sampler = RandomSampler(dataset, replacement=True,
                            num_samples=batch * (batches + warmup),
                            generator=torch.Generator().manual_seed(0))
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler,
                        num_workers=workers, collate_fn=collate,
                        pin_memory=pin_memory,
                        prefetch_factor=4 if workers else None)
    it = iter(loader)
    t_start = time.perf_counter()
    for _ in range(warmup):
        next(it)
    t0 = time.perf_counter()
    n = 0
    for data in it:
        n += len(data['inputs'])
    dt = time.perf_counter() - t0
    return dict(workers=workers, batch=batch, images=n, seconds=dt,
                images_per_s=n / dt, startup_s=t0 - t_start)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('--data-root', help='train_dataloader.dataset.data_root')
    p.add_argument('--workers', default='16', help='comma list of worker counts')
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--batches', type=int, default=8, help='timed batches')
    p.add_argument('--warmup', type=int, default=2, help='untimed batches')
    p.add_argument('--json-out')
    args = p.parse_args(argv)
    try:
        args.workers = [int(w) for w in args.workers.split(',') if w.strip()]
    except ValueError:
        p.error(f'--workers: expected a comma list of integers, got {args.workers!r}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch
    import mmpad  # noqa: F401  (registers the MSIP dataset and transforms)
    from mmengine.config import Config
    from mmengine.registry import FUNCTIONS, init_default_scope
    from mmpretrain.registry import DATASETS
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dl_cfg = cfg.train_dataloader
    if args.data_root:
        dl_cfg.dataset.data_root = args.data_root
    dataset = DATASETS.build(dl_cfg.dataset)
    collate_cfg = dl_cfg.get('collate_fn', dict(type='pseudo_collate'))
    collate = FUNCTIONS.get(collate_cfg['type'])
    print(f'bench_loader: {len(dataset)} images in the data set, batch {args.batch}, '
          f'{os.cpu_count()} CPUs; collate {collate_cfg["type"]}', flush=True)
    rows = []
    for w in args.workers:
        row = measure(dataset, collate, w, args.batch, args.batches, args.warmup,
                      pin_memory=torch.cuda.is_available())
        rows.append(row)
        print(f'  workers {w:3d}: {row["images_per_s"]:8.0f} images/s '
              f'({row["images"]} images in {row["seconds"]:.2f} s; start-up + '
              f'{args.warmup} batches {row["startup_s"]:.1f} s)', flush=True)
        if args.json_out:
            with open(args.json_out, 'w') as f:
                json.dump(dict(config=args.config, dataset_len=len(dataset),
                               cpus=os.cpu_count(), rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
