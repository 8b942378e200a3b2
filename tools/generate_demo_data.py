#!/usr/bin/env python
"""Generate seeded data sets in the real on-disk layouts.

Layouts (folder under OUT):
  demo group (the default, what `make demo` uses; infrared-like, small images):
    msip/  flir/  soda/  mfnet/
  full group (RGB, real image sizes, what the full-size configs read):
    coco/     train2017/, val2017/ (~640x480),
              annotations/instances_{train,val}2017.json
              (80 COCO categories, boxes + polygon / RLE masks), and the AlignDet
              proposals proposals/train2017_ratio3size0008@0.5.json made by
              tools/generate_proposals.py from train2017 (skip with --no-proposals)
    loveDA/   img_dir/{train,val,test}, ann_dir/{train,val} (1024x1024), as after
              mmseg's tools/dataset_converters/loveda.py
    potsdam/  img_dir/{train,val}, ann_dir/{train,val} (512x512 tiles), as after
              mmseg's tools/dataset_converters/potsdam.py

    python tools/generate_demo_data.py data/demo            # demo layouts (seconds)
    python tools/generate_demo_data.py /tmp/d --preset tiny --seed 3
    python tools/generate_demo_data.py data --layouts full  # data/coco, data/loveDA..
    python tools/generate_demo_data.py data/full --layouts coco,loveda,potsdam

With OUT = data the full layouts land where the shipped configs look (data/coco/,
data/loveDA, data/potsdam); elsewhere, point the config at them with
--cfg-options train_dataloader.dataset.data_root=OUT/potsdam (etc.).
Same seed, same files (byte for byte); files already there are overwritten.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time

from mmpad.datasets.synthetic_layouts import (ALIGNDET_PROPOSAL_FILE, LAYOUT_DIRS,
                                              LAYOUT_GROUPS, LAYOUT_PRESETS,
                                              generate_layouts, parse_layouts)

HERE = osp.dirname(osp.abspath(__file__))


def _disk(path: str):
    """(number of files, bytes) under path."""
    n = size = 0
    for d, _, files in os.walk(path):
        for f in files:
            n += 1
            size += osp.getsize(osp.join(d, f))
    return n, size


def write_proposals(coco_root: str, workers: int) -> float:
    """Run tools/generate_proposals.py (AlignDet preset) on coco_root/train2017 and
    write coco_root/ALIGNDET_PROPOSAL_FILE; returns the seconds it took."""
    out = osp.join(coco_root, ALIGNDET_PROPOSAL_FILE)
    # a file or resume log of an earlier generation (other seed) would be reused
    for stale in (out, out + '.progress.jsonl'):
        if osp.exists(stale):
            os.remove(stale)
    t0 = time.time()
    cmd = [sys.executable, osp.join(HERE, 'generate_proposals.py'),
           '--img-dir', osp.join(coco_root, 'train2017'),
           '--ann-file', osp.join(coco_root, 'annotations', 'instances_train2017.json'),
           '--preset', 'aligndet', '--out-json', out, '--workers', str(workers)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0 or not osp.exists(out):
        sys.exit(f'tools/generate_proposals.py failed (exit {res.returncode}) on '
                 f'{coco_root}/train2017:\n{res.stdout[-2000:]}{res.stderr[-2000:]}')
    last = [ln for ln in res.stdout.splitlines() if ln.startswith('wrote ')]
    print(f'  proposals: {last[-1] if last else out} ({time.time() - t0:.1f}s)',
          flush=True)
    return time.time() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('out', nargs='?', default='data/demo', help='output root')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--preset', default='default', choices=sorted(LAYOUT_PRESETS),
                        help='images per layout (tiny: what the unit tests use)')
    parser.add_argument(
        '--layouts', default='demo',
        help=f'comma-separated layouts {sorted(LAYOUT_DIRS)} or groups '
             f'{sorted(LAYOUT_GROUPS)} (default: demo = '
             f'{",".join(LAYOUT_GROUPS["demo"])})')
    parser.add_argument('--no-proposals', action='store_true',
                        help='with coco: do not run tools/generate_proposals.py')
    parser.add_argument('--workers', type=int, default=min(4, os.cpu_count() or 1),
                        help='processes for the proposals (default: min(4, CPUs))')
    args = parser.parse_args(argv)
    try:
        layouts = parse_layouts(args.layouts)
    except ValueError as e:
        parser.error(f'--layouts: {e}')

    def progress(layout, counts, seconds):
        path = osp.join(args.out, LAYOUT_DIRS[layout])
        n, size = _disk(path)
        print(f'{layout:8s} {path}: {counts}  ({n} files, {size / 2**20:.1f} MiB, '
              f'{seconds:.1f}s)', flush=True)
        if layout == 'coco' and not args.no_proposals:
            write_proposals(path, args.workers)

    t0 = time.time()
    generate_layouts(args.out, layouts, seed=args.seed, preset=args.preset,
                     progress=progress)
    print(f'generated {len(layouts)} layout(s) in {time.time() - t0:.1f}s')


if __name__ == '__main__':
    main()
