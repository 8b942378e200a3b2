#!/usr/bin/env python
"""Generate selective-search proposals for an image tree (PAD RoIs / AlignDet proposals).

Inputs (one of):
  --msip ROOT        an MSIP tree (<subset>/thermal/<stem>.jpg), optionally --subsets
  --img-dir DIR      any image folder, walked recursively (e.g. COCO train2017);
                     with --ann-file COCO.json only the images listed there, with
                     their ids

Outputs (one or both):
  RoI files          MSIP only (default there): <subset>/roi/<stem>.txt, "x,y,w,h"
  --out-json FILE    COCO-style proposals: one category "selective_search", bbox
                     xywh, images without proposals dropped (AlignDet's format); the
                     generator settings (preset, NMS threshold) are in "info"

Presets (mmpad.core.proposals.PRESETS): 'pad' (scale 600, sigma 0.9, min_size 30; size
>= 600 px, w,h >= 40, aspect <= 3) and 'aligndet' (SoCo: scale 300, sigma 0.9,
min_size 100; w,h >= 32, aspect in [1/3, 3], sqrt-area ratio <= 0.8; NMS 0.5 by
default, --nms none to disable).

Resume: each RoI file is written atomically and every finished image is appended to
FILE.progress.jsonl, so a killed or interrupted run (Ctrl-C) continues where it
stopped when started again with the same arguments. Unreadable images are skipped
and listed in the summary.

Examples::

    python tools/generate_proposals.py --msip data/MSIP --preset pad --workers 8
    python tools/generate_proposals.py --img-dir data/coco/train2017 \\
        --ann-file data/coco/annotations/instances_train2017.json \\
        --preset aligndet --out-json data/coco/proposals/train2017_ratio3size0008@0.5.json
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from mmpad.core.atomic_file import atomic_write
from mmpad.core.proposals import generate_proposals, get_preset, write_roi_file
from mmpad.pad.msip_layout import list_msip_images, roi_path_for

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(it, **kwargs):
        return it

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')

_PRESET = None


def _init_worker(preset) -> None:
    global _PRESET
    _PRESET = preset
    cv2.setNumThreads(1)


def _process(item: Tuple[int, str]) -> Tuple[int, Optional[list], int, int, str]:
    """Worker: (index, path) -> (index, boxes | None, height, width, error)."""
    idx, path = item
    try:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            return idx, None, 0, 0, 'cannot read or decode image'
        boxes = generate_proposals(img, _PRESET)
        return idx, boxes.tolist(), img.shape[0], img.shape[1], ''
    except Exception as e:  # noqa: BLE001 - reported, the run goes on
        return idx, None, 0, 0, f'{type(e).__name__}: {e}'


# ---------------------------------------------------------------- image lists
def list_images(args) -> Tuple[str, List[str], Dict[str, dict]]:
    """(root, relative paths, COCO image records by relative path)."""
    if args.msip:
        root = args.msip
        paths = list_msip_images(root, args.subsets)
        return root, [osp.relpath(p, root) for p in paths], {}
    root = args.img_dir
    if not osp.isdir(root):
        raise FileNotFoundError(f'--img-dir {root!r} is not a directory')
    if args.ann_file:
        with open(args.ann_file) as f:
            try:
                coco = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f'{args.ann_file}: malformed JSON ({e})') from e
        if 'images' not in coco:
            raise ValueError(f'{args.ann_file}: no "images" list')
        records = {im['file_name']: im for im in coco['images']}
        return root, sorted(records), records
    rel = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        rel.extend(osp.relpath(osp.join(dirpath, f), root) for f in sorted(files)
                   if f.lower().endswith(IMG_EXTS) and not f.startswith('.'))
    return root, rel, {}


# ---------------------------------------------------------------- progress log
def load_progress(path: str, meta: dict) -> Dict[str, dict]:
    """Finished images of an earlier run (a torn last line is ignored)."""
    done: Dict[str, dict] = {}
    if not osp.exists(path):
        return done
    with open(path) as f:
        for i, line in enumerate(f):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if 'meta' in rec:
                if rec['meta'] != meta:
                    raise ValueError(
                        f'{path} was written with different settings '
                        f'{rec["meta"]}; now {meta}. Delete it or use the same '
                        f'--preset / --nms.')
                continue
            done[rec['file']] = rec
    return done


def write_coco(out_json: str, records: List[dict], coco_images: Dict[str, dict],
               meta: dict) -> Tuple[int, int]:
    """Write the COCO proposals file atomically; returns (images, dropped)."""
    images, anns = [], []
    dropped = 0
    for i, rec in enumerate(sorted(records, key=lambda r: r['file']), start=1):
        if not rec['boxes']:
            dropped += 1
            continue
        src = coco_images.get(rec['file'], {})
        img_id = src.get('id', i)
        images.append(dict(id=img_id, file_name=rec['file'], height=rec['height'],
                           width=rec['width']))
        for x, y, w, h in rec['boxes']:
            anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=1,
                             bbox=[x, y, w, h], area=w * h, iscrowd=0))
    info = dict(description='selective-search proposals generated by mmpad '
                            'tools/generate_proposals.py',
                **meta, images_without_proposals=dropped)
    data = dict(info=info, images=images, annotations=anns,
                categories=[dict(id=1, name='selective_search',
                                 supercategory='selective_search')])
    with atomic_write(out_json, 'w', encoding='utf-8') as f:
        json.dump(data, f)
    return len(images), dropped


# ---------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--msip', metavar='ROOT', help='MSIP root')
    src.add_argument('--img-dir', metavar='DIR', help='image folder')
    p.add_argument('--subsets', help='MSIP subsets, comma-separated (default: all)')
    p.add_argument('--ann-file', help='COCO json whose images to process (--img-dir)')
    p.add_argument('--preset', default=None, choices=['pad', 'aligndet'],
                   help='default: pad with --msip, aligndet with --img-dir')
    p.add_argument('--nms', default='default',
                   help="NMS IoU threshold or 'none' (default: the preset's)")
    p.add_argument('--no-roi', action='store_true',
                   help='with --msip: do not write RoI files')
    p.add_argument('--out-json', help='COCO-style proposals file to write')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    p.add_argument('--limit', type=int, default=None,
                   help='process at most this many pending images, then stop')
    args = p.parse_args(argv)
    if args.preset is None:
        args.preset = 'pad' if args.msip else 'aligndet'
    if args.ann_file and not args.img_dir:
        p.error('--ann-file needs --img-dir')
    args.write_roi = bool(args.msip) and not args.no_roi
    if not args.write_roi and not args.out_json:
        p.error('nothing to write: give --out-json (or --msip without --no-roi)')
    if args.nms != 'default':
        args.nms = None if args.nms.lower() == 'none' else float(args.nms)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    preset = get_preset(args.preset, args.nms)
    meta = dict(preset=args.preset, params=preset.to_dict(), nms_iou=preset.nms_iou)
    root, rel_paths, coco_images = list_images(args)
    progress_path = args.out_json + '.progress.jsonl' if args.out_json else None
    done_json = load_progress(progress_path, meta) if progress_path else {}

    def is_done(rel: str) -> bool:
        if args.write_roi and not osp.exists(roi_path_for(osp.join(root, rel))):
            return False
        return not progress_path or rel in done_json

    pending = [r for r in rel_paths if not is_done(r)]
    already = len(rel_paths) - len(pending)
    if args.limit is not None:
        pending = pending[:args.limit]
    print(f'{len(rel_paths)} images under {root}: {already} already done, '
          f'{len(pending)} to process (preset {args.preset}, NMS {preset.nms_iou}, '
          f'{args.workers} worker(s))', flush=True)

    # compile / load the numba kernels once before forking
    generate_proposals(np.zeros((8, 8, 3), np.uint8), preset)
    log = None
    if progress_path:
        os.makedirs(osp.dirname(osp.abspath(progress_path)), exist_ok=True)
        new_log = not osp.exists(progress_path)
        log = open(progress_path, 'a')
        if new_log:
            log.write(json.dumps(dict(meta=meta)) + '\n')
            log.flush()
    counts: List[int] = []
    unreadable: List[str] = []
    t0 = time.time()
    interrupted = False
    items = list(enumerate(osp.join(root, r) for r in pending))
    pool = mp.get_context('fork').Pool(args.workers, _init_worker, (preset,)) \
        if args.workers > 1 else None
    if pool is None:
        _init_worker(preset)
    try:
        results = pool.imap_unordered(_process, items, chunksize=1) if pool \
            else map(_process, items)
        for idx, boxes, h, w, err in tqdm(results, total=len(items), unit='img',
                                          desc='proposals'):
            rel = pending[idx]
            if boxes is None:
                unreadable.append(f'{osp.join(root, rel)}: {err}')
                continue
            if args.write_roi:
                write_roi_file(roi_path_for(osp.join(root, rel)), np.asarray(boxes))
            if log:
                log.write(json.dumps(dict(file=rel, height=h, width=w, boxes=boxes))
                          + '\n')
                log.flush()
                done_json[rel] = dict(file=rel, height=h, width=w, boxes=boxes)
            counts.append(len(boxes))
    except KeyboardInterrupt:
        interrupted = True
        print('\ninterrupted: finished images are kept; run again to resume')
    finally:
        if pool:
            pool.terminate()
            pool.join()
        if log:
            log.close()
    dt = time.time() - t0

    print('---- summary ----')
    print(f'images: {len(rel_paths)} total, {already} already done, '
          f'{len(counts)} done now, {len(unreadable)} skipped (unreadable)')
    if unreadable:
        for u in unreadable[:20]:
            print(f'  skipped {u}')
        if len(unreadable) > 20:
            print(f'  ... and {len(unreadable) - 20} more')
    if counts:
        c = np.asarray(counts)
        print(f'proposals per image: mean {c.mean():.1f}, min {c.min()}, '
              f'max {c.max()}, {int((c == 0).sum())} image(s) without proposals; '
              f'{len(counts) / max(dt, 1e-9):.1f} images/s')
    remaining = len(rel_paths) - already - len(counts)
    if args.out_json and not interrupted and remaining - len(unreadable) <= 0:
        n_img, dropped = write_coco(args.out_json, list(done_json.values()),
                                    coco_images, meta)
        print(f'wrote {args.out_json}: {n_img} images, '
              f'{dropped} without proposals dropped')
    elif args.out_json:
        print(f'{remaining} image(s) left; {args.out_json} is written when all are '
              f'done')
    return 130 if interrupted else 0


if __name__ == '__main__':
    sys.exit(main())
