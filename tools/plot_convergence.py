#!/usr/bin/env python
"""Plot validation mIoU against iteration for fine-tuning runs (e.g. the SOP- and
ImageNet-initialised twins) from mmengine's ``vis_data/scalars.json`` logs, and print
the convergence numbers: final mIoU, mIoU at given iterations,
iterations to reach 95 % of the reference run's final mIoU, and their ratio.

Examples::

    python tools/plot_convergence.py \\
        --run ImageNet=work_dirs/deeplabv3plus_r50-d8-in1k_4xb4-10k_loveda-10pct-512x512 \\
        --run SOP=work_dirs/deeplabv3plus_r50-d8-sop_4xb4-10k_loveda-10pct-512x512 \\
        --reference ImageNet --out loveda_10pct.png
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

Curve = List[Tuple[int, float]]


def find_scalars(path: str) -> str:
    """``path`` itself if it is a file, else the newest ``*/vis_data/scalars.json``
    under it (one per training run / timestamp)."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path}: neither a scalars.json nor a work dir')
    found = glob.glob(osp.join(path, '**', 'vis_data', 'scalars.json'),
                      recursive=True)
    if not found:
        raise FileNotFoundError(f'{path}: no */vis_data/scalars.json inside '
                                '(was the run logged with LocalVisBackend?)')
    return max(found, key=osp.getmtime)


def read_curve(path: str, metric: str = 'mIoU') -> Curve:
    """(iteration, value) of every logged ``metric``, sorted by iteration (the
    last value wins when a step was logged twice, e.g. after a resume)."""
    points: Dict[int, float] = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}:{n}: malformed JSON line ({err})') from err
            if metric in row and 'step' in row:
                points[int(row['step'])] = float(row[metric])
    if not points:
        raise ValueError(f'{path}: no "{metric}" entries (validation never ran?)')
    return sorted(points.items())


def value_at(curve: Curve, it: int) -> Optional[float]:
    """Last evaluated value at or before iteration ``it`` (None if none yet)."""
    vals = [v for s, v in curve if s <= it]
    return vals[-1] if vals else None


def iters_to_reach(curve: Curve, target: float) -> Optional[int]:
    """First evaluated iteration with value >= ``target`` (None if never)."""
    return next((s for s, v in curve if v >= target), None)


def plot(curves: Dict[str, Curve], out: str, metric: str, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, curve in curves.items():
        ax.plot([s for s, _ in curve], [v for _, v in curve], marker='o',
                markersize=3, label=name)
    ax.set_xlabel('iteration')
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def parse_run(spec: str) -> Tuple[str, str]:
    if '=' in spec:
        name, path = spec.split('=', 1)
        return name, path
    return osp.basename(osp.normpath(spec)), spec


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='mIoU vs iteration of fine-tuning runs')
    p.add_argument('--run', action='append', required=True, metavar='NAME=PATH',
                   help='a work dir or scalars.json; repeat for every run')
    p.add_argument('--out', required=True, help='PNG to write')
    p.add_argument('--metric', default='mIoU')
    p.add_argument('--reference', default=None,
                   help='run whose final value defines the 95 %% target '
                   '(default: the first run)')
    p.add_argument('--at', type=int, nargs='*', default=(2000, 5000, 10000),
                   help='iterations at which to report the metric')
    p.add_argument('--title', default='')
    return p.parse_args(argv)


def summarize(curves: Dict[str, Curve], reference: str,
              at: Sequence[int]) -> List[str]:
    ref_final = curves[reference][-1][1]
    target = 0.95 * ref_final
    ref_iters = iters_to_reach(curves[reference], target)
    lines = [f'target: 95 % of {reference} final = {target:.2f}']
    for name, curve in curves.items():
        reach = iters_to_reach(curve, target)
        ratio = (f'{reach / ref_iters:.2f}x of {reference}'
                 if reach is not None and ref_iters else 'n/a')
        vals = ', '.join(
            f'@{it}: ' + ('-' if value_at(curve, it) is None
                          else f'{value_at(curve, it):.2f}') for it in at)
        lines.append(f'{name}: final {curve[-1][1]:.2f} at {curve[-1][0]} | '
                     f'best {max(v for _, v in curve):.2f} | {vals} | reaches '
                     f'target at {reach if reach is not None else "never"} ({ratio})')
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm
    curves: Dict[str, Curve] = {}
    try:
        for spec in tqdm(args.run, desc='reading logs'):
            name, path = parse_run(spec)
            if name in curves:
                raise ValueError(f'run name {name!r} given twice')
            curves[name] = read_curve(find_scalars(path), args.metric)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    reference = args.reference or next(iter(curves))
    if reference not in curves:
        print(f'error: --reference {reference!r} is not one of {list(curves)}',
              file=sys.stderr)
        return 2
    plot(curves, args.out, args.metric, args.title)
    for line in summarize(curves, reference, args.at):
        print(line)
    print(f'wrote {args.out} ({len(curves)} runs, '
          f'{sum(len(c) for c in curves.values())} points)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
