"""AlignDetProposalDataset: proposal boxes outside the image or of negative size are
clipped / dropped and reported once; strict raises; malformed JSON names the file."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmpad  # noqa: F401
from mmpad.core import bad_samples
from mmpad.aligndet.proposal_dataset import (AlignDetProposalDataset,
                                               ProposalFileError, check_box)
from mmpad.core.bad_samples import BadSampleError

from bad_data import LogFile, write_bad_images, write_bad_proposals, write_good_images

H, W = 96, 128
CLASSES = ('selective_search', )


@pytest.fixture
def proposals(tmp_path):
    names = write_good_images(str(tmp_path / 'img'), 3, size=(H, W))
    path = str(tmp_path / 'bad_proposals.json')
    return path, str(tmp_path / 'img'), names, write_bad_proposals(path, names, (H, W))


def _build(ann_file, img_dir, **kwargs):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return AlignDetProposalDataset(ann_file=ann_file, data_prefix=dict(img=img_dir),
                                       metainfo=dict(classes=CLASSES), pipeline=[],
                                       **kwargs)


def test_check_box():
    assert check_box([1, 2, 3, 4], 10, 10) == ('ok', [1, 2, 3, 4], '')
    assert check_box([-2, 5, 6, 3], 10, 10)[:2] == ('clipped', [0.0, 5.0, 4.0, 3.0])
    assert check_box([11, 0, 3, 3], 10, 10)[0::2] == ('dropped',
                                                     'entirely outside the image')
    assert check_box([1, 1, -3, 3], 10, 10)[2] == 'negative or zero size'
    assert check_box([1, 1, 3, 0], 10, 10)[2] == 'negative or zero size'
    assert check_box([9.5, 1, 3, 3], 10, 10)[2] == 'less than 1 px inside the image'
    assert check_box([1, 2, 3], 10, 10)[2] == 'not four numbers'
    assert check_box([1, 2, float('nan'), 3], 10, 10)[2] == 'not finite'


def test_bad_boxes_are_clipped_or_dropped_and_reported_once(proposals, tmp_path):
    path, img_dir, names, expect = proposals
    with LogFile(str(tmp_path / 'log.txt')) as log:
        ds = _build(path, img_dir)
        _build(path, img_dir)                  # same file again: counted, not warned
        assert log.count('bad_proposals.json') == 1
        text = log.text()
    assert '4 proposal box(es) fixed (1 clipped, 1 dropped: entirely outside' in text
    assert 'image id 1' in text
    boxes = {ds.get_data_info(i)['img_id']: np.array(
        [inst['bbox'] for inst in ds.get_data_info(i)['instances']])
        for i in range(len(ds))}
    assert [len(boxes[i]) for i in (1, 2, 3)] == [3, 2, 2]
    x, y, w, h = expect['clipped_box']
    assert boxes[1][-1].tolist() == [x, y, x + w, y + h] == [W - 20, H - 10, W, H]
    for b in boxes.values():
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
        assert (b >= 0).all() and (b[:, 2] <= W).all() and (b[:, 3] <= H).all()
    c = bad_samples.counts()
    assert c['files'] == {'bad_proposals': 1} and c['events'] == {'bad_proposals': 8}
    assert c['cleaned'] == 1 and c['skipped'] == 0

    # mmdet's CocoDataset keeps the box sticking out of the image as it is
    from mmdet.datasets import CocoDataset
    with DefaultScope.overwrite_default_scope('mmdet'):
        stock = CocoDataset(ann_file=path, data_prefix=dict(img=img_dir),
                            metainfo=dict(classes=CLASSES), pipeline=[])
    assert stock.get_data_info(0)['instances'][-1]['bbox'] == [W - 20, H - 10,
                                                               W + 30, H + 30]


def test_strict_names_the_file_the_image_and_the_box(proposals):
    path, img_dir, _, _ = proposals
    with pytest.raises(BadSampleError,
                       match=r'bad_proposals\.json: bad proposal box: image id 1, '
                             r'box \[108, 86, 50, 40\]'):
        _build(path, img_dir, strict=True)


def test_malformed_proposal_files_name_the_file(tmp_path):
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [{"id": 1, "file_name": "a.jpg"')
    with pytest.raises(ProposalFileError, match=r'broken\.json is not a valid'):
        _build(str(broken), str(tmp_path))
    no_size = tmp_path / 'no_size.json'
    no_size.write_text(json.dumps(dict(
        images=[dict(id=7, file_name='a.jpg')],
        annotations=[dict(id=1, image_id=7, category_id=1, bbox=[0, 0, 5, 5])],
        categories=[dict(id=1, name='selective_search')])))
    with pytest.raises(ProposalFileError, match=r'no_size\.json: image id 7'):
        _build(str(no_size), str(tmp_path))


@pytest.mark.timeout(120)
def test_demo_pretraining_pipeline_on_bad_images_and_proposals(tmp_path, repo_root):
    """The AlignDet demo config's dataset and pipeline (two views) on a folder with
    good and bad images and the bad proposals: every sample comes out, from a good
    image, with boxes inside the view."""
    from mmdet.registry import DATASETS
    cfg = Config.fromfile(osp.join(
        repo_root, 'configs/aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py'))
    dcfg = cfg.train_dataloader.dataset
    assert dcfg.type == 'AlignDetProposalDataset'
    assert dcfg.pipeline[0].type == 'LoadImageFromFileSafe'
    assert cfg.default_hooks.bad_samples.type == 'BadSampleLoggerHook'
    img_dir = tmp_path / 'img'
    good = write_good_images(str(img_dir), 3, size=(H, W))
    write_bad_images(str(img_dir), size=(H, W))
    names = good + ['bad_trunc_jpg.jpg', 'bad_text.jpg', 'bad_empty.jpg']
    path = str(tmp_path / 'bad_proposals.json')
    write_bad_proposals(path, names, (H, W))
    dcfg.update(data_root=str(tmp_path), ann_file=path,
                data_prefix=dict(img=str(img_dir)))
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds = DATASETS.build(dcfg)
        np.random.seed(0)
        with LogFile(str(tmp_path / 'log.txt')) as log:
            out = [ds[i] for i in range(len(ds))] + [ds[i] for i in range(len(ds))]
            for n in names[3:]:
                assert log.count(n) == 1
    assert len(ds) == 6
    for sample in out:
        for view in ('online', 'target'):
            meta = sample['data_samples'][view]
            assert osp.basename(meta.img_path) in good
            b = meta.gt_instances.bboxes.numpy()
            hh, ww = meta.img_shape
            assert len(b) and (b[:, 0] >= 0).all() and (b[:, 2] <= ww + 1e-3).all()
            assert (b[:, 3] <= hh + 1e-3).all()
    assert bad_samples.counts()['files'] == {'truncated': 1, 'not_an_image': 1,
                                             'empty_file': 1, 'bad_proposals': 1}
    assert os.path.exists(path)
