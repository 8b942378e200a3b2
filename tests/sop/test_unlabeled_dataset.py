"""SOPUnlabeledDataset: an unlabeled image folder for SOP pre-training."""
import os
import os.path as osp
import shutil

import pytest

import mmpad  # noqa: F401
from mmpad.sop.unlabeled_dataset import SOPUnlabeledDataset


def test_lists_every_image_recursively(demo_data, tmp_path):
    soda = osp.join(demo_data, 'soda')
    ds = SOPUnlabeledDataset(data_root=soda, data_prefix=dict(img_path='JPEGImages'))
    assert len(ds) == 12  # tiny preset: 8 train + 4 test
    assert ds.metainfo['classes'] == ('background', 'subimage')
    info = ds.get_data_info(0)
    assert info['img_path'].endswith('00000.jpg') and info['seg_map_path'] is None

    # nested folders, upper-case suffix, non-images ignored
    root = tmp_path / 'pool'
    (root / 'a' / 'b').mkdir(parents=True)
    shutil.copy(info['img_path'], root / 'x.JPG')
    shutil.copy(info['img_path'], root / 'a' / 'b' / 'y.png')
    (root / 'notes.txt').write_text('not an image')
    ds = SOPUnlabeledDataset(data_root=str(root))
    assert sorted(osp.relpath(d['img_path'], root)
                  for d in ds.load_data_list()) == ['a/b/y.png', 'x.JPG']
    flat = SOPUnlabeledDataset(data_root=str(root), recursive=False)
    assert len(flat) == 1


def test_ann_file_and_repeat(demo_data):
    soda = osp.join(demo_data, 'soda')
    ds = SOPUnlabeledDataset(
        data_root=soda, data_prefix=dict(img_path='JPEGImages'),
        ann_file='ImageSets/Segmentation/test_infrared.txt', repeat=3)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert len(infos) == 12
    assert [i['sop_repeat_idx'] for i in infos] == [0] * 4 + [1] * 4 + [2] * 4
    assert len({i['img_path'] for i in infos}) == 4


def test_pipeline_gives_six_channel_samples(demo_data):
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='RandomCrop', crop_size=(64, 64)),
        dict(type='SubimageOverlap', seed=0, photometric=False),
        dict(type='PackSegInputs'),
    ]
    ds = SOPUnlabeledDataset(data_root=osp.join(demo_data, 'soda'),
                             data_prefix=dict(img_path='JPEGImages'),
                             pipeline=pipeline)
    sample = ds[0]
    assert tuple(sample['inputs'].shape) == (6, 64, 64)
    gt = sample['data_samples'].gt_sem_seg.data
    assert set(gt.unique().tolist()) == {0, 1}


def test_clear_errors(tmp_path, demo_data):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        SOPUnlabeledDataset(data_root=str(tmp_path / 'missing'))
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(ValueError, match='no images'):
        SOPUnlabeledDataset(data_root=str(tmp_path / 'empty'))
    lst = tmp_path / 'list.txt'
    lst.write_text('00000\nnot_there\n')
    with pytest.raises(FileNotFoundError, match='not_there'):
        SOPUnlabeledDataset(data_root=osp.join(demo_data, 'soda'),
                            data_prefix=dict(img_path='JPEGImages'),
                            ann_file=str(lst))
    with pytest.raises(ValueError, match='repeat'):
        SOPUnlabeledDataset(data_root=str(tmp_path), repeat=0)


def test_negatives_through_multi_image_mix_dataset(demo_data):
    """p_neg draws S from another image given by mmseg's MultiImageMixDataset."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    ds = DATASETS.build(dict(
        type='MultiImageMixDataset',
        dataset=dict(type='SOPUnlabeledDataset',
                     data_root=osp.join(demo_data, 'soda'),
                     data_prefix=dict(img_path='JPEGImages'),
                     pipeline=[dict(type='LoadImageFromFile'),
                               dict(type='RandomCrop', crop_size=(64, 64))]),
        pipeline=[dict(type='SubimageOverlap', p_neg=1.0, photometric=False),
                  dict(type='PackSegInputs',
                       meta_keys=('img_path', 'sop_negative', 'sop_box'))]))
    sample = ds[0]['data_samples']
    assert sample.metainfo['sop_negative'] is True
    assert sample.gt_sem_seg.data.sum() == 0
    assert tuple(ds[1]['inputs'].shape) == (6, 64, 64)
