#!/usr/bin/env python
"""See what the PAD / AlignDet pipelines feed the model: PNGs of RoI crops and proposals.

Two modes:

``rois``       for MSIP images: every RoI of the image (thin green) and ``--crops``
               crops sampled by ObjectSensitiveRandomRoICrop (coloured boxes; thick
               = a "large" crop, dashed grey = fallback RandomResizedCrop), with
               the resized crops in a strip below, in the same colours. The crop
               parameters come from the RoI-crop transform of ``--config``'s
               training pipeline if given, else the transform's (PAD's) defaults.
``proposals``  proposals drawn on images: from a COCO proposals file
               (``--proposals``), from MSIP RoI files, or computed on the fly
               with ``--preset``.

RoIs missing on disk are computed with ``generate_proposals(preset='pad')``.

Examples::

    python tools/browse_pipeline.py rois --msip data/MSIP --num 8 --out browse/
    python tools/browse_pipeline.py proposals --img-dir data/coco/val2017 \\
        --proposals props.json --num 8 --out browse/
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

import cv2
import numpy as np

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(it, **kwargs):
        return it

ROI_COLOUR = (0, 200, 0)
CROP_COLOURS = [(0, 0, 255), (255, 128, 0), (255, 0, 255), (0, 255, 255),
                (128, 0, 255), (0, 128, 255), (255, 255, 0), (128, 255, 0)]
FALLBACK_COLOUR = (160, 160, 160)


def _load_rois(img_path: str, img: np.ndarray) -> np.ndarray:
    from mmpad.core.proposals import generate_proposals, read_roi_file
    from mmpad.pad.msip_layout import roi_path_for
    p = roi_path_for(img_path)
    if osp.exists(p):
        rois, problems = read_roi_file(p)
        for msg in problems[:3]:
            print(f'warning: {msg}')
        return rois
    return generate_proposals(img, 'pad')


def _crop_transform(config: Optional[str]):
    from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop
    if config:
        from mmengine.config import Config
        cfg = Config.fromfile(config)
        pipeline = cfg.train_dataloader.dataset.get('pipeline', [])
        for t in pipeline:
            if t.get('type', '').split('.')[-1] == 'ObjectSensitiveRandomRoICrop':
                kw = {k: v for k, v in t.items() if k != 'type'}
                return ObjectSensitiveRandomRoICrop(**kw)
        print(f'warning: {config} has no ObjectSensitiveRandomRoICrop in its '
              f'training pipeline; using the defaults')
    return ObjectSensitiveRandomRoICrop()


def _dashed_rect(img, x1, y1, x2, y2, colour, step=6):
    for x in range(x1, x2, 2 * step):
        cv2.line(img, (x, y1), (min(x + step, x2), y1), colour, 1)
        cv2.line(img, (x, y2), (min(x + step, x2), y2), colour, 1)
    for y in range(y1, y2, 2 * step):
        cv2.line(img, (x1, y), (x1, min(y + step, y2)), colour, 1)
        cv2.line(img, (x2, y), (x2, min(y + step, y2)), colour, 1)


def render_roi_crops(img: np.ndarray, rois: np.ndarray, transform, n_crops: int,
                     thumb: int = 96) -> np.ndarray:
    """Source image with RoIs and sampled crops on top, crop thumbnails below.

    Returns:
        (H + thumb + 8, max(W, n_crops * (thumb + 4)), 3) uint8 BGR canvas.
    """
    canvas = img.copy()
    for x, y, w, h in np.asarray(rois).reshape(-1, 4).tolist():
        cv2.rectangle(canvas, (x, y), (x + w, y + h), ROI_COLOUR, 1)
    thumbs = []
    for k in range(n_crops):
        before = transform.stats['large_requested']
        res = transform(dict(img=img.copy(), rois=np.asarray(rois).reshape(-1, 4)))
        large = transform.stats['large_requested'] > before
        x1, y1, x2, y2 = (int(v) for v in res['crop_bbox'])
        if res['roi_crop'] == 'roi':
            colour = CROP_COLOURS[k % len(CROP_COLOURS)]
            cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 3 if large else 1)
        else:
            colour = FALLBACK_COLOUR
            _dashed_rect(canvas, x1, y1, x2, y2, colour)
        t = cv2.resize(res['img'], (thumb, thumb), interpolation=cv2.INTER_AREA)
        thumbs.append(cv2.copyMakeBorder(t, 2, 2, 2, 2, cv2.BORDER_CONSTANT,
                                         value=colour))
    h, w = canvas.shape[:2]
    strip_w = len(thumbs) * (thumb + 4)
    out = np.full((h + thumb + 8, max(w, strip_w), 3), 255, np.uint8)
    out[:h, :w] = canvas
    for k, t in enumerate(thumbs):
        out[h + 4:h + 4 + thumb + 4, k * (thumb + 4):(k + 1) * (thumb + 4)] = t
    return out


def render_proposals(img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Proposals drawn on the image, colours cycling in proposal order."""
    canvas = img.copy()
    for k, (x, y, w, h) in enumerate(np.asarray(boxes).reshape(-1, 4).tolist()):
        c = CROP_COLOURS[k % len(CROP_COLOURS)]
        cv2.rectangle(canvas, (int(x), int(y)), (int(x + w), int(y + h)), c, 1)
    cv2.putText(canvas, f'{len(boxes)} proposals', (4, 14),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 0), 1)
    return canvas


def _pick(paths: List[str], num: int) -> List[str]:
    if len(paths) <= num:
        return paths
    idx = np.linspace(0, len(paths) - 1, num).round().astype(int)
    return [paths[i] for i in idx]


def _out_name(root: str, path: str, suffix: str) -> str:
    rel = osp.relpath(path, root).replace(os.sep, '_')
    return osp.splitext(rel)[0] + suffix + '.png'


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('mode', choices=['rois', 'proposals'])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument('--msip', metavar='ROOT', help='MSIP root')
    src.add_argument('--img-dir', metavar='DIR', help='image folder (proposals mode)')
    ap.add_argument('--subsets', help='MSIP subsets, comma-separated')
    ap.add_argument('--proposals', help='COCO proposals json (proposals mode)')
    ap.add_argument('--preset', default=None, choices=['pad', 'aligndet'],
                    help='compute proposals with this preset (proposals mode)')
    ap.add_argument('--config', help='config whose RoI-crop settings to use')
    ap.add_argument('--num', type=int, default=8, help='images to render')
    ap.add_argument('--crops', type=int, default=6, help='crops per image (rois)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='browse', help='output folder')
    args = ap.parse_args(argv)
    from mmpad.core.proposals import generate_proposals
    from mmpad.pad.msip_layout import list_msip_images

    np.random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    root = args.msip or args.img_dir
    if args.msip:
        paths = list_msip_images(args.msip, args.subsets)
    else:
        if args.mode == 'rois':
            ap.error('rois mode needs --msip')
        paths = sorted(osp.join(dp, f) for dp, _, fs in os.walk(root) for f in fs
                       if f.lower().endswith(('.jpg', '.jpeg', '.png', '.bmp')))
    props: Dict[str, list] = {}
    if args.proposals:
        with open(args.proposals) as f:
            try:
                coco = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f'{args.proposals}: malformed JSON ({e})') from e
        by_id = {im['id']: im['file_name'] for im in coco['images']}
        for a in coco['annotations']:
            props.setdefault(by_id[a['image_id']], []).append(a['bbox'])
    transform = _crop_transform(args.config) if args.mode == 'rois' else None
    if transform is not None:
        transform.reset_stats()
    written, skipped = 0, []
    for p in tqdm(_pick(paths, args.num), desc=args.mode, unit='img'):
        img = cv2.imread(p, cv2.IMREAD_COLOR)
        if img is None:
            skipped.append(p)
            continue
        if args.mode == 'rois':
            out = render_roi_crops(img, _load_rois(p, img), transform, args.crops)
            name = _out_name(root, p, '_roi_crops')
        else:
            rel = osp.relpath(p, root)
            if args.proposals:
                boxes = np.asarray(props.get(rel, []))
            elif args.preset or not args.msip:
                boxes = generate_proposals(img, args.preset or 'aligndet')
            else:
                boxes = _load_rois(p, img)
            out = render_proposals(img, boxes)
            name = _out_name(root, p, '_proposals')
        cv2.imwrite(osp.join(args.out, name), out)
        written += 1
    print(f'wrote {written} PNG(s) to {args.out}'
          + (f'; skipped {len(skipped)} unreadable: {skipped[:5]}' if skipped else ''))
    if transform is not None:
        s = transform.get_stats()
        print(f'crops: {s["total"]}, RoI crops {s.get("roi", 0)}, fallback rate '
              f'{s["fallback_rate"]:.2f}, large requested {s.get("large_requested", 0)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
