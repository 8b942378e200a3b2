"""Every detector family pre-trains: loss + backward on CPU with two tiny images,
frozen backbone bit-identical, target untouched by gradients."""
import copy

import pytest
import torch

import mmpad  # noqa: F401
from mmdet.registry import MODELS

from aligndet_tiny_detectors import FAMILIES, pretrainer_cfg  # conftest's path

EXPECTED_LOSSES = {
    'retinanet': {'loss_bbox', 'loss_contrast'},
    'fcos': {'loss_bbox', 'loss_centerness', 'loss_contrast'},
    'faster_rcnn': {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_bbox', 'loss_contrast'},
    'mask_rcnn_box_branch': {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_bbox',
                             'loss_contrast'},
    'detr': {'loss_cls', 'loss_bbox', 'loss_iou', 'd0.loss_cls', 'd0.loss_bbox',
             'd0.loss_iou', 'loss_contrast'},
}


def _build(family):
    torch.manual_seed(0)
    model = MODELS.build(pretrainer_cfg(FAMILIES[family]()))
    model.init_weights()
    model.train()
    return model


def _total(losses):
    """Sum of a loss dict as mmengine's parse_losses does (lists are summed)."""
    return sum(sum(v) if isinstance(v, list) else v
               for k, v in losses.items() if 'loss' in k)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_loss_backward_step_keeps_backbone_frozen(family, two_view_batch):
    model = _build(family)
    num_labels = 4 if family == 'detr' else 1
    inputs, samples = two_view_batch(num_labels=num_labels)
    backbones = [_state(model.online.backbone), _state(model.target.backbone)]
    target_before = _state(model.target)
    online_head_before = {k: v.clone() for k, v in model.online.named_parameters()
                          if v.requires_grad}

    losses = model.loss(inputs, samples)
    assert set(losses) == EXPECTED_LOSSES[family]
    for name, value in losses.items():
        assert torch.isfinite(_total({name: value})), name
    assert losses['loss_contrast'] > 0
    total = _total(losses)
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9,
                            weight_decay=1e-4)
    total.backward()
    optim.step()

    for before, backbone in zip(backbones, (model.online.backbone,
                                            model.target.backbone)):
        after = backbone.state_dict()
        for key, value in before.items():  # weights and BN statistics
            assert torch.equal(value, after[key]), key
    assert all(p.grad is None for p in model.online.backbone.parameters())
    assert all(p.grad is None for p in model.target.parameters())
    for key, value in target_before.items():
        assert torch.equal(value, model.target.state_dict()[key]), key
    changed = [k for k, v in model.online.named_parameters()
               if k in online_head_before and not torch.equal(
                   v, online_head_before[k])]
    assert any(k.startswith('neck.') for k in changed)
    head = 'roi_head.' if 'rcnn' in family else 'bbox_head.'
    assert any(k.startswith(head) for k in changed)


@pytest.mark.parametrize('family', ['retinanet', 'faster_rcnn'])
def test_training_reduces_contrastive_loss(family, two_view_batch):
    model = _build(family)
    inputs, samples = two_view_batch(num_boxes=(6, 5))
    # AdamW: the std-0.01 projector init makes raw SGD steps on tiny
    # embeddings erratic without the recipe's 500-iteration warm-up
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=3e-3)

    def contrast(step):
        torch.manual_seed(step)  # same anchor / RoI sampling for both measures
        return model.loss(inputs, copy.deepcopy(samples))

    first = float(contrast(0)['loss_contrast'])
    for step in range(10):
        losses = contrast(100 + step)
        optim.zero_grad()
        _total(losses).backward()
        optim.step()
        model.momentum_update(0.5)
    with torch.no_grad():
        last = float(contrast(0)['loss_contrast'])
    assert last < 0.97 * first


def test_target_synced_after_init_weights():
    """init_weights re-initialises both detectors independently (the reference's
    target therefore started from its own random init);
    the target must equal the online detector afterwards."""
    model = MODELS.build(pretrainer_cfg(FAMILIES['retinanet']()))
    model.init_weights()
    online, target = model.online.state_dict(), model.target.state_dict()
    assert online.keys() == target.keys()
    for key in online:
        assert torch.equal(online[key], target[key]), key


def test_momentum_update_math_and_query_embedding_copy():
    model = _build('detr')
    with torch.no_grad():
        for p in model.online.parameters():
            if p.requires_grad:
                p.add_(1.0)
    online = dict(model.online.named_parameters())
    before = {k: v.clone() for k, v in model.target.named_parameters()}
    model.momentum_update(0.9)
    for name, target in model.target.named_parameters():
        if 'query_embedding' in name:
            assert torch.equal(target, online[name])
        elif online[name].requires_grad:
            expected = 0.9 * before[name] + 0.1 * online[name]
            assert torch.allclose(target, expected, atol=1e-6), name
        else:  # frozen backbone: untouched, bit-identical
            assert torch.equal(target, before[name]), name


def test_target_stays_in_train_mode_backbones_in_eval():
    model = _build('detr')
    model.train()
    assert model.target.training and model.target.bbox_head.training
    assert not model.online.backbone.training
    assert not model.target.backbone.training


def test_unsupported_heads_fail_clearly():
    cfg = FAMILIES['retinanet']()
    cfg['bbox_head']['type'] = 'RetinaHead'
    cfg['bbox_head'].pop('embed_dim')
    with pytest.raises(TypeError, match='RetinaEmbedHead'):
        MODELS.build(pretrainer_cfg(cfg))
    cfg = FAMILIES['faster_rcnn']()
    cfg['roi_head']['type'] = 'StandardRoIHead'
    with pytest.raises(TypeError, match='EmbedRoIHead'):
        MODELS.build(pretrainer_cfg(cfg))
    cfg = FAMILIES['faster_rcnn']()
    cfg['roi_head']['bbox_head']['reg_class_agnostic'] = False
    with pytest.raises(ValueError, match='reg_class_agnostic'):
        MODELS.build(pretrainer_cfg(cfg))


def test_missing_view_and_missing_ids_fail_clearly(two_view_batch):
    model = _build('retinanet')
    inputs, samples = two_view_batch()
    with pytest.raises(KeyError, match='target'):
        model.loss({'online': inputs['online']}, {'online': samples['online']})
    for sample in samples['target']:
        del sample.gt_instances.instances_ids
    with pytest.raises(KeyError, match='AssignInstanceIds'):
        model.loss(inputs, samples)


def test_predict_explains_conversion():
    model = _build('retinanet')
    with pytest.raises(NotImplementedError, match='aligndet_to_mmdet'):
        model.predict(torch.zeros(1, 3, 32, 32), [])
