"""FLIR (mmdet), SODA and MFNet (mmseg) on the generated data."""
import json
import os.path as osp

import pytest
from mmengine.registry import DefaultScope

import mmpad  # noqa: F401
from mmpad.datasets.class_names import FLIR_CLASSES, MFNET_CLASSES, SODA_CLASSES


def test_flir_loads_generated_data(demo_data, tmp_path):
    from mmdet.registry import DATASETS
    root = osp.join(demo_data, 'flir')
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds = DATASETS.build(dict(type='FLIRDataset', data_root=root, split='train',
                                 pipeline=[dict(type='LoadImageFromFile'),
                                           dict(type='LoadAnnotations',
                                                with_bbox=True)]))
    assert ds.metainfo['classes'] == FLIR_CLASSES == ('person', 'bicycle', 'car')
    assert len(ds) == 8
    with open(osp.join(root, 'train/thermal_annotations.json')) as f:
        coco = json.load(f)
    n_boxes = sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds)))
    assert n_boxes == len(coco['annotations'])
    # label = category id - 1, box = xywh -> xyxy
    ann = coco['annotations'][0]
    info = next(ds.get_data_info(i) for i in range(len(ds))
                if ds.get_data_info(i)['img_id'] == ann['image_id'])
    inst = info['instances'][0]
    assert inst['bbox_label'] == ann['category_id'] - 1
    x, y, w, h = ann['bbox']
    assert inst['bbox'] == [x, y, x + w, y + h]
    with DefaultScope.overwrite_default_scope('mmdet'):
        out = ds[0]
    assert out['img'].shape[2] == 3 and out['gt_bboxes'].shape[1] == 4


def test_flir_ignores_other_categories_and_reports_bad_json(demo_data, tmp_path):
    from mmpad.datasets.flir import FLIRDataset
    with open(osp.join(demo_data, 'flir/val/thermal_annotations.json')) as f:
        coco = json.load(f)
    coco['categories'] = [dict(id=1, name='person'), dict(id=2, name='bike'),
                          dict(id=3, name='car'), dict(id=17, name='dog')]
    coco['annotations'].append(dict(id=10 ** 6, image_id=1, category_id=17,
                                    bbox=[1, 1, 5, 5], area=25, iscrowd=0))
    p = tmp_path / 'ann.json'
    p.write_text(json.dumps(coco))
    ds = FLIRDataset(ann_file=str(p), data_prefix=dict(img=osp.join(demo_data,
                                                                      'flir/val/')))
    labels = {i['bbox_label'] for k in range(len(ds))
              for i in ds.get_data_info(k)['instances']}
    assert labels <= {0, 1, 2}
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match='bad.json'):
        FLIRDataset(ann_file=str(bad), data_prefix=dict(img=''))


@pytest.fixture
def mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def test_soda_and_mfnet(demo_data, tmp_path, mmseg_scope):
    from mmseg.registry import DATASETS
    pipe = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    soda = DATASETS.build(dict(type='SODADataset', data_root=osp.join(demo_data, 'soda'),
                               split='train', pipeline=pipe))
    assert len(soda) == 8 and soda.metainfo['classes'] == SODA_CLASSES
    assert len(SODA_CLASSES) == 21 and len(soda.metainfo['palette']) == 21
    assert soda.reduce_zero_label is False
    s = soda[0]
    assert s['img'].shape[:2] == s['gt_seg_map'].shape
    assert s['gt_seg_map'].max() < 21
    test = DATASETS.build(dict(type='SODADataset', data_root=osp.join(demo_data, 'soda'),
                               split='test'))
    assert len(test) == 4

    root = osp.join(demo_data, 'mfnet')
    sizes = {sp: len(DATASETS.build(dict(type='MFNetDataset', data_root=root,
                                         split=sp)))
             for sp in ('train', 'val', 'test')}
    assert sizes == dict(train=6, val=3, test=3)
    mf = DATASETS.build(dict(type='MFNetDataset', data_root=root, split='train',
                             pipeline=pipe))
    assert mf.metainfo['classes'] == MFNET_CLASSES and len(MFNET_CLASSES) == 9
    m = mf[0]
    assert m['gt_seg_map'].max() < 9 and m['img'].shape[2] == 3
    # background is a real class (reduce_zero_label=False): 0 stays 0, not 255
    assert (m['gt_seg_map'] == 0).any() and not (m['gt_seg_map'] == 255).any()
    lst = tmp_path / 'list.txt'
    lst.write_text('00000D\nmissing_name\n')
    with pytest.raises(FileNotFoundError, match='missing_name'):
        DATASETS.build(dict(type='MFNetDataset', data_root=root, ann_file=str(lst)))
    with pytest.raises(ValueError, match='split'):
        DATASETS.build(dict(type='MFNetDataset', data_root=root, split='valid'))


def test_class_names_are_the_data_sets_own():
    """The data sets and the demo-data generator share one definition, and the
    values and order are the data sets' label ids."""
    from mmpad.datasets import class_names, synthetic
    from mmpad.registration import scan
    assert scan()['mmpad.datasets.class_names'].hosts == frozenset()
    for name in ('FLIR_CLASSES', 'MFNET_CLASSES', 'SODA_CLASSES'):
        assert getattr(synthetic, name) is getattr(class_names, name)
    assert SODA_CLASSES[:3] == ('background', 'person', 'building')
    assert SODA_CLASSES[10:12] == ('car', 'bicycle') and SODA_CLASSES[-1] == 'sidewalk'
    assert MFNET_CLASSES == ('unlabelled', 'car', 'person', 'bike', 'curve',
                             'car_stop', 'guardrail', 'color_cone', 'bump')
    # the real data sets do not import the generator
    for module in ('mmpad.datasets.flir', 'mmpad.datasets.infrared_seg'):
        assert 'mmpad.datasets.synthetic' not in scan()[module].imports


def test_split_list_layouts_and_overrides(demo_data, tmp_path, mmseg_scope):
    """One constructor for both sets: the class's layout unless an argument
    names another (positional order split, img_suffix, seg_map_suffix,
    data_prefix as before)."""
    import shutil
    from mmpad.datasets.infrared_seg import MFNetDataset, SODADataset
    soda = SODADataset(data_root=osp.join(demo_data, 'soda'), split='test')
    assert (soda.img_suffix, soda.seg_map_suffix) == ('.jpg', '.png')
    assert soda.data_prefix['img_path'].endswith('JPEGImages')
    assert soda.data_prefix['seg_map_path'].endswith('SegmentationClass')
    mf = MFNetDataset(data_root=osp.join(demo_data, 'mfnet'), split='val')
    assert (mf.img_suffix, mf.seg_map_suffix) == ('.png', '.png')
    assert mf.data_prefix['img_path'].endswith('thermal_imgs')
    assert MFNetDataset.DATA_PREFIX == dict(img_path='thermal_imgs',
                                            seg_map_path='labels')  # not mutated
    # another layout of the same SODA files: folders renamed, given explicitly
    root = tmp_path / 'soda'
    shutil.copytree(osp.join(demo_data, 'soda'), root)
    (root / 'JPEGImages').rename(root / 'imgs')
    (root / 'SegmentationClass').rename(root / 'masks')
    moved = SODADataset('test', '.jpg', '.png',
                        dict(img_path='imgs', seg_map_path='masks'),
                        data_root=str(root))
    assert len(moved) == len(soda) == 4
    with pytest.raises(FileNotFoundError):
        SODADataset(data_root=str(root), split='test')
