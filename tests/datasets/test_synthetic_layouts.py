"""Generated COCO / LoveDA / Potsdam data run through the SHIPPED configs.

The data are made the way a user makes them (``python tools/generate_demo_data.py
OUT --layouts full --preset tiny``); each test then builds a shipped config's train
dataset with only ``data_root`` changed and fetches items through the config's own
train pipeline.
"""
import hashlib
import json
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpad_test_utils import REPO, run_tool

from mmpad.datasets.synthetic_layouts import (ALIGNDET_PROPOSAL_FILE, COCO_CATEGORIES,
                                              generate_layouts, mask_to_rle,
                                              parse_layouts)

MASK_RCNN_FT = 'configs/aligndet/finetune/mask-rcnn_r50-in1k_fpn_8xb2-1x_coco.py'
ALIGNDET_PT = 'configs/aligndet/aligndet_mask-rcnn_r50_fpn_8xb2-12e_coco-proposals.py'
LOVEDA_FT = 'configs/sop/finetune/deeplabv3plus_r50-d8-in1k_4xb4-80k_loveda-512x512.py'
LOVEDA_SOP = 'configs/sop/sop_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py'
POTSDAM_FT = ('configs/sop/finetune/'
              'deeplabv3plus_r50-d8-in1k_4xb4-80k_potsdam-512x512.py')
POTSDAM_SOP = 'configs/sop/sop_deeplabv3plus_r50-d8_1xb16-40k_potsdam-512x512.py'


@pytest.fixture(scope='module')
def full_data(tmp_path_factory):
    """The full layouts (tiny preset, seed 0) written by the CLI, proposals included."""
    root = str(tmp_path_factory.mktemp('full'))
    proc = run_tool(['tools/generate_demo_data.py', root, '--layouts', 'full',
                     '--preset', 'tiny', '--workers', '2'],
                    hang_note='measured: ~15 s on 2 loaded cores')
    return root, proc.stdout


def _build(cfg_path: str, data_root: str, scope: str, part: str = 'train_dataloader'):
    """(dataset, cfg): the shipped config's dataset with only data_root changed."""
    cfg = Config.fromfile(osp.join(REPO, cfg_path))
    cfg[part].dataset.data_root = data_root
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import DATASETS
    else:
        from mmseg.registry import DATASETS
    return DATASETS.build(cfg[part].dataset), cfg


def _digests(root: str) -> dict:
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = osp.join(d, f)
            with open(p, 'rb') as fh:
                out[osp.relpath(p, root)] = hashlib.sha1(fh.read()).hexdigest()
    return out


def _expected_crop(sample, crop: int = 512):
    """Crop size after RandomResize + RandomCrop: the crop, or the resized image
    where that is smaller (mmseg crops without padding)."""
    h, w = sample.ori_shape
    sw, sh = sample.scale_factor
    return min(crop, int(h * sh + 0.5)), min(crop, int(w * sw + 0.5))


# ---------------------------------------------------------------------------- CLI
def test_cli_prints_a_line_per_layout_and_the_proposals(full_data):
    root, out = full_data
    for layout, folder in (('coco', 'coco'), ('loveda', 'loveDA'),
                           ('potsdam', 'potsdam')):
        line = [ln for ln in out.splitlines() if ln.startswith(layout + ' ')]
        assert len(line) == 1 and osp.join(root, folder) in line[0], out
        assert re.search(r'\(\d+ files, [\d.]+ MiB, [\d.]+s\)', line[0]), line
    assert 'proposals: wrote' in out and 'generated 3 layout(s)' in out
    # the demo layouts are not written unless asked for
    assert sorted(os.listdir(root)) == ['coco', 'loveDA', 'potsdam']


def test_layout_names_and_groups():
    assert parse_layouts('full') == ['coco', 'loveda', 'potsdam']
    assert parse_layouts('demo,coco,msip') == ['msip', 'flir', 'soda', 'mfnet', 'coco']
    with pytest.raises(ValueError, match="unknown layout 'cityscapes'"):
        parse_layouts('coco,cityscapes')


# ---------------------------------------------------------------------------- COCO
def test_coco_categories_are_mmdets():
    from mmdet.datasets import CocoDataset
    assert tuple(n for _, n in COCO_CATEGORIES) == CocoDataset.METAINFO['classes']
    ids = [i for i, _ in COCO_CATEGORIES]
    assert len(ids) == 80 and ids[-1] == 90 and 12 not in ids and 83 not in ids


def test_coco_through_mask_rcnn_finetune_pipeline(full_data):
    """Mask R-CNN's stock COCO train set: boxes, bitmap masks from polygons, crowd
    regions (RLE) as ignored instances, labels 0..79 from ids with gaps."""
    root, _ = full_data
    ds, _ = _build(MASK_RCNN_FT, osp.join(root, 'coco') + '/', 'mmdet')
    assert len(ds) == 4
    assert ds.cat_ids == [i for i, _ in COCO_CATEGORIES]
    with open(osp.join(root, 'coco/annotations/instances_train2017.json')) as f:
        coco = json.load(f)
    assert {im['file_name'] for im in coco['images']} == set(
        os.listdir(osp.join(root, 'coco/train2017')))
    assert {a['category_id'] for a in coco['annotations']} <= set(ds.cat_ids)
    crowd = [a for a in coco['annotations'] if a['iscrowd']]
    assert crowd and all(isinstance(a['segmentation']['counts'], list) for a in crowd)
    assert all(isinstance(a['segmentation'], list) and a['area'] > 0
               for a in coco['annotations'] if not a['iscrowd'])
    shapes = {(im['height'], im['width']) for im in coco['images']}
    assert (480, 640) in shapes and len(shapes) > 1
    n_ignored = 0
    for i in range(len(ds)):
        item = ds[i]
        img, sample = item['inputs'], item['data_samples']
        inst = sample.gt_instances
        assert img.shape[0] == 3 and min(img.shape[1:]) == 800   # Resize (1333, 800)
        assert len(inst) > 0 and inst.masks.height == img.shape[1]
        assert int(inst.labels.min()) >= 0 and int(inst.labels.max()) < 80
        assert (inst.masks.areas > 0).all()
        # every mask lies inside its box (1 px tolerance for resizing)
        b = inst.bboxes.tensor.numpy()
        m = inst.masks.masks
        for k in range(len(inst)):
            ys, xs = np.nonzero(m[k])
            assert xs.min() >= b[k, 0] - 2 and xs.max() <= b[k, 2] + 2
            assert ys.min() >= b[k, 1] - 2 and ys.max() <= b[k, 3] + 2
        n_ignored += len(sample.ignored_instances)
    assert n_ignored == len(crowd)


def test_coco_val_set_loads_and_evaluates(full_data):
    """The val split through the config's test pipeline, and its annotation file
    through COCOeval: the ground truth as predictions scores AP 1 for boxes and
    masks; boxes shifted by half their size (control) do not."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    root, _ = full_data
    ds, _ = _build(MASK_RCNN_FT, osp.join(root, 'coco') + '/', 'mmdet',
                   'val_dataloader')
    assert len(ds) == 2 and ds[0]['inputs'].shape[0] == 3
    gt = COCO(osp.join(root, 'coco/annotations/instances_val2017.json'))

    def ap(shift: float, iou_type: str) -> float:
        res = []
        for a in gt.dataset['annotations']:
            if a['iscrowd']:
                continue
            x, y, w, h = a['bbox']
            rle = gt.annToRLE(a)
            res.append(dict(image_id=a['image_id'], category_id=a['category_id'],
                            bbox=[x + shift * w, y + shift * h, w, h], score=1.0,
                            segmentation=dict(size=rle['size'],
                                              counts=rle['counts'].decode())))
        ev = COCOeval(gt, gt.loadRes(res), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        return float(ev.stats[0])

    assert ap(0.0, 'bbox') == pytest.approx(1.0)
    assert ap(0.0, 'segm') == pytest.approx(1.0)
    assert ap(0.5, 'bbox') < 0.5


def test_rle_is_cocos():
    """The crowd masks' RLE decodes with pycocotools to the same mask."""
    from pycocotools import mask as mask_util
    rng = np.random.default_rng(0)
    for first in (0, 1):
        m = rng.random((7, 5)) < 0.5
        m[0, 0] = first
        rle = mask_util.frPyObjects(mask_to_rle(m), 7, 5)
        assert (mask_util.decode(rle).astype(bool) == m).all()


def test_coco_layout_with_wrong_image_folder_fails(full_data, tmp_path):
    """Control: images under train/ instead of train2017/ -> the loader's error."""
    root, _ = full_data
    bad = tmp_path / 'coco'
    shutil.copytree(osp.join(root, 'coco'), bad)
    os.rename(bad / 'train2017', bad / 'train')
    ds, _ = _build(MASK_RCNN_FT, str(bad) + '/', 'mmdet')
    with pytest.raises(FileNotFoundError, match='train2017'):
        ds[0]


def test_aligndet_pretrain_reads_the_generated_proposals(full_data):
    """The AlignDet pre-training config's proposals file name is the one written,
    and its two-view pipeline runs on it."""
    root, _ = full_data
    ds, cfg = _build(ALIGNDET_PT, osp.join(root, 'coco') + '/', 'mmdet')
    assert cfg.aligndet_proposal_file == ALIGNDET_PROPOSAL_FILE
    assert ds.metainfo['classes'] == ('selective_search', )
    with open(osp.join(root, 'coco', ALIGNDET_PROPOSAL_FILE)) as f:
        props = json.load(f)
    with open(osp.join(root, 'coco/annotations/instances_train2017.json')) as f:
        gt = json.load(f)
    # the proposals keep the images' COCO ids and file names
    assert {(i['id'], i['file_name']) for i in props['images']} <= {
        (i['id'], i['file_name']) for i in gt['images']}
    assert len(ds) == len(props['images']) > 0
    item = ds[0]
    on, tg = item['data_samples']['online'], item['data_samples']['target']
    assert item['inputs']['online'].shape[0] == 3 and len(on.gt_instances) > 0
    assert sorted(on.gt_instances.instances_ids.tolist()) == sorted(
        tg.gt_instances.instances_ids.tolist())


# ---------------------------------------------------------------------------- LoveDA
def test_loveda_layout_and_zero_label(full_data):
    """mmseg's converter layout; 0 (no data, black) -> 255, 1..7 -> 0..6."""
    from mmseg.datasets.transforms import LoadAnnotations
    root, _ = full_data
    lv = osp.join(root, 'loveDA')
    assert sorted(os.listdir(osp.join(lv, 'img_dir'))) == ['test', 'train', 'val']
    assert sorted(os.listdir(osp.join(lv, 'ann_dir'))) == ['train', 'val']
    assert sorted(os.listdir(osp.join(lv, 'img_dir/train'))) == ['0.png', '1.png']
    import cv2
    raw = cv2.imread(osp.join(lv, 'ann_dir/train/0.png'), cv2.IMREAD_UNCHANGED)
    img = cv2.imread(osp.join(lv, 'img_dir/train/0.png'), cv2.IMREAD_UNCHANGED)
    assert raw.shape == (1024, 1024) and img.shape == (1024, 1024, 3)
    assert set(np.unique(raw)) <= set(range(8)) and (raw == 0).any()
    assert (img[raw == 0] == 0).all() and (img[raw != 0].max(-1) > 0).mean() > 0.99
    out = LoadAnnotations(reduce_zero_label=True)(dict(
        seg_map_path=osp.join(lv, 'ann_dir/train/0.png'), reduce_zero_label=True,
        seg_fields=[]))['gt_seg_map']
    assert (out[raw == 0] == 255).all() and (out[raw > 0] == raw[raw > 0] - 1).all()


@pytest.mark.parametrize('cfg_path,root_name,n_classes', [
    (LOVEDA_FT, 'loveDA', 7), (POTSDAM_FT, 'potsdam', 6)])
def test_seg_finetune_pipelines(full_data, cfg_path, root_name, n_classes):
    """The stock mmseg train sets (LoveDADataset / PotsdamDataset): crops of at most
    512x512, labels in 0..n-1 or 255."""
    root, _ = full_data
    ds, _ = _build(cfg_path, osp.join(root, root_name), 'mmseg')
    assert len(ds.metainfo['classes']) == n_classes
    assert len(ds) == len(os.listdir(osp.join(root, root_name, 'img_dir/train')))
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        img, sample = item['inputs'], item['data_samples']
        seg = sample.gt_sem_seg.data
        assert img.shape[0] == 3 and tuple(img.shape[1:]) == _expected_crop(sample)
        assert tuple(seg.shape[1:]) == tuple(img.shape[1:])
        seen |= set(seg.unique().tolist())
    assert seen <= set(range(n_classes)) | {255} and len(seen - {255}) >= 3


@pytest.mark.parametrize('cfg_path,root_name', [(LOVEDA_SOP, 'loveDA'),
                                                (POTSDAM_SOP, 'potsdam')])
def test_sop_pretrain_pipelines(full_data, cfg_path, root_name):
    """SOP pre-training reads img_dir/{train,val}: 512x512 parents, 6-channel pairs."""
    root, _ = full_data
    for part in ('train_dataloader', 'val_dataloader'):
        ds, _ = _build(cfg_path, osp.join(root, root_name), 'mmseg', part)
        split = 'train' if part == 'train_dataloader' else 'val'
        assert len(ds) == len(os.listdir(osp.join(root, root_name, 'img_dir', split)))
        item = ds[0]
        assert tuple(item['inputs'].shape) == (6, 512, 512)
        assert set(item['data_samples'].gt_sem_seg.data.unique().tolist()) <= {0, 1}


def test_potsdam_names_follow_the_converter(full_data):
    """<area>_<x0>_<y0>_<x1>_<y1>.png with 512 px boxes, areas of the converter's split,
    the same names under img_dir and ann_dir; 0 only on the boundary band."""
    import cv2
    root, _ = full_data
    pd = osp.join(root, 'potsdam')
    train_areas = {'2_10', '2_11', '2_12', '3_10', '3_11', '3_12', '4_10', '4_11',
                   '4_12', '5_10', '5_11', '5_12', '6_10', '6_11', '6_12', '6_7',
                   '6_8', '6_9', '7_10', '7_11', '7_12', '7_7', '7_8', '7_9'}
    for split in ('train', 'val'):
        names = sorted(os.listdir(osp.join(pd, 'img_dir', split)))
        assert names == sorted(os.listdir(osp.join(pd, 'ann_dir', split)))
        for n in names:
            i, j, x0, y0, x1, y1 = map(int, n[:-4].split('_'))
            assert (x1 - x0, y1 - y0) == (512, 512)
            assert (f'{i}_{j}' in train_areas) == (split == 'train')
    first = sorted(os.listdir(osp.join(pd, 'ann_dir/train')))[0]
    raw = cv2.imread(osp.join(pd, 'ann_dir/train', first), cv2.IMREAD_UNCHANGED)
    assert raw.shape == (512, 512) and set(np.unique(raw)) <= set(range(7))
    assert 0 < (raw == 0).mean() < 0.2


def test_seg_layout_with_wrong_suffix_fails(full_data, tmp_path):
    """Control: annotations saved as .tif -> LoadAnnotations cannot find the .png;
    images saved as .jpg -> the dataset lists nothing (mmengine then fails to
    serialise the empty list)."""
    root, _ = full_data
    bad = tmp_path / 'potsdam'
    shutil.copytree(osp.join(root, 'potsdam'), bad)
    ann = bad / 'ann_dir' / 'train'
    for n in os.listdir(ann):
        os.rename(ann / n, ann / (n[:-4] + '.tif'))
    ds, _ = _build(POTSDAM_FT, str(bad), 'mmseg')
    with pytest.raises(FileNotFoundError, match=r'ann_dir/train/.*\.png'):
        ds[0]
    img = bad / 'img_dir' / 'train'
    for n in os.listdir(img):
        os.rename(img / n, img / (n[:-4] + '.jpg'))
    with pytest.raises(ValueError, match='at least one array'):
        _build(POTSDAM_FT, str(bad), 'mmseg')


# ---------------------------------------------------------------------------- seeds
def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    layouts = ['coco', 'loveda', 'potsdam']
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_layouts(a, layouts, seed=0, preset='tiny')
    generate_layouts(b, layouts, seed=0, preset='tiny')
    generate_layouts(c, layouts, seed=1, preset='tiny')
    da, db, dc = _digests(a), _digests(b), _digests(c)
    # coco 6 images + 2 json, loveDA 4 images + 3 masks, potsdam 6 + 6
    assert len(da) == 8 + 7 + 12 and da == db
    assert set(dc) == set(da)          # same file names, different content
    images = [k for k in da if k.endswith(('.jpg', '.png'))]
    assert all(da[k] != dc[k] for k in images)


def test_default_cli_writes_what_generate_all_writes(tmp_path, capsys):
    """`make demo`'s data: without --layouts the CLI writes the demo layouts exactly
    as generate_all does; the full layouts are only written when asked for."""
    from mmpad.datasets.synthetic import generate_all
    from tools.generate_demo_data import main
    generate_all(str(tmp_path / 'api'), seed=0, preset='tiny')
    main([str(tmp_path / 'cli'), '--preset', 'tiny'])
    out = capsys.readouterr().out
    assert _digests(str(tmp_path / 'cli')) == _digests(str(tmp_path / 'api'))
    assert sorted(os.listdir(tmp_path / 'cli')) == ['flir', 'mfnet', 'msip', 'soda']
    assert len([ln for ln in out.splitlines() if ' files, ' in ln]) == 4
    main([str(tmp_path / 'seed1'), '--preset', 'tiny', '--seed', '1',
          '--layouts', 'flir'])
    a, b = _digests(str(tmp_path / 'seed1/flir')), _digests(str(tmp_path / 'api/flir'))
    assert set(a) == set(b) and a != b
