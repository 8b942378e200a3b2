"""configs/aligndet: every pre-training config builds its AlignDet model with the
authors' recipe; fine-tuning configs pair an lr x1.5 / wd x0.5 AlignDet variant with
a stock-hyper-parameter baseline twin; real R50 pre-training weights convert into
the fine-tuning detectors with only the expected keys missing."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmdet.registry import MODELS
from mmpad.core.config_check import check_types
from tools.aligndet_to_mmdet import check_against_config, convert_state_dict

from mmpad_test_utils import REPO  # noqa: E402
CFG = osp.join(REPO, 'configs', 'aligndet')
PRETRAIN = {
    'retinanet': ('aligndet_retinanet_r50_fpn_8xb2-12e_coco-proposals.py', 0.01),
    'fcos': ('aligndet_fcos_r50_fpn_8xb2-12e_coco-proposals.py', 0.01),
    'faster_rcnn': ('aligndet_faster-rcnn_r50_fpn_8xb2-12e_coco-proposals.py', 0.02),
    'mask_rcnn': ('aligndet_mask-rcnn_r50_fpn_8xb2-12e_coco-proposals.py', 0.02),
    'detr': ('aligndet_detr_r50_8xb2-50e_coco-proposals.py', 5e-5),
}


def _names(pipeline):
    return [t['type'] for t in pipeline]


@pytest.mark.parametrize('family', sorted(PRETRAIN))
def test_pretraining_config_builds_with_the_recipe(family):
    name, lr = PRETRAIN[family]
    cfg = Config.fromfile(osp.join(CFG, name))
    assert check_types(cfg) == []
    assert cfg.runner_type == 'MMPadRunner'
    assert cfg.custom_imports['imports'] == ['mmpad']
    assert [h['type'] for h in cfg.custom_hooks] == ['AlignDetMomentumHook']
    assert cfg.val_dataloader is None and cfg.test_dataloader is None
    assert cfg.optim_wrapper.optimizer.lr == lr
    loader = cfg.train_dataloader
    assert loader.batch_size == 2
    steps = _names(loader.dataset.pipeline)
    assert steps[-2:] == ['AssignInstanceIds', 'MultiBranch']
    assert ('TopKProposals' in steps) == (family in ('retinanet', 'detr'))
    view = _names(loader.dataset.pipeline[-1]['online'])
    assert view == ['RandomChoiceResize', 'RandomFlip', 'RandAugment',
                    'FilterAnnotationsWithIds', 'PackAlignDetInputs']
    assert 'Pad' not in view  # padding comes after flipping (preprocessor)

    model = MODELS.build(cfg.model)
    expected_family = {'retinanet': 'single_stage', 'fcos': 'single_stage',
                       'detr': 'detr'}.get(family, 'two_stage')
    assert model.family == expected_family
    assert not any(p.requires_grad for p in model.target.parameters())
    assert not any(p.requires_grad for p in model.online.backbone.parameters())
    assert model.online.backbone.frozen_stages == 4
    if family == 'detr':
        assert model.online.bbox_head.num_classes == 256
        assert len(loader.dataset.metainfo['classes']) == 256
    if family in ('faster_rcnn', 'mask_rcnn'):
        rcnn = cfg.model.detector.train_cfg.rcnn
        assert rcnn.sampler.neg_pos_ub == 0 and rcnn.sampler.add_gt_as_proposals
        assert model.online.roi_head.bbox_head.reg_class_agnostic


def _finetune(name):
    return Config.fromfile(osp.join(CFG, 'finetune', name))


@pytest.mark.parametrize('family', ['retinanet_{}_fpn', 'fcos_{}_fpn_gn-head',
                                    'faster-rcnn_{}_fpn', 'mask-rcnn_{}_fpn'])
def test_finetune_variant_and_baseline_twin(family):
    for schedule in ('1x', '12k'):
        base = _finetune(family.format('r50-in1k') + f'_8xb2-{schedule}_coco.py')
        ours = _finetune(family.format('r50-aligndet') + f'_8xb2-{schedule}_coco.py')
        assert check_types(ours) == []
        assert base.load_from is None and ours.load_from.endswith(
            'aligndet_mmdet.pth')
        b, o = base.optim_wrapper.optimizer, ours.optim_wrapper.optimizer
        assert o.lr == pytest.approx(1.5 * b.lr)
        assert o.weight_decay == pytest.approx(0.5 * b.weight_decay)
        assert ours.model == base.model  # same detector, only init / hp differ
        assert ours.model.backbone.norm_cfg.type == 'SyncBN'
        assert ours.model.neck.norm_cfg.type == 'SyncBN'
        if schedule == '12k':
            assert ours.train_cfg.type == 'IterBasedTrainLoop'
            assert ours.train_cfg.max_iters == 12000
            assert ours.param_scheduler[1]['milestones'] == [9000, 11000]
        else:
            assert ours.train_cfg.max_epochs == 12


def test_detr_finetune_configs():
    """DETR keeps the stock hyper-parameters (AlignDet's x1.5 / x0.5 row lists
    the CNN detectors only); 150 and 50 epochs (x0.1 at 40)."""
    ours = _finetune('detr_r50-aligndet_8xb2-50e_coco.py')
    assert check_types(ours) == []
    assert ours.load_from.endswith('aligndet_mmdet.pth')
    assert ours.optim_wrapper.optimizer.lr == 1e-4
    assert ours.train_cfg.max_epochs == 50
    assert ours.param_scheduler[0]['milestones'] == [40]
    assert ours.model.backbone.norm_cfg.requires_grad  # all BN trainable
    assert len(glob.glob(osp.join(CFG, 'finetune', 'detr_*.py'))) == 4


@pytest.mark.parametrize('pretrain, finetune', [
    ('aligndet_retinanet_r50_fpn_8xb2-12e_coco-proposals.py',
     'retinanet_r50-aligndet_fpn_8xb2-1x_coco.py'),
    ('aligndet_faster-rcnn_r50_fpn_8xb2-12e_coco-proposals.py',
     'faster-rcnn_r50-aligndet_fpn_8xb2-1x_coco.py'),
])
def test_r50_weights_convert_into_the_finetuning_detector(pretrain, finetune):
    """Everything but the classifier / regressor transfers; the
    SyncBN FPN's norms are missing and its conv biases unexpected."""
    model = MODELS.build(Config.fromfile(osp.join(CFG, pretrain)).model)
    converted, _ = convert_state_dict(model.state_dict())
    check = check_against_config(converted,
                                 osp.join(CFG, 'finetune', finetune))
    dropped = ('retina_cls', 'retina_reg', 'fc_cls', 'fc_reg')
    for key in check['missing']:
        parts = key.split('.')
        assert any(d in parts for d in dropped) or (
            parts[0] == 'neck' and 'bn' in parts), key
    assert check['unexpected'] and all(
        k.startswith('neck.') and k.endswith('conv.bias')
        for k in check['unexpected'])
    assert check['shape_mismatch'] == []
    assert not [k for k in check['missing'] if k.startswith(
        ('backbone.', 'rpn_head.', 'roi_head.bbox_head.shared'))]
