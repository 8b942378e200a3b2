#!/usr/bin/env python
"""Generate the embedded infrared-like data sets (MSIP, FLIR, SODA, MFNet layouts).

    python tools/generate_demo_data.py data/demo            # default size (seconds)
    python tools/generate_demo_data.py /tmp/d --preset tiny --seed 3
"""
import argparse
import os.path as osp
import time

from mmpad.datasets.synthetic import PRESETS, generate_all


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('out', nargs='?', default='data/demo', help='output root')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--preset', default='default', choices=sorted(PRESETS))
    args = parser.parse_args(argv)
    t0 = time.time()
    counts = generate_all(args.out, seed=args.seed, preset=args.preset)
    for name, c in counts.items():
        print(f'{name:6s} {osp.join(args.out, name)}: {c}')
    print(f'generated in {time.time() - t0:.1f}s')


if __name__ == '__main__':
    main()
