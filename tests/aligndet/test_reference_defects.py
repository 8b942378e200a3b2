"""One regression test per defect of the AlignDet reference implementation
(liming-ai/AlignDet) that mmpad fixes."""
import copy

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint

from mmdet.registry import MODELS
from mmdet.structures.bbox import HorizontalBoxes
from mmpad.aligndet.momentum_hook import AlignDetMomentumHook
from mmpad.aligndet.instance_ids import (batch_instance_ids,
                                                decode_labels_as_ids,
                                                encode_ids_as_labels)
from aligndet_tiny_detectors import (FAMILIES, make_view,  # conftest's path
                                     pretrainer_cfg)


def _build(family, cfg=None):
    torch.manual_seed(0)
    model = MODELS.build(pretrainer_cfg(cfg or FAMILIES[family]()))
    model.init_weights()
    return model.train()


# RetinaNet flatten order ---------------------------------------------------
def test_retinanet_embeddings_and_ids_share_one_order_with_two_images(
        two_view_batch):
    """Every anchor labelled with an instance of image i must carry image i's
    embedding. The reference flattened embeddings level-major and labels
    image-major, so with 2 images they were misaligned."""
    model = _build('retinanet')
    head = model.online.bbox_head
    inputs, samples = two_view_batch(num_boxes=(6, 5))
    batch_instance_ids(samples)
    x = model._frozen_features(model.online, inputs['online'])
    stock_forward = head.forward

    def image_coded_forward(feats):
        embeds, preds = stock_forward(feats)
        code = torch.arange(1., 1. + embeds[0].size(0)).view(-1, 1, 1, 1)
        return [torch.zeros_like(e) + code for e in embeds], preds

    head.forward = image_coded_forward
    out = head.view_forward(x, samples['online'], with_loss=False)
    image_of_id = torch.cat([torch.full((n, ), i + 1.) for i, n in
                             enumerate((6, 5))])
    fg = out.ids >= 0
    assert fg.sum() > 10
    assert torch.equal(out.embeds[fg, 0], image_of_id[out.ids[fg]])

    # the level-major order of the reference differs from the anchors' order
    maps = [torch.randn(2, 9 * 8, s, s + 1) for s in (4, 2)]
    ours = head.flatten_per_image(maps, 8)
    per_image = torch.cat([torch.cat(
        [m[i].permute(1, 2, 0).reshape(-1, 8) for m in maps]) for i in range(2)])
    level_major = torch.cat([m.permute(0, 2, 3, 1).reshape(-1, 8) for m in maps])
    assert torch.equal(ours, per_image)
    assert not torch.equal(ours, level_major)


# flip after pad -------------------------------------------------------------
def test_boxes_and_pixels_are_flipped_about_the_same_width():
    """The image is padded (to 128) after flipping at its own width (100): the
    flipped box must still frame the bright object. The reference flipped the
    padded image against the unpadded box width (28 px apart here)."""
    img = np.zeros((60, 100, 3), np.uint8)
    img[20:50, 10:40] = 255
    results = dict(
        img=img, img_shape=(60, 100), ori_shape=(60, 100), img_id=0,
        img_path='synthetic.png', scale_factor=(1., 1.),
        gt_bboxes=HorizontalBoxes(np.array([[10., 20., 40., 50.]], np.float32)),
        gt_bboxes_labels=np.zeros(1, np.int64),
        gt_ignore_flags=np.zeros(1, bool))
    pipeline = Compose([
        dict(type='AssignInstanceIds'),
        dict(type='RandomFlip', prob=1.0),
        dict(type='FilterAnnotationsWithIds'),
        dict(type='PackAlignDetInputs',
             meta_keys=('img_id', 'img_shape', 'ori_shape', 'scale_factor',
                        'flip', 'flip_direction')),
    ])
    preprocessor = MODELS.build(dict(type='DetDataPreprocessor',
                                     pad_size_divisor=32))
    data = preprocessor(pseudo_collate([pipeline(results)]), training=True)
    image, sample = data['inputs'][0], data['data_samples'][0]
    assert image.shape[-2:] == (64, 128)
    box = sample.gt_instances.bboxes[0].tolist()
    assert box == [60., 20., 90., 50.]
    ys, xs = torch.nonzero(image[0] > 127, as_tuple=True)
    assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == box


# target not synchronised at start -------------------------------------------
def test_target_equals_online_after_load_from_and_hook(tmp_path):
    """A load_from after weight init must also reach the target: the hook syncs
    at before_train of a fresh run."""
    donor = _build('faster_rcnn')
    with torch.no_grad():
        for p in donor.online.neck.parameters():
            p.add_(0.5)
    ckpt = str(tmp_path / 'donor.pth')
    torch.save(dict(state_dict=donor.state_dict()), ckpt)

    model = _build('faster_rcnn')
    load_checkpoint(model, ckpt, map_location='cpu')
    neck = 'neck.lateral_convs.0.conv.weight'
    assert not torch.equal(model.online.state_dict()[neck],
                           model.target.state_dict()[neck])

    class Runner:
        iter, max_iters = 0, 10
    Runner.model = model
    AlignDetMomentumHook().before_train(Runner)
    for key, value in model.online.state_dict().items():
        assert torch.equal(value, model.target.state_dict()[key]), key


# one number for embedding width and background id ---------------------------
def _grid_view(num_images=2, per_row=15, rows=10, size=32):
    """num_images images of per_row x rows non-overlapping size x size boxes
    aligned with the stride-8 anchors and points."""
    boxes = torch.tensor([[c * size, r * size, (c + 1) * size, (r + 1) * size]
                          for r in range(rows) for c in range(per_row)],
                         dtype=torch.float32)
    shape = (rows * size, per_row * size)
    n = len(boxes)
    return make_view([boxes] * num_images, [shape] * num_images,
                     [torch.zeros(n, dtype=torch.long)] * num_images)


@pytest.mark.parametrize('family', ['retinanet', 'fcos', 'faster_rcnn'])
def test_more_than_256_proposals_keep_every_instance_id(family):
    """300 proposals in a batch, detectors configured with num_classes=256 (the
    reference's embedding width *and* background label): every id, 256
    included, must get foreground samples."""
    cfg = FAMILIES[family]()
    if family == 'faster_rcnn':
        cfg['roi_head']['bbox_head']['num_classes'] = 256
        cfg['train_cfg']['rcnn']['sampler']['num'] = 100000
    elif family == 'fcos':
        cfg['bbox_head']['num_classes'] = 256
        cfg['bbox_head']['num_samples'] = 100000
    else:
        cfg['bbox_head']['num_classes'] = 256
        cfg['train_cfg']['sampler']['num'] = 100000
    model = _build(family, cfg)
    imgs, samples = _grid_view()
    batch_instance_ids({'online': samples})
    with torch.no_grad():
        out = model._view(model.online, imgs, samples, with_loss=True)
    ids = set(out.ids[out.ids >= 0].tolist())
    assert ids == set(range(300))
    assert all(torch.isfinite(v).all() for v in out.losses.values()
               if torch.is_tensor(v))


def test_id_encoding_is_disjoint_from_any_background_label():
    ids = torch.tensor([0, 1, 255, 256, 257, 10000])
    labels = encode_ids_as_labels(ids)
    assert torch.equal(decode_labels_as_ids(labels), ids)
    for num_classes in (1, 80, 256):
        assert decode_labels_as_ids(torch.tensor([num_classes])).item() == -1


def test_batch_ids_are_unique_and_shared_by_the_views():
    g = torch.Generator().manual_seed(0)
    boxes = [torch.rand(n, 4, generator=g) * 10 + torch.tensor([0, 0, 20, 20])
             for n in (200, 150)]
    labels = [torch.zeros(len(b), dtype=torch.long) for b in boxes]
    _, online = make_view(boxes, [(64, 64)] * 2, labels)
    _, target = make_view(boxes, [(64, 64)] * 2, labels)
    # the target view lost the last box of image 0 (e.g. filtered)
    target[0].gt_instances = target[0].gt_instances[:199]
    batch_instance_ids({'online': online, 'target': target})
    assert torch.equal(online[1].gt_instances.instances_ids,
                       torch.arange(200, 350))
    assert torch.equal(target[1].gt_instances.instances_ids,
                       torch.arange(200, 350))
    assert torch.equal(target[0].gt_instances.instances_ids, torch.arange(199))


# DETR instance matching indexed by the wrong ids -----------------------------
def test_detr_query_ids_come_from_the_class_level_matching(two_view_batch):
    """Each layer's query ids reuse the loss's Hungarian matching (classification
    + L1 + GIoU), so a matched query's cluster target is its instance's label."""
    model = _build('detr')
    head = model.online.bbox_head
    inputs, samples = two_view_batch(num_boxes=(5, 4), num_labels=4)
    batch_instance_ids(samples)
    batch = samples['online']
    x = model._frozen_features(model.online, inputs['online'])
    hidden = model.online.forward_transformer(x, batch)['hidden_states']
    cls, boxes = head(hidden)
    gts = [s.gt_instances for s in batch]
    metas = [s.metainfo for s in batch]
    ids = head.match_instance_ids(cls, boxes, gts, metas)
    id_to_label = torch.cat([g.labels for g in gts])
    offsets = [0, len(gts[0])]
    for layer in range(cls.size(0)):
        for i in range(len(batch)):
            labels = head._get_targets_single(cls[layer, i], boxes[layer, i],
                                              gts[i], metas[i])[0]
            matched = ids[layer, i] >= 0
            assert torch.equal(matched, labels < head.num_classes)
            assert matched.sum() == len(gts[i])
            local = ids[layer, i][matched] - offsets[i]
            assert torch.equal(labels[matched], gts[i].labels[local])
            assert torch.equal(labels[matched], id_to_label[ids[layer, i][matched]])


# dead arguments; the loss has the use_sigmoid attribute mmdet heads read ------
def test_no_dead_arguments():
    cfg = copy.deepcopy(FAMILIES['detr']())
    cfg['bbox_head']['loss_cls']['class_weight'] = 1.0
    with pytest.raises(ValueError, match='class_weight'):
        MODELS.build(pretrainer_cfg(cfg))
    with pytest.raises(TypeError):
        MODELS.build(dict(pretrainer_cfg(FAMILIES['retinanet']()),
                          loss_cls_weight=1.0))
    loss = MODELS.build(dict(type='BoxContrastiveLoss'))
    assert loss.use_sigmoid is False
    with pytest.raises(TypeError):
        loss(torch.randn(2, 4), torch.tensor([0, 1]), torch.randn(2, 4),
             torch.tensor([0, 1]), avg_factor=2)
