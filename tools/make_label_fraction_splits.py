#!/usr/bin/env python
"""Write label-fraction split files: for every seed, a random order of
the training images; the f % subset is its first ceil(f/100·N) names (at least one),
so the subsets of one seed are nested (1 % ⊂ 5 % ⊂ ... ⊂ 100 %).

Each file lists image names without extension, one per line, sorted: the format of
mmseg's ``ann_file`` (``BaseSegDataset``). Shared by every method's fine-tuning.

Examples::

    # LoveDA after tools/dataset_converters/loveda.py: data/loveDA/img_dir/train/*.png
    python tools/make_label_fraction_splits.py data/loveDA/img_dir/train \\
        --out-dir data/loveDA/splits
    # an existing list (SODA-style VOC layout)
    python tools/make_label_fraction_splits.py data/soda/JPEGImages \\
        --ann-file data/soda/ImageSets/Segmentation/train_infrared.txt \\
        --out-dir data/soda/splits
"""
from __future__ import annotations

import argparse
import math
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp')
DEFAULT_FRACTIONS = (1, 5, 10, 25, 50, 100)


def list_images(img_dir: str, suffixes: Sequence[str] = IMG_EXTENSIONS) -> List[str]:
    """Image names (relative to ``img_dir``, no extension), sorted."""
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'{img_dir}: image folder does not exist')
    names = []
    for root, dirs, files in os.walk(img_dir):
        dirs.sort()
        for f in files:
            stem, ext = osp.splitext(f)
            if ext.lower() in suffixes and not f.startswith('.'):
                names.append(osp.relpath(osp.join(root, stem), img_dir))
    return sorted(names)


def read_names(ann_file: str, img_dir: Optional[str] = None) -> List[str]:
    """Names in a split file; with ``img_dir``, checks every name has an image."""
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{ann_file}: split file does not exist')
    with open(ann_file) as f:
        names = [osp.splitext(n.strip())[0] if osp.splitext(n.strip())[1].lower()
                 in IMG_EXTENSIONS else n.strip() for n in f if n.strip()]
    if img_dir is not None:
        have = set(list_images(img_dir))
        missing = [n for n in names if n not in have]
        if missing:
            raise FileNotFoundError(f'{ann_file}: {len(missing)} names have no image '
                                    f'in {img_dir}, e.g. {missing[:3]}')
    return sorted(set(names))


def fraction_subsets(names: Sequence[str], fractions: Sequence[float],
                     seed: int) -> Dict[float, List[str]]:
    """Nested subsets of ``names`` for one seed, each sorted."""
    order = np.random.default_rng(seed).permutation(len(names))
    out = {}
    for f in fractions:
        if not 0 < f <= 100:
            raise ValueError(f'fraction {f} is not in (0, 100]')
        k = max(1, math.ceil(f / 100 * len(names) - 1e-9))
        out[f] = sorted(names[i] for i in order[:k])
    return out


def split_name(prefix: str, fraction: float, seed: int) -> str:
    frac = f'{fraction:g}'.replace('.', 'p')
    return f'{prefix}_{frac}pct_seed{seed}.txt'


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Write label-fraction split files')
    p.add_argument('img_dir', help='folder of the training images')
    p.add_argument('--out-dir', required=True, help='where the split files go')
    p.add_argument('--ann-file', default=None,
                   help='start from this list of names instead of the whole folder')
    p.add_argument('--fractions', type=float, nargs='+', default=DEFAULT_FRACTIONS,
                   help='percentages (default: 1 5 10 25 50 100)')
    p.add_argument('--seeds', type=int, nargs='+', default=(0, 1, 2))
    p.add_argument('--prefix', default='train', help='file name prefix')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm
    try:
        names = read_names(args.ann_file, args.img_dir) if args.ann_file \
            else list_images(args.img_dir)
    except FileNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if not names:
        print(f'error: no images found in {args.img_dir}', file=sys.stderr)
        return 2
    os.makedirs(args.out_dir, exist_ok=True)
    rows = []
    for seed in tqdm(args.seeds, desc='seeds'):
        for f, subset in fraction_subsets(names, args.fractions, seed).items():
            path = osp.join(args.out_dir, split_name(args.prefix, f, seed))
            with open(path, 'w') as fh:
                fh.write('\n'.join(subset) + '\n')
            rows.append((seed, f, len(subset), path))
    print(f'{len(names)} training images from '
          f'{args.ann_file or args.img_dir}')
    for seed, f, n, path in rows:
        print(f'  seed {seed}  {f:>5g} %  {n:>6d} images  {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
