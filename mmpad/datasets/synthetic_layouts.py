"""Generated COCO, LoveDA and Potsdam data in the layouts the shipped configs read.

Each layout is written exactly as the original data set looks after its usual
preparation, at the real image sizes, so a shipped config runs on it with only
``data_root`` (or nothing, when ``root`` is ``data``) changed::

    root/coco/train2017/000000000001.jpg, val2017/...            COCO 2017, ~640x480 RGB
    root/coco/annotations/instances_{train,val}2017.json         ids 1..90 (80)
    root/loveDA/img_dir/{train,val,test}/<n>.png                 1024x1024 RGB
    root/loveDA/ann_dir/{train,val}/<n>.png                      0 = no data, 1..7
    root/potsdam/img_dir/{train,val}/<i>_<j>_<x0>_<y0>_<x1>_<y1>.png   512x512 RGB
    root/potsdam/ann_dir/{train,val}/<same name>.png             0 = boundary, 1..6

* COCO: the category list is COCO's (80 names, ids 1..90 with COCO's gaps), so
  mmdet's ``CocoDataset`` maps them to labels 0..79 as for the real file. The scenes
  come from the infrared street renderer (:func:`mmpad.datasets.synthetic.render_scene`)
  tinted per region to RGB; its people, bicycles and cars are annotated as COCO ids
  1, 2, 3 with boxes, polygon masks, ``area`` (mask pixels) and ``iscrowd``; in every
  fourth image with two or more objects (the first such image included) the
  farthest object is a crowd region (``iscrowd=1``) with an uncompressed RLE mask, as
  COCO's crowd annotations are. The AlignDet proposals file
  (:data:`ALIGNDET_PROPOSAL_FILE`, under ``root/coco``) is made from ``train2017`` by
  ``tools/generate_proposals.py`` (``tools/generate_demo_data.py`` runs it).
* LoveDA: as after mmseg's ``tools/dataset_converters/loveda.py``; masks hold 0 for
  no-data (black image pixels in a strip along one border of every other image)
  and 1..7 for the seven classes of
  ``LoveDADataset``; its ``reduce_zero_label=True`` maps them to 255 and 0..6.
* Potsdam: as after mmseg's ``tools/dataset_converters/potsdam.py`` (512x512 tiles of
  the 6000x6000 areas, named by area and tile box, the converter's train / val area
  split); masks hold 1..6 for the six classes of ``PotsdamDataset`` and 0 on a thin
  band along class boundaries (the black boundary of the eroded ISPRS labels); its
  ``reduce_zero_label=True`` maps them to 0..5 and 255.

The aerial scenes are drawn top-down: a ground class, roads, fields, forest, water,
buildings and cars as filled shapes in class colours, with texture, shading and blur.
All randomness comes from ``seed``: the same seed writes byte-identical files.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmpad.datasets.class_names import SODA_CLASSES
from mmpad.datasets.synthetic import (PRESETS, render_scene, write_flir, write_mfnet,
                                      write_msip, write_soda)

#: COCO 2017's 80 categories: (id, name), in id order (ids 1..90 with COCO's gaps).
COCO_CATEGORIES: Tuple[Tuple[int, str], ...] = tuple(zip(
    (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
     24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47,
     48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70,
     72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90),
    ('person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck',
     'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench',
     'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra',
     'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
     'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove',
     'skateboard', 'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup',
     'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
     'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
     'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse',
     'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
     'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
     'hair drier', 'toothbrush')))
# COCO's supercategories by id range (first id of each)
_SUPER = ((1, 'person'), (2, 'vehicle'), (10, 'outdoor'), (16, 'animal'),
          (27, 'accessory'), (34, 'sports'), (44, 'kitchen'), (52, 'food'),
          (62, 'furniture'), (72, 'electronic'), (78, 'appliance'), (84, 'indoor'))
_COCO_IDS = {'person': 1, 'bicycle': 2, 'car': 3}
#: The AlignDet proposals file, relative to the COCO root, that the AlignDet
#: pre-training configs read (``aligndet_proposal_file``).
ALIGNDET_PROPOSAL_FILE = 'proposals/train2017_ratio3size0008@0.5.json'
# COCO image sizes (h, w), cycled: landscape, the frequent 427x640, portrait
_COCO_SIZES = ((480, 640), (427, 640), (640, 480))

#: LoveDA mask values (0 = no data) and the first image number of each split,
#: as in the released data (Train 0.., Val 2522.., Test 4191..).
LOVEDA_CLASSES = ('background', 'building', 'road', 'water', 'barren', 'forest',
                  'agricultural')
_LOVEDA_START = {'train': 0, 'val': 2522, 'test': 4191}
#: Potsdam mask values 1..6 (0 = boundary) and mmseg's converter's area split.
POTSDAM_CLASSES = ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car',
                   'clutter')
_POTSDAM_AREAS = {'train': ('2_10', '2_11', '2_12', '3_10', '3_11', '3_12'),
                  'val': ('2_13', '2_14', '3_13', '3_14')}
_POTSDAM_AREA_SIZE = 6000

# RGB tint per SODA label for the COCO scenes (the renderer's output is grayscale)
_TINT = np.ones((256, 3), np.float32)
for _name, _rgb in (('sky', (0.8, 0.95, 1.3)), ('grass', (0.85, 1.2, 0.75)),
                    ('tree', (0.7, 1.1, 0.7)), ('road', (1.0, 1.0, 1.0)),
                    ('sidewalk', (1.1, 1.05, 0.95)), ('building', (1.2, 0.95, 0.8)),
                    ('pole', (0.9, 0.9, 0.9)), ('person', (1.25, 0.95, 0.8)),
                    ('car', (1.3, 0.7, 0.7)), ('bicycle', (0.8, 0.8, 1.25))):
    _TINT[SODA_CLASSES.index(_name)] = _rgb


# --------------------------------------------------------------------- COCO
def coco_categories() -> List[dict]:
    """COCO 2017's ``categories`` list (id, name, supercategory)."""
    out = []
    for cid, name in COCO_CATEGORIES:
        sup = [s for first, s in _SUPER if cid >= first][-1]
        out.append(dict(id=cid, name=name, supercategory=sup))
    return out


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """Outer contours of a (H, W) bool mask as COCO polygons ``[x0, y0, x1, ...]``
    (each with at least 3 points)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def mask_to_rle(mask: np.ndarray) -> dict:
    """A (H, W) bool mask as COCO's uncompressed RLE ``{'counts', 'size'}``
    (column-major run lengths, starting with a run of zeros)."""
    h, w = mask.shape
    flat = mask.flatten(order='F').astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]]))
    if flat.size and flat[0]:
        runs = np.concatenate([[0], runs])
    return dict(counts=[int(r) for r in runs], size=[int(h), int(w)])


def _coco_rgb(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(H, W) uint8 thermal image + SODA labels -> (H, W, 3) uint8 RGB."""
    rgb = image[..., None].astype(np.float32) * _TINT[labels]
    return np.clip(rgb + 20, 0, 255).astype(np.uint8)


def write_coco(root: str, n_train: int, n_val: int, seed: int = 0) -> Dict[str, int]:
    """COCO 2017 detection / instance layout; returns images per split."""
    cats = coco_categories()
    counts = {}
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    for split, n, salt in (('train2017', n_train, 1), ('val2017', n_val, 2)):
        img_dir = osp.join(root, split)
        os.makedirs(img_dir, exist_ok=True)
        rng = np.random.default_rng((seed, 101, salt))
        images, anns = [], []
        n_multi = 0                     # images so far with two or more objects
        for i in range(n):
            h, w = _COCO_SIZES[i % len(_COCO_SIZES)]
            sc = render_scene(rng, h, w, max_objects=8)
            img_id = i + 1
            name = f'{img_id:012d}.jpg'
            cv2.imwrite(osp.join(img_dir, name),
                        cv2.cvtColor(_coco_rgb(sc.image, sc.labels), cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 90])
            images.append(dict(id=img_id, file_name=name, height=h, width=w,
                               license=1))
            # the farthest object of every fourth image with >= 2 objects: a crowd
            crowd_k = 0 if len(sc.boxes) > 1 and n_multi % 4 == 0 else -1
            n_multi += len(sc.boxes) > 1
            for k, ((kind, box), mask) in enumerate(zip(sc.boxes, sc.masks)):
                crowd = k == crowd_k
                polys = [] if crowd else mask_to_polygons(mask)
                anns.append(dict(
                    id=len(anns) + 1, image_id=img_id, category_id=_COCO_IDS[kind],
                    segmentation=polys or mask_to_rle(mask),
                    area=float(mask.sum()), bbox=list(box), iscrowd=int(crowd)))
        data = dict(
            info=dict(description=f'mmpad generated COCO-style {split} (seed {seed})',
                      version='1.0', year=2017),
            licenses=[dict(id=1, name='generated', url='')],
            images=images, annotations=anns, categories=cats)
        with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(data, f)
        counts[split] = n
    return counts


# --------------------------------------------------------------------- aerial
def _rot_rect(labels: np.ndarray, rng: np.random.Generator, value: int,
              size: Tuple[int, int]) -> None:
    """Fill a randomly placed and rotated rectangle of side lengths in ``size``."""
    H, W = labels.shape
    cx, cy = rng.uniform(0, W), rng.uniform(0, H)
    a, b = rng.uniform(*size), rng.uniform(*size)
    pts = cv2.boxPoints(((cx, cy), (a, b), rng.uniform(0, 180)))
    cv2.fillPoly(labels, [np.round(pts).astype(np.int32)], int(value))


def _blob(labels: np.ndarray, rng: np.random.Generator, value: int,
          size: Tuple[int, int]) -> None:
    """Fill a random ellipse with semi-axes in ``size``."""
    H, W = labels.shape
    c = (int(rng.integers(0, W)), int(rng.integers(0, H)))
    ax = (int(rng.integers(*size)), int(rng.integers(*size)))
    cv2.ellipse(labels, c, ax, float(rng.uniform(0, 180)), 0, 360, int(value), -1)


def _road(labels: np.ndarray, rng: np.random.Generator, value: int,
          width: Tuple[int, int]) -> None:
    """Draw a road: a thick polyline across the image."""
    H, W = labels.shape
    n = int(rng.integers(2, 5))
    if rng.random() < 0.5:
        xs, ys = np.linspace(0, W, n), rng.uniform(0, H, n)
    else:
        xs, ys = rng.uniform(0, W, n), np.linspace(0, H, n)
    pts = np.stack([xs, ys], 1).round().astype(np.int32)
    cv2.polylines(labels, [pts], False, int(value), int(rng.integers(*width)))


_SHAPES = {'rect': _rot_rect, 'blob': _blob, 'road': _road}


def render_aerial(rng: np.random.Generator, size: int, ground: Sequence[int],
                  layers: Sequence[tuple], colours: Dict[int, Tuple[int, int, int]]
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Render a top-down aerial tile.

    Args:
        rng: the random generator (all randomness comes from it).
        size: tile side in pixels.
        ground: label values to fill the tile with (one is drawn).
        layers: ``(value, shape, (min_count, max_count), size_range)`` drawn in
            order; ``shape`` is ``'rect'``, ``'blob'`` or ``'road'``.
        colours: RGB colour of each label value.

    Returns:
        ``(image, labels)``: (size, size, 3) uint8 RGB and (size, size) uint8.
    """
    labels = np.full((size, size), int(rng.choice(ground)), np.uint8)
    for value, shape, (lo, hi), extent in layers:
        for _ in range(int(rng.integers(lo, hi + 1))):
            _SHAPES[shape](labels, rng, value, extent)
    lut = np.zeros((256, 3), np.float32)
    for v, c in colours.items():
        lut[v] = c
    # per-region colour jitter, texture, low-frequency shading, optical blur
    lut *= rng.uniform(0.85, 1.15, size=(256, 1)).astype(np.float32)
    img = lut[labels]
    img += rng.normal(0, 10, size=img.shape).astype(np.float32)
    shade = cv2.resize(rng.uniform(0.85, 1.15, (6, 6)).astype(np.float32),
                       (size, size), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(img * shade[..., None], (0, 0), 0.8)
    return np.clip(img, 0, 255).astype(np.uint8), labels


def _write_png_pair(img_path: str, ann_path: Optional[str], image: np.ndarray,
                    labels: np.ndarray) -> None:
    cv2.imwrite(img_path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if ann_path is not None:
        cv2.imwrite(ann_path, labels)


def write_loveda(root: str, n_train: int, n_val: int, n_test: int = 0,
                 seed: int = 0, size: int = 1024) -> Dict[str, int]:
    """LoveDA layout after mmseg's converter (test split: images only)."""
    bg, bld, road, water, barren, forest, agri = range(1, 8)
    colours = {0: (0, 0, 0), bg: (150, 142, 128), bld: (178, 160, 150),
               road: (112, 112, 116), water: (42, 70, 104), barren: (172, 150, 112),
               forest: (44, 82, 44), agri: (112, 142, 72)}
    layers = ((agri, 'rect', (1, 4), (150, 500)), (barren, 'blob', (0, 2), (40, 160)),
              (forest, 'blob', (1, 4), (60, 220)), (water, 'blob', (0, 2), (50, 200)),
              (road, 'road', (1, 3), (8, 24)), (bld, 'rect', (5, 40), (12, 60)))
    counts = {}
    for salt, (split, n) in enumerate((('train', n_train), ('val', n_val),
                                       ('test', n_test))):
        if n == 0 and split == 'test':
            continue
        img_dir = osp.join(root, 'img_dir', split)
        ann_dir = osp.join(root, 'ann_dir', split) if split != 'test' else None
        for d in (img_dir, ann_dir):
            if d:
                os.makedirs(d, exist_ok=True)
        rng = np.random.default_rng((seed, 202, salt))
        for i in range(n):
            image, labels = render_aerial(rng, size, (bg, agri), layers, colours)
            if i % 2 == 0:      # a no-data strip along one border: 0, black
                width = int(rng.integers(size // 20, size // 6))
                side = int(rng.integers(4))
                sl = [(slice(0, width), slice(None)),
                      (slice(-width, None), slice(None)),
                      (slice(None), slice(0, width)),
                      (slice(None), slice(-width, None))][side]
                labels[sl] = 0
                image[sl] = 0
            name = f'{_LOVEDA_START[split] + i}.png'
            _write_png_pair(osp.join(img_dir, name),
                            ann_dir and osp.join(ann_dir, name), image, labels)
        counts[split] = n
    return counts


def write_potsdam(root: str, n_train: int, n_val: int, seed: int = 0,
                  size: int = 512) -> Dict[str, int]:
    """Potsdam layout after mmseg's converter (512x512 tiles)."""
    imp, bld, low, tree, car, clutter = range(1, 7)
    colours = {imp: (168, 166, 160), bld: (196, 122, 98), low: (96, 142, 64),
               tree: (42, 92, 42), car: (60, 60, 150), clutter: (124, 102, 82)}
    layers = ((low, 'rect', (1, 3), (80, 300)), (imp, 'road', (1, 2), (30, 70)),
              (bld, 'rect', (0, 3), (60, 220)), (tree, 'blob', (1, 8), (10, 40)),
              (clutter, 'blob', (0, 3), (5, 20)), (car, 'rect', (0, 8), (10, 40)))
    cols = -(-_POTSDAM_AREA_SIZE // size)
    counts = {}
    kernel = np.ones((3, 3), np.uint8)
    for salt, (split, n) in enumerate((('train', n_train), ('val', n_val))):
        img_dir = osp.join(root, 'img_dir', split)
        ann_dir = osp.join(root, 'ann_dir', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        rng = np.random.default_rng((seed, 303, salt))
        areas = _POTSDAM_AREAS[split]
        for k in range(n):
            image, labels = render_aerial(rng, size, (imp, low), layers, colours)
            # the eroded labels' black boundary band -> 0
            edge = cv2.dilate(labels, kernel) != cv2.erode(labels, kernel)
            labels[edge] = 0
            area, t = areas[k % len(areas)], k // len(areas)
            x0 = min((t % cols) * size, _POTSDAM_AREA_SIZE - size)
            y0 = min((t // cols) * size, _POTSDAM_AREA_SIZE - size)
            name = f'{area}_{x0}_{y0}_{x0 + size}_{y0 + size}.png'
            _write_png_pair(osp.join(img_dir, name), osp.join(ann_dir, name), image,
                            labels)
        counts[split] = n
    return counts


# --------------------------------------------------------------------- all layouts
#: Images per split of each layout, by preset (the demo layouts from
#: :data:`mmpad.datasets.synthetic.PRESETS`).
LAYOUT_PRESETS = {
    'tiny': dict(PRESETS['tiny'], coco=(4, 2), loveda=(2, 1, 1), potsdam=(4, 2)),
    'default': dict(PRESETS['default'], coco=(16, 8), loveda=(8, 4, 2),
                    potsdam=(24, 8)),
}
#: Output folder of each layout under ``root`` (the shipped configs' ``data_root``
#: names below ``data/``).
LAYOUT_DIRS = dict(msip='msip', flir='flir', soda='soda', mfnet='mfnet', coco='coco',
                   loveda='loveDA', potsdam='potsdam')
#: Layout groups accepted wherever a layout list is: 'demo' is what
#: :func:`mmpad.datasets.synthetic.generate_all` writes (``make demo``).
LAYOUT_GROUPS = dict(demo=('msip', 'flir', 'soda', 'mfnet'),
                     full=('coco', 'loveda', 'potsdam'))
LAYOUT_GROUPS['all'] = LAYOUT_GROUPS['demo'] + LAYOUT_GROUPS['full']


def parse_layouts(spec: str) -> List[str]:
    """``'coco,loveda'`` / ``'full'`` / ``'demo,potsdam'`` -> layout names (ordered,
    unique); raises ``ValueError`` naming an unknown entry."""
    out: List[str] = []
    for item in (s.strip() for s in spec.split(',')):
        if not item:
            continue
        names = LAYOUT_GROUPS.get(item, (item, ))
        for name in names:
            if name not in LAYOUT_DIRS:
                raise ValueError(
                    f'unknown layout {item!r}; choose from {sorted(LAYOUT_DIRS)} or a '
                    f'group {sorted(LAYOUT_GROUPS)}')
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError(f'no layout given in {spec!r}')
    return out


def write_layout(root: str, layout: str, seed: int = 0,
                 preset: str = 'default') -> Dict[str, int]:
    """Write one layout under ``root/LAYOUT_DIRS[layout]``; returns its counts.
    The demo layouts are written with the same arguments as ``generate_all``."""
    if preset not in LAYOUT_PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose from '
                         f'{sorted(LAYOUT_PRESETS)}')
    if layout not in LAYOUT_DIRS:
        raise ValueError(f'unknown layout {layout!r}; choose from '
                         f'{sorted(LAYOUT_DIRS)}')
    p = LAYOUT_PRESETS[preset][layout]
    out = osp.join(root, LAYOUT_DIRS[layout])
    writer = dict(msip=lambda: write_msip(out, p, seed),
                  flir=lambda: write_flir(out, *p, seed=seed),
                  soda=lambda: write_soda(out, *p, seed=seed),
                  mfnet=lambda: write_mfnet(out, *p, seed=seed),
                  coco=lambda: write_coco(out, *p, seed=seed),
                  loveda=lambda: write_loveda(out, *p, seed=seed),
                  potsdam=lambda: write_potsdam(out, *p, seed=seed))[layout]
    return writer()


def generate_layouts(root: str, layouts: Iterable[str], seed: int = 0,
                     preset: str = 'default',
                     progress: Optional[Callable[[str, dict, float], None]] = None
                     ) -> Dict[str, Dict[str, int]]:
    """Write the named layouts under ``root``; returns per-layout counts.

    ``progress(layout, counts, seconds)`` is called after each layout.
    """
    result = {}
    for layout in layouts:
        t0 = time.time()
        result[layout] = write_layout(root, layout, seed, preset)
        if progress is not None:
            progress(layout, result[layout], time.time() - t0)
    return result
