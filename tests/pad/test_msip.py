"""MSIPDataset: layout, subsets, data_ratio, numeric order, RoIs, unreadable files."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

import mmpad  # noqa: F401
from mmpad.pad.msip import (INFRARED_DOWNSTREAM_STD, MSIP_MEAN, MSIP_MEAN_01,
                                 MSIP_STD, MSIP_STD_01, MSIPDataset)


def _names(ds):
    return [osp.relpath(ds.get_data_info(i)['img_path'], ds.data_root)
            for i in range(len(ds))]


def test_subsets_ratio_and_paths(demo_data):
    root = osp.join(demo_data, 'msip')
    ds = MSIPDataset(data_root=root)
    names = _names(ds)
    # all subsets, sorted: aerial (4) then street (6), numeric stem order inside
    assert names == [f'aerial/thermal/{i:07d}.jpg' for i in range(4)] + \
        [f'street/thermal/{i:07d}.jpg' for i in range(6)]
    info = ds.get_data_info(5)
    assert info['roi_path'] == osp.join(root, 'street', 'roi', '0000001.txt')
    assert info['subset'] == 'street'
    assert len(MSIPDataset(data_root=root, subsets='street')) == 6
    assert _names(MSIPDataset(data_root=root, subsets=['street', 'aerial']))[0] == \
        'street/thermal/0000000.jpg'
    half = MSIPDataset(data_root=root, data_ratio=0.5)
    assert _names(half) == names[::2]
    third = MSIPDataset(data_root=root, data_ratio=0.3)        # int(1/0.3) = 3
    assert _names(third) == names[::3]
    with pytest.raises(FileNotFoundError, match='nosuch'):
        MSIPDataset(data_root=root, subsets='street,nosuch')


def test_numeric_order_and_unique_stems(tmp_path):
    t = tmp_path / 'a' / 'thermal'
    t.mkdir(parents=True)
    img = np.zeros((8, 8), np.uint8)
    for n in ('10.jpg', '2.png', '1.jpg', 'b.jpg', 'a.bmp', 'notes.txt'):
        cv2.imwrite(str(t / n), img) if not n.endswith('.txt') else \
            (t / n).write_text('x')
    ds = MSIPDataset(data_root=str(tmp_path))
    assert [osp.basename(p) for p in _names(ds)] == ['1.jpg', '2.png', '10.jpg',
                                                     'a.bmp', 'b.jpg']
    cv2.imwrite(str(t / '1.png'), img)
    with pytest.raises(ValueError, match='share the stem'):
        MSIPDataset(data_root=str(tmp_path))


def test_grayscale_as_three_channels_and_rois(demo_data, tmp_path):
    root = osp.join(demo_data, 'msip')
    roi_dir = tmp_path / 'street' / 'roi'
    os.makedirs(tmp_path / 'street' / 'thermal')
    for i in range(2):
        src = osp.join(root, 'street', 'thermal', f'{i:07d}.jpg')
        os.symlink(src, tmp_path / 'street' / 'thermal' / f'{i:07d}.jpg')
    roi_dir.mkdir()
    (roi_dir / '0000000.txt').write_text('10,20,60,70\nbroken line\n')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = MSIPDataset(data_root=str(tmp_path), load_rois=True,
                         pipeline=[dict(type='LoadImageFromFile')])
    assert ds.get_data_info(0)['rois'].tolist() == [[10, 20, 60, 70]]
    assert ds.get_data_info(1)['rois'].shape == (0, 4)        # no file
    img = ds[0]['img']
    assert img.ndim == 3 and img.shape[2] == 3
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()


def test_unreadable_images_are_reported(tmp_path):
    t = tmp_path / 's' / 'thermal'
    t.mkdir(parents=True)
    cv2.imwrite(str(t / '0000000.jpg'), np.full((16, 16), 80, np.uint8))
    (t / '0000001.jpg').write_bytes(b'not a jpeg')
    pipeline = [dict(type='mmpretrain.LoadImageFromFile')]
    ds = MSIPDataset(data_root=str(tmp_path), pipeline=pipeline)
    np.random.seed(0)
    out = ds[1]                                   # replaced by a readable sample
    assert out['img_path'].endswith('0000000.jpg')
    assert ds.unreadable == [str(t / '0000001.jpg')]
    strict = MSIPDataset(data_root=str(tmp_path), pipeline=pipeline, test_mode=True)
    with pytest.raises(RuntimeError, match='0000001.jpg'):
        strict[1]


def test_normalisation_constants():
    assert np.allclose(MSIP_MEAN, np.array(MSIP_MEAN_01) * 255, atol=1e-3)
    assert np.allclose(MSIP_STD, np.array(MSIP_STD_01) * 255, atol=1e-3)
    assert INFRARED_DOWNSTREAM_STD[0] == 47.8976 and MSIP_STD[0] == 47.7105


def test_pipeline_with_roi_crop_through_registry(demo_data):
    from mmpretrain.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = DATASETS.build(dict(
            type='MSIPDataset', data_root=osp.join(demo_data, 'msip'),
            subsets='aerial',
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='ObjectSensitiveRandomRoICrop', size=32),
                      dict(type='PackInputs')]))
        assert tuple(ds[0]['inputs'].shape) == (3, 32, 32)
