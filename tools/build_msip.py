#!/usr/bin/env python
"""Build (or validate) the MSIP pre-training tree from its 8 public sources.

Output layout (the one ``MSIPDataset`` reads)::

    OUT/<subset>/thermal/<stem>.jpg      (RoI files come later: tools/generate_proposals.py)

Sources and the raw layout each rule expects (pass each as NAME=PATH; PATH is the
folder the PAD authors' extraction scripts pointed at):

  dronevehicle         DroneVehicle train infrared images: PATH/*.jpg
                       (DroneVehicle/train/trainimgr). Read as grayscale, 100-px border
                       cropped on all sides, original file names kept.       17,990
  scut_fir_pedestrian  SCUT FIR Pedestrian frames: PATH/<set>/<video>/<frame>.jpg
                       ("SCUT FIR Pedestrian Dataset/videos"). Every 10th frame of
                       each video (frames in numeric order), kept only if its
                       maximum grayscale value is > 20.                      21,049
  llvip                LLVIP train infrared images: PATH/*.jpg
                       (LLVIP/infrared/train). All.                          12,025
  aerial               Infrared Aerial Photography images: PATH/*.jpg. Every 2nd
                       image.                                                 5,523
  ship                 Infrared Ship train images: PATH/**/<image>. All.      8,402
  security             Infrared Security images: PATH/**/<image>. All.        8,999
  lsotb_tir            LSOTB-TIR training frames: PATH/<set>/<sequence>/<frame>.jpg
                       (LSOTB-TIR_TrainingData/TrainingData). Every 10th frame per
                       sequence, numeric order.                              52,925
  lasher               LasHeR training set: PATH/<sequence>/infrared/<frame>.jpg
                       (LasHeR/TrainingSet/trainingset). Every 10th infrared frame
                       per sequence, numeric order.                          51,843
                                                                    total  178,756

Every listing is sorted (folders by name, frames by the number in their name): the
PAD scripts used unsorted ``os.listdir`` for folders and LasHeR frames, which made the
selection depend on the file system. All files except
DroneVehicle's get 7-digit ids (``0000000.jpg``) in that order; copies keep the
source bytes (extension lower-cased). A re-run skips files already written, so an
interrupted build can be resumed.

Examples::

    python tools/build_msip.py --out data/MSIP \\
        --source dronevehicle=/data/DroneVehicle/train/trainimgr \\
        --source lasher=/data/LasHeR/TrainingSet/trainingset --workers 8
    python tools/build_msip.py --validate data/MSIP --check-images
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import os.path as osp
import re
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import cv2

from mmpad.core.atomic_file import atomic_write, copy_atomic

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(it, **kwargs):
        return it

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')

#: image counts of the full sources (sum 178,756, MSIP's size in the PAD paper)
EXPECTED = {'dronevehicle': 17990, 'scut_fir_pedestrian': 21049, 'llvip': 12025,
            'aerial': 5523, 'ship': 8402, 'security': 8999, 'lsotb_tir': 52925,
            'lasher': 51843}


def natural_key(name: str):
    """Sort key comparing the digit runs of a name as numbers ('i2' < 'i10')."""
    return [(0, int(t), '') if t.isdigit() else (1, 0, t)
            for t in re.split(r'(\d+)', name) if t != '']


def _images_in(folder: str) -> List[str]:
    names = [n for n in os.listdir(folder)
             if n.lower().endswith(IMG_EXTS) and not n.startswith('.')]
    return [osp.join(folder, n) for n in sorted(names, key=natural_key)]


def _subdirs(folder: str) -> List[str]:
    return [osp.join(folder, d) for d in sorted(os.listdir(folder), key=natural_key)
            if osp.isdir(osp.join(folder, d))]


def _walk_images(folder: str) -> List[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort(key=natural_key)
        out.extend(osp.join(root, f) for f in sorted(files, key=natural_key)
                   if f.lower().endswith(IMG_EXTS) and not f.startswith('.'))
    return out


# ------------------------------------------------------------------ the 8 rules
@dataclass
class Rule:
    """How one source becomes an MSIP subset."""
    list_candidates: Callable[[str], List[str]]   # ordered source files
    op: str = 'copy'                              # 'copy' or 'crop_border'
    min_max_value: Optional[int] = None           # keep only if img.max() > this
    keep_names: bool = False                      # DroneVehicle keeps its names
    doc: str = ''


def _every(paths: List[str], k: int) -> List[str]:
    return paths[::k]


def _per_sequence(root: str, depth_dirs: Callable[[str], List[str]], k: int):
    out = []
    for seq in depth_dirs(root):
        out.extend(_every(_images_in(seq), k))
    return out


RULES: Dict[str, Rule] = {
    'dronevehicle': Rule(_images_in, op='crop_border', keep_names=True,
                         doc='all, 100-px border cropped'),
    'scut_fir_pedestrian': Rule(
        lambda p: _per_sequence(p, lambda r: [v for s in _subdirs(r)
                                              for v in _subdirs(s)], 10),
        min_max_value=20, doc='every 10th frame per video, max > 20'),
    'llvip': Rule(_images_in, doc='all'),
    'aerial': Rule(lambda p: _every(_images_in(p), 2), doc='every 2nd image'),
    'ship': Rule(_walk_images, doc='all'),
    'security': Rule(_walk_images, doc='all'),
    'lsotb_tir': Rule(
        lambda p: _per_sequence(p, lambda r: [v for s in _subdirs(r)
                                              for v in _subdirs(s)], 10),
        doc='every 10th frame per sequence'),
    'lasher': Rule(
        lambda p: _per_sequence(p, lambda r: [osp.join(v, 'infrared')
                                              for v in _subdirs(r)
                                              if osp.isdir(osp.join(v, 'infrared'))],
                                10),
        doc='every 10th infrared frame per sequence'),
}


# ------------------------------------------------------------------ workers
def _check_max(args: Tuple[str, int]) -> Tuple[str, Optional[bool], str]:
    path, thr = args
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        return path, None, 'cannot decode image'
    return path, bool(img.max() > thr), ''


def _write(args: Tuple[str, str, str]) -> Tuple[str, str]:
    """Returns (status, message): status in done / skipped / error."""
    src, dst, op = args
    if osp.exists(dst):
        return 'skipped', ''
    try:
        if op == 'crop_border':
            img = cv2.imread(src, cv2.IMREAD_GRAYSCALE)
            if img is None:
                return 'error', f'{src}: cannot decode image'
            if img.shape[0] <= 200 or img.shape[1] <= 200:
                return 'error', f'{src}: {img.shape[1]}x{img.shape[0]} is too small ' \
                                f'to crop a 100-px border'
            ext = osp.splitext(dst)[1]
            ok, buf = cv2.imencode(ext, img[100:-100, 100:-100])
            if not ok:
                return 'error', f'{src}: cannot encode {ext}'
            with atomic_write(dst, 'wb') as f:
                f.write(buf.tobytes())
        else:
            copy_atomic(src, dst)
        return 'done', ''
    except OSError as e:
        return 'error', f'{src}: {e}'


def _pool(workers: int):
    return mp.get_context('fork').Pool(workers) if workers > 1 else None


def _imap(pool, fn, items, desc):
    it = pool.imap(fn, items, chunksize=16) if pool else map(fn, items)
    return tqdm(it, total=len(items), desc=desc, unit='img', leave=False)


def build_subset(name: str, src: str, out_root: str, workers: int = 1,
                 dry_run: bool = False) -> dict:
    """Extract one source; returns counts {selected, written, skipped, errors}."""
    rule = RULES[name]
    if not osp.isdir(src):
        raise FileNotFoundError(f'{name}: source folder {src!r} does not exist')
    candidates = rule.list_candidates(src)
    errors: List[str] = []
    pool = _pool(workers)
    try:
        if rule.min_max_value is not None:
            kept = []
            for path, ok, msg in _imap(pool, _check_max,
                                       [(p, rule.min_max_value) for p in candidates],
                                       f'{name}: check'):
                if ok is None:
                    errors.append(f'{path}: {msg}')
                elif ok:
                    kept.append(path)
            dark = len(candidates) - len(kept) - len(errors)
        else:
            kept, dark = candidates, 0
        out_dir = osp.join(out_root, name, 'thermal')
        jobs = []
        for i, p in enumerate(kept):
            ext = osp.splitext(p)[1].lower()
            dst_name = osp.basename(p) if rule.keep_names else f'{i:07d}{ext}'
            jobs.append((p, osp.join(out_dir, dst_name), rule.op))
        if rule.keep_names:
            names = [osp.basename(j[1]).split('.')[0] for j in jobs]
            if len(set(names)) != len(names):
                raise ValueError(f'{name}: duplicate file stems in {src!r}')
        counts = dict(selected=len(jobs), written=0, skipped=0, dark=dark)
        if not dry_run:
            os.makedirs(out_dir, exist_ok=True)
            for status, msg in _imap(pool, _write, jobs, f'{name}: write'):
                if status == 'error':
                    errors.append(msg)
                else:
                    counts['written' if status == 'done' else 'skipped'] += 1
    finally:
        if pool:
            pool.close()
            pool.join()
    counts['errors'] = errors
    return counts


# ------------------------------------------------------------------ validation
def _decodable(path: str) -> Tuple[str, bool]:
    return path, cv2.imread(path, cv2.IMREAD_UNCHANGED) is not None


def validate(root: str, check_images: bool = False, workers: int = 1) -> int:
    """Check an MSIP tree; prints a table, returns the number of errors."""
    from mmpad.core.proposals.roi_file import RoIFileError, read_roi_file
    if not osp.isdir(root):
        print(f'error: {root!r} is not a directory')
        return 1
    n_err = 0
    total = 0
    print(f'{"subset":22s} {"images":>8s} {"expected":>9s} {"roi files":>10s} '
          f'{"missing":>8s} {"bad lines":>9s}')
    subsets = [d for d in sorted(os.listdir(root)) if osp.isdir(osp.join(root, d))]
    for s in subsets:
        tdir = osp.join(root, s, 'thermal')
        if not osp.isdir(tdir):
            print(f'error: {s}: no thermal/ folder')
            n_err += 1
            continue
        imgs = _images_in(tdir)
        stems = [osp.basename(p).split('.')[0] for p in imgs]
        if len(set(stems)) != len(stems):
            print(f'error: {s}: duplicate stems in {tdir}')
            n_err += 1
        if s in RULES and not RULES[s].keep_names:
            want = [f'{i:07d}' for i in range(len(stems))]
            if stems != want:
                print(f'warning: {s}: file ids are not 0000000..{len(stems) - 1:07d}')
        rdir = osp.join(root, s, 'roi')
        n_roi = missing = bad = 0
        for stem in stems:
            rp = osp.join(rdir, stem + '.txt')
            if not osp.exists(rp):
                missing += 1
                continue
            n_roi += 1
            try:
                _, problems = read_roi_file(rp)
            except RoIFileError as e:
                problems = [str(e)]
            if problems:
                bad += len(problems)
                if bad <= 5:
                    print(f'warning: {problems[0]}')
        if check_images:
            pool = _pool(workers)
            try:
                for path, ok in _imap(pool, _decodable, imgs, f'{s}: decode'):
                    if not ok:
                        print(f'error: unreadable image {path}')
                        n_err += 1
            finally:
                if pool:
                    pool.close()
                    pool.join()
        exp = EXPECTED.get(s)
        print(f'{s:22s} {len(imgs):8d} {exp if exp else "-":>9} {n_roi:10d} '
              f'{missing:8d} {bad:9d}')
        total += len(imgs)
    print(f'{"total":22s} {total:8d} {sum(EXPECTED.values()):9d}')
    print(f'{n_err} error(s)')
    return n_err


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', help='MSIP root to write')
    p.add_argument('--source', action='append', default=[], metavar='NAME=PATH',
                   help=f'a source folder; NAME in {", ".join(RULES)}')
    p.add_argument('--workers', type=int, default=max(1, (os.cpu_count() or 2) // 2))
    p.add_argument('--dry-run', action='store_true',
                   help='only list and count what would be written')
    p.add_argument('--validate', metavar='ROOT', help='validate an existing MSIP tree')
    p.add_argument('--check-images', action='store_true',
                   help='with --validate: decode every image')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.validate:
        return 1 if validate(args.validate, args.check_images, args.workers) else 0
    if not args.out or not args.source:
        print('error: give --out and at least one --source NAME=PATH (or --validate)')
        return 2
    sources = {}
    for s in args.source:
        if '=' not in s:
            print(f'error: --source {s!r} is not NAME=PATH')
            return 2
        name, path = s.split('=', 1)
        if name not in RULES:
            print(f'error: unknown source {name!r}; choose from {", ".join(RULES)}')
            return 2
        sources[name] = path
    total = 0
    n_err = 0
    rows = []
    for name in RULES:                      # fixed order
        if name not in sources:
            continue
        c = build_subset(name, sources[name], args.out, args.workers, args.dry_run)
        for e in c['errors'][:20]:
            print(f'error: {e}')
        n_err += len(c['errors'])
        total += c['selected']
        rows.append((name, c))
    print(f'{"subset":22s} {"rule":42s} {"images":>8s} {"expected":>9s} '
          f'{"written":>8s} {"existing":>8s} {"errors":>6s}')
    for name, c in rows:
        print(f'{name:22s} {RULES[name].doc:42s} {c["selected"]:8d} '
              f'{EXPECTED[name]:9d} {c["written"]:8d} {c["skipped"]:8d} '
              f'{len(c["errors"]):6d}'
              + (f'  ({c["dark"]} dark frames dropped)' if c['dark'] else ''))
    print(f'{"total":22s} {"":42s} {total:8d} '
          f'{sum(EXPECTED[n] for n, _ in rows):9d}')
    return 1 if n_err else 0


if __name__ == '__main__':
    sys.exit(main())
