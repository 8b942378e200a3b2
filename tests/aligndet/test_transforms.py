"""AlignDet's two-view data pipeline: top-k, instance ids assigned before the
views split, id-aware filtering, packing, the Identity colour op, and the whole
pipeline of the demo pre-training config on generated FLIR-style images."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

import mmpad  # noqa: F401
from mmdet.registry import DATASETS, MODELS, TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmpad_test_utils import gt_boxes_as_proposals

from mmpad_test_utils import REPO  # noqa: E402
DEMO_CFG = osp.join(
    REPO, 'configs/aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py')


@pytest.fixture(autouse=True)
def _mmdet_scope():
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def _results(num=6, h=60, w=80):
    boxes = np.array([[i, i, i + 10 + i, i + 12] for i in range(num)], np.float32)
    return dict(img=np.zeros((h, w, 3), np.uint8), img_shape=(h, w),
                ori_shape=(h, w), img_id=3, img_path='x.png',
                scale_factor=(1., 1.),
                gt_bboxes=HorizontalBoxes(boxes),
                gt_bboxes_labels=np.arange(num, dtype=np.int64) % 3,
                gt_ignore_flags=np.zeros(num, bool))


def test_topk_keeps_first_k_in_file_order_with_all_keys():
    results = TRANSFORMS.build(dict(type='AssignInstanceIds'))(_results(6))
    out = TRANSFORMS.build(dict(type='TopKProposals', topk=4))(
        copy.deepcopy(results))
    assert np.array_equal(out['gt_instances_ids'], np.arange(4))
    assert np.array_equal(out['gt_bboxes'].tensor.numpy(),
                          results['gt_bboxes'].tensor.numpy()[:4])
    assert np.array_equal(out['gt_bboxes_labels'], [0, 1, 2, 0])
    assert len(out['gt_ignore_flags']) == 4
    np.random.seed(0)
    rand = TRANSFORMS.build(dict(type='TopKProposals', topk=3, random=True))(
        copy.deepcopy(results))
    ids = rand['gt_instances_ids']
    assert len(ids) == 3 and np.all(np.diff(ids) > 0)
    assert np.array_equal(rand['gt_bboxes_labels'], ids % 3)
    few = TRANSFORMS.build(dict(type='TopKProposals', topk=50))(
        copy.deepcopy(results))
    assert len(few['gt_bboxes']) == 6
    with pytest.raises(ValueError, match='topk'):
        TRANSFORMS.build(dict(type='TopKProposals', topk=0))


def test_assign_ids_requires_boxes():
    out = TRANSFORMS.build(dict(type='AssignInstanceIds'))(_results(5))
    assert out['gt_instances_ids'].dtype == np.int64
    assert np.array_equal(out['gt_instances_ids'], np.arange(5))
    with pytest.raises(KeyError, match='LoadAnnotations'):
        TRANSFORMS.build(dict(type='AssignInstanceIds'))(dict(img_path='a.png'))


def test_filtering_a_box_drops_its_id_not_the_last_id():
    """Ids must follow their boxes through per-view
    filtering instead of being re-derived from box order."""
    results = TRANSFORMS.build(dict(type='AssignInstanceIds'))(_results(4))
    tensor = results['gt_bboxes'].tensor
    tensor[1, 2] = tensor[1, 0]  # zero width
    out = TRANSFORMS.build(dict(type='FilterAnnotationsWithIds'))(results)
    assert np.array_equal(out['gt_instances_ids'], [0, 2, 3])
    assert np.array_equal(out['gt_bboxes_labels'], [0, 2, 0])
    empty = TRANSFORMS.build(dict(type='AssignInstanceIds'))(_results(1))
    empty['gt_bboxes'].tensor[0, 3] = empty['gt_bboxes'].tensor[0, 1]
    assert TRANSFORMS.build(dict(type='FilterAnnotationsWithIds'))(empty) is None


def test_pack_puts_ids_into_gt_instances():
    results = TRANSFORMS.build(dict(type='AssignInstanceIds'))(_results(3))
    results['gt_ignore_flags'][1] = True
    packed = TRANSFORMS.build(dict(type='PackAlignDetInputs'))(results)
    sample = packed['data_samples']
    assert torch.equal(sample.gt_instances.instances_ids, torch.tensor([0, 2]))
    assert torch.equal(sample.ignored_instances.instances_ids, torch.tensor([1]))


def test_identity_colour_op_and_colour_space():
    img = np.random.RandomState(0).randint(0, 255, (20, 30, 3)).astype(np.uint8)
    out = TRANSFORMS.build(dict(type='Identity'))(dict(img=img.copy()))
    assert np.array_equal(out['img'], img)
    space = Config.fromfile(
        osp.join(REPO, 'configs/aligndet/_base_/aligndet_pretrain_coco.py')
    ).aligndet_colour_space
    assert len(space) == 9
    rand_aug = TRANSFORMS.build(dict(type='RandAugment', aug_space=space,
                                     aug_num=1))
    changed = 0
    for seed in range(30):
        np.random.seed(seed)
        changed += not np.array_equal(rand_aug(dict(img=img.copy()))['img'], img)
    assert 10 < changed < 30  # one op per call; Identity (and weak ops) keep it


def _to_original(boxes, meta):
    """View boxes -> original image coordinates (undo flip, then scale)."""
    boxes = boxes.clone()
    if meta['flip']:
        w = meta['img_shape'][1]
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
    return boxes / boxes.new_tensor(meta['scale_factor']).repeat(2)


def test_demo_pipeline_two_views_share_instances(demo_data, tmp_path,
                                                 monkeypatch):
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)
    cfg = Config.fromfile(DEMO_CFG)
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.ann_file = str(tmp_path / 'p.json')
    gt_boxes_as_proposals(demo_data, dataset_cfg.ann_file)
    dataset = DATASETS.build(dataset_cfg)
    preprocessor = MODELS.build(cfg.model.data_preprocessor)

    np.random.seed(1)
    items = [dataset[i] for i in range(len(dataset))]
    flips = set()
    for item in items:
        views = item['data_samples']
        assert set(views) == {'online', 'target'}
        online, target = views['online'], views['target']
        ids = online.gt_instances.instances_ids
        assert torch.equal(ids, target.gt_instances.instances_ids)
        assert torch.equal(ids, torch.arange(len(ids)))
        assert len(ids) <= 50
        a = _to_original(online.gt_instances.bboxes.tensor, online.metainfo)
        b = _to_original(target.gt_instances.bboxes.tensor, target.metainfo)
        assert torch.allclose(a, b, atol=1.0)
        flips.add((online.metainfo['flip'], target.metainfo['flip']))
    assert len(flips) > 1  # views flip independently

    batch = preprocessor(pseudo_collate(items[:2]), training=True)
    for view in ('online', 'target'):
        images = batch['inputs'][view]
        assert images.dim() == 4 and images.shape[0] == 2
        assert images.shape[-1] % 32 == 0 and images.shape[-2] % 32 == 0
