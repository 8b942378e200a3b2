"""Deterministic generator of small infrared-like data sets in the real on-disk layouts.

Scenes are 8-bit grayscale "thermal" images: a cool sky, a mid-temperature ground and
road, buildings and trees at mid temperature, and warm objects (people, cars,
bicycles) with hot spots, then optical blur, vignetting, a random gain/offset (varying
contrast) and sensor noise. Every pixel's class is known, so the same scenes serve as
detection (boxes), segmentation (label maps) and unlabelled pre-training data.

Layouts written (``root`` is the output directory)::

    root/msip/<subset>/thermal/0000000.jpg                         MSIP
    root/flir/{train,val}/thermal_8_bit/FLIR_00001.jpeg            FLIR ADAS v1
    root/flir/{train,val}/thermal_annotations.json                 COCO, ids 1-3
    root/soda/JPEGImages/*.jpg, SegmentationClass/*.png,
    root/soda/ImageSets/Segmentation/{train,test}_infrared.txt      SODA (VOC-style)
    root/mfnet/thermal_imgs/*.png, labels/*.png,
    root/mfnet/{train,val_test,test}.txt                           MFNet (thermal only)

The COCO, LoveDA and Potsdam layouts (RGB, at the real image sizes) are written by
:mod:`mmpad.datasets.synthetic_layouts`.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import cv2
import numpy as np

# the data sets' classes (also importable from here): the renderer labels with
# SODA ids (0 = background)
from mmpad.datasets.class_names import (  # noqa: F401  (MFNET_CLASSES)
    FLIR_CLASSES, MFNET_CLASSES, SODA_CLASSES)

_S = {name: i for i, name in enumerate(SODA_CLASSES)}
# SODA id -> MFNet id (everything else is "unlabelled").
_SODA_TO_MFNET = {_S['car']: 1, _S['person']: 2, _S['bicycle']: 3,
                  _S['trafficCone']: 7}
# Object kind -> FLIR category id.
_FLIR_IDS = {'person': 1, 'bicycle': 2, 'car': 3}


@dataclass
class Scene:
    """One rendered scene: an 8-bit thermal image, its SODA label map, boxes and
    the instance masks of the boxed objects (same order as ``boxes``)."""
    image: np.ndarray                     # (H, W) uint8
    labels: np.ndarray                    # (H, W) uint8, SODA ids
    boxes: List[Tuple[str, Tuple[float, float, float, float]]] = field(
        default_factory=list)             # (kind, (x, y, w, h)) of warm objects
    masks: List[np.ndarray] = field(
        default_factory=list)             # (H, W) bool visible part, one per box


def _draw(canvas: np.ndarray, labels: np.ndarray, mask: np.ndarray, temp: float,
          cls: int) -> None:
    canvas[mask] = temp
    labels[mask] = cls


def _person(canvas, labels, rng, x, y, h):
    w = max(3, int(h * 0.35))
    m = np.zeros(canvas.shape, np.uint8)
    cv2.ellipse(m, (x, y - h // 2), (w // 2, int(h * 0.4)), 0, 0, 360, 1, -1)
    cv2.circle(m, (x, y - int(h * 0.88)), max(2, w // 3), 1, -1)
    temp = rng.uniform(0.78, 0.95)
    mask = m.astype(bool)
    _draw(canvas, labels, mask, temp, _S['person'])
    return 'person', mask


def _car(canvas, labels, rng, x, y, w):
    h = max(4, int(w * rng.uniform(0.45, 0.6)))
    m = np.zeros(canvas.shape, np.uint8)
    cv2.rectangle(m, (x, y - h), (x + w, y - h // 4), 1, -1)
    cv2.rectangle(m, (x + w // 5, y - h - h // 3), (x + 4 * w // 5, y - h), 1, -1)
    r = max(2, h // 4)
    cv2.circle(m, (x + w // 5, y - r), r, 1, -1)
    cv2.circle(m, (x + 4 * w // 5, y - r), r, 1, -1)
    mask = m.astype(bool)
    _draw(canvas, labels, mask, rng.uniform(0.6, 0.75), _S['car'])
    # hot engine / exhaust and tyres
    hot = np.zeros(canvas.shape, np.uint8)
    cv2.rectangle(hot, (x + w - w // 4, y - h), (x + w, y - h // 2), 1, -1)
    cv2.circle(hot, (x + w // 5, y - r), max(1, r // 2), 1, -1)
    cv2.circle(hot, (x + 4 * w // 5, y - r), max(1, r // 2), 1, -1)
    canvas[hot.astype(bool) & mask] = rng.uniform(0.85, 1.0)
    return 'car', mask


def _bicycle(canvas, labels, rng, x, y, w):
    r = max(3, w // 4)
    m = np.zeros(canvas.shape, np.uint8)
    t = max(1, r // 3)
    cv2.circle(m, (x + r, y - r), r, 1, t)
    cv2.circle(m, (x + w - r, y - r), r, 1, t)
    cv2.line(m, (x + r, y - r), (x + w // 2, y - 2 * r), 1, t)
    cv2.line(m, (x + w - r, y - r), (x + w // 2, y - 2 * r), 1, t)
    cv2.line(m, (x + w // 2, y - 2 * r), (x + w // 2, y - r), 1, t)
    mask = m.astype(bool)
    _draw(canvas, labels, mask, rng.uniform(0.7, 0.85), _S['bicycle'])
    return 'bicycle', mask


def render_scene(rng: np.random.Generator, height: int = 256, width: int = 320,
                 max_objects: int = 6) -> Scene:
    """Render one infrared-like street scene.

    Args:
        rng: the random generator (all randomness comes from it).
        height, width: image size in pixels.
        max_objects: upper bound of warm objects (people, cars, bicycles).
    """
    H, W = height, width
    canvas = np.zeros((H, W), np.float32)
    labels = np.zeros((H, W), np.uint8)
    horizon = int(H * rng.uniform(0.3, 0.5))
    # sky: cool, slightly brighter near the horizon
    sky = np.linspace(0.05, 0.2, horizon, dtype=np.float32)[:, None]
    canvas[:horizon] = sky
    labels[:horizon] = _S['sky']
    # ground: grass, with a road band and a sidewalk
    canvas[horizon:] = rng.uniform(0.25, 0.35)
    labels[horizon:] = _S['grass']
    road_top = horizon + int((H - horizon) * rng.uniform(0.25, 0.45))
    canvas[road_top:] = rng.uniform(0.4, 0.5)
    labels[road_top:] = _S['road']
    sw = max(2, (H - horizon) // 10)
    canvas[road_top - sw:road_top] = 0.45
    labels[road_top - sw:road_top] = _S['sidewalk']
    # buildings and trees on the horizon
    x = 0
    while x < W:
        bw = int(rng.integers(W // 10, W // 4))
        if rng.random() < 0.6:
            bh = int(rng.integers(horizon // 3, max(horizon // 3 + 1, horizon)))
            canvas[horizon - bh:horizon, x:x + bw] = rng.uniform(0.3, 0.45)
            labels[horizon - bh:horizon, x:x + bw] = _S['building']
            for wy in range(horizon - bh + 3, horizon - 3, 8):  # warm windows
                for wx in range(x + 3, min(x + bw - 3, W - 3), 8):
                    if rng.random() < 0.3:
                        canvas[wy:wy + 3, wx:wx + 3] = 0.55
        else:
            m = np.zeros((H, W), np.uint8)
            cy = horizon - int(rng.integers(5, max(6, horizon // 2)))
            cv2.ellipse(m, (x + bw // 2, cy), (bw // 2, int(bw * 0.6)), 0, 0, 360, 1,
                        -1)
            m[horizon:] = 0
            tex = 0.22 + 0.08 * rng.random((H, W)).astype(np.float32)
            sel = m.astype(bool)
            canvas[sel] = tex[sel]
            labels[sel] = _S['tree']
        x += bw + int(rng.integers(0, W // 8))
    # poles
    for _ in range(int(rng.integers(0, 3))):
        px = int(rng.integers(0, W - 2))
        canvas[horizon // 2:road_top, px:px + 2] = 0.35
        labels[horizon // 2:road_top, px:px + 2] = _S['pole']
    # warm objects, far (small, high) to near (large, low) so near ones occlude
    objects = []                       # (kind, full mask)
    instance = np.zeros((H, W), np.int32)
    n = int(rng.integers(1, max_objects + 1))
    ys = np.sort(rng.integers(road_top - sw, H, size=n))
    for y in ys:
        depth = (y - horizon) / max(1, H - horizon)        # 0 far .. 1 near
        size = int(np.clip(depth * H * 0.4, 12, H * 0.45))
        kind = rng.choice(['person', 'car', 'bicycle'], p=[0.45, 0.4, 0.15])
        if kind == 'person':
            xc = int(rng.integers(size // 3, W - size // 3))
            obj = _person(canvas, labels, rng, xc, int(y), size)
        elif kind == 'car':
            cw = int(size * 1.4)
            x0 = int(rng.integers(0, max(1, W - cw)))
            obj = _car(canvas, labels, rng, x0, int(y), cw)
        else:
            bw = int(size * 1.1)
            x0 = int(rng.integers(0, max(1, W - bw)))
            obj = _bicycle(canvas, labels, rng, x0, int(y), bw)
        objects.append(obj)
        instance[obj[1]] = len(objects)
    # boxes: tight around the visible part; drop objects mostly hidden by nearer ones
    boxes, masks = [], []
    for i, (kind, mask) in enumerate(objects, start=1):
        visible = instance == i
        if visible.sum() < 0.4 * max(1, mask.sum()):
            continue
        yy_, xx_ = np.nonzero(visible)
        x0, y0, x1, y1 = xx_.min(), yy_.min(), xx_.max() + 1, yy_.max() + 1
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            boxes.append((str(kind), (float(x0), float(y0), float(x1 - x0),
                                      float(y1 - y0))))
            masks.append(visible)
    # sensor: blur, vignetting, gain/offset (contrast), noise, fixed-pattern stripes
    canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.6, 1.4))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r2 = ((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2
    canvas *= 1.0 - rng.uniform(0.1, 0.3) * r2 / 2
    gain, offset = rng.uniform(0.7, 1.3), rng.uniform(-0.1, 0.15)
    canvas = canvas * gain + offset
    canvas += rng.normal(0, rng.uniform(0.01, 0.03), size=(H, W)).astype(np.float32)
    canvas += rng.normal(0, 0.01, size=(1, W)).astype(np.float32)
    image = np.clip(canvas * 255, 0, 255).astype(np.uint8)
    return Scene(image=image, labels=labels, boxes=boxes, masks=masks)


# --------------------------------------------------------------------------- writers
def _scenes(seed: int, n: int, h: int, w: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield render_scene(rng, h, w)


def write_msip(root: str, subsets: Dict[str, int], seed: int = 0,
               size: Tuple[int, int] = (256, 320)) -> Dict[str, int]:
    """MSIP tree ``root/<subset>/thermal/<7-digit id>.jpg``; returns counts."""
    counts = {}
    for k, (subset, n) in enumerate(sorted(subsets.items())):
        out = osp.join(root, subset, 'thermal')
        os.makedirs(out, exist_ok=True)
        for i, sc in enumerate(_scenes(seed * 1000 + k, n, *size)):
            cv2.imwrite(osp.join(out, f'{i:07d}.jpg'), sc.image)
        counts[subset] = n
    return counts


def write_flir(root: str, n_train: int, n_val: int, seed: int = 0,
               size: Tuple[int, int] = (256, 320)) -> Dict[str, int]:
    """FLIR-ADAS-v1-style COCO detection set (person=1, bicycle=2, car=3)."""
    cats = [dict(id=_FLIR_IDS[c], name=c, supercategory='') for c in FLIR_CLASSES]
    counts = {}
    for split, n, s in (('train', n_train, seed * 7 + 1), ('val', n_val, seed * 7 + 2)):
        img_dir = osp.join(root, split, 'thermal_8_bit')
        os.makedirs(img_dir, exist_ok=True)
        images, anns = [], []
        for i, sc in enumerate(_scenes(s, n, *size)):
            name = f'FLIR_{i + 1:05d}.jpeg'
            cv2.imwrite(osp.join(img_dir, name), sc.image)
            images.append(dict(id=i + 1, file_name=f'thermal_8_bit/{name}',
                               height=size[0], width=size[1]))
            for kind, (x, y, w, h) in sc.boxes:
                anns.append(dict(id=len(anns) + 1, image_id=i + 1,
                                 category_id=_FLIR_IDS[kind], bbox=[x, y, w, h],
                                 area=w * h, iscrowd=0))
        with open(osp.join(root, split, 'thermal_annotations.json'), 'w') as f:
            json.dump(dict(images=images, annotations=anns, categories=cats), f)
        counts[split] = n
    return counts


def write_soda(root: str, n_train: int, n_test: int, seed: int = 0,
               size: Tuple[int, int] = (240, 320)) -> Dict[str, int]:
    """SODA-style VOC layout with 21-class label PNGs."""
    for d in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, d), exist_ok=True)
    names = {'train_infrared': [], 'test_infrared': []}
    scenes = _scenes(seed * 7 + 3, n_train + n_test, *size)
    for i, sc in enumerate(scenes):
        name = f'{i:05d}'
        cv2.imwrite(osp.join(root, 'JPEGImages', name + '.jpg'), sc.image)
        cv2.imwrite(osp.join(root, 'SegmentationClass', name + '.png'), sc.labels)
        names['train_infrared' if i < n_train else 'test_infrared'].append(name)
    for split, lst in names.items():
        with open(osp.join(root, 'ImageSets/Segmentation', split + '.txt'), 'w') as f:
            f.write('\n'.join(lst) + '\n')
    return {'train': n_train, 'test': n_test}


def write_mfnet(root: str, n_train: int, n_val: int, n_test: int, seed: int = 0,
                size: Tuple[int, int] = (240, 320)) -> Dict[str, int]:
    """MFNet-style thermal layout with 9-class label PNGs."""
    for d in ('thermal_imgs', 'labels'):
        os.makedirs(osp.join(root, d), exist_ok=True)
    lut = np.zeros(256, np.uint8)
    for s, m in _SODA_TO_MFNET.items():
        lut[s] = m
    splits = {'train': [], 'val_test': [], 'test': []}
    total = n_train + n_val + n_test
    for i, sc in enumerate(_scenes(seed * 7 + 4, total, *size)):
        name = f'{i:05d}{"D" if i % 2 == 0 else "N"}'
        cv2.imwrite(osp.join(root, 'thermal_imgs', name + '.png'), sc.image)
        cv2.imwrite(osp.join(root, 'labels', name + '.png'), lut[sc.labels])
        key = 'train' if i < n_train else ('val_test' if i < n_train + n_val
                                           else 'test')
        splits[key].append(name)
    for split, lst in splits.items():
        with open(osp.join(root, split + '.txt'), 'w') as f:
            f.write('\n'.join(lst) + '\n')
    return {k: len(v) for k, v in splits.items()}


PRESETS = {
    # images per set; 'tiny' is what the unit tests use.
    'tiny': dict(msip={'street': 6, 'aerial': 4}, flir=(8, 4), soda=(8, 4),
                 mfnet=(6, 3, 3)),
    'default': dict(msip={'street': 48, 'aerial': 32, 'security': 24},
                    flir=(64, 24), soda=(48, 16), mfnet=(40, 12, 12)),
}


def generate_all(root: str, seed: int = 0, preset: str = 'default') -> dict:
    """Write every embedded data set under ``root``; returns per-set counts."""
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose from {sorted(PRESETS)}')
    p = PRESETS[preset]
    return dict(
        msip=write_msip(osp.join(root, 'msip'), p['msip'], seed),
        flir=write_flir(osp.join(root, 'flir'), *p['flir'], seed=seed),
        soda=write_soda(osp.join(root, 'soda'), *p['soda'], seed=seed),
        mfnet=write_mfnet(osp.join(root, 'mfnet'), *p['mfnet'], seed=seed))
