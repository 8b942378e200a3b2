"""check_checkpoint_compatible: a checkpoint that does not fit the model is refused
with one message naming the file and the problem; the normal partial loads pass."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

import mmpad  # noqa: F401
from mmpad.core import CheckpointMismatchError, check_checkpoint_compatible
from mmpad.core.checkpoint.compat import tensor_state_dict
from mmpad_test_utils import REPO

PAD_DEMO = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')
DET_DEMO = osp.join(REPO, 'configs/foundation/retinanet_r18-tiny_flir-demo.py')


def _pad_mae(bottleneck=8, scale_mode='concat', embed_dims=None, adapters=True):
    """The tiny PAD-MAE of the demo (4 blocks, 64-d) or its stock MAE."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = copy.deepcopy(Config.fromfile(PAD_DEMO).model)
    cfg.adapter.bottleneck = bottleneck
    cfg.adapter.scale_mode = scale_mode
    if embed_dims:
        cfg.algorithm.backbone.arch.embed_dims = embed_dims
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build((cfg if adapters else cfg.algorithm).to_dict())


def _resnet18_state():
    from mmdet.models.backbones import ResNet
    return ResNet(depth=18).state_dict()


def _retinanet(num_classes):
    from mmengine.registry import DefaultScope
    from mmdet.registry import MODELS
    cfg = copy.deepcopy(Config.fromfile(DET_DEMO).model)
    cfg.bbox_head.num_classes = num_classes
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.to_dict())


@pytest.fixture(scope='module')
def pad8():
    return _pad_mae(bottleneck=8)


def _refused(model, state, **kwargs):
    with pytest.raises(CheckpointMismatchError) as err:
        check_checkpoint_compatible(model, state, '/ckpts/bad.pth', **kwargs)
    message = str(err.value)
    assert message.startswith('checkpoint /ckpts/bad.pth does not fit ')
    assert '\n' not in message  # one line for tools/train.py
    return message


# ------------------------------------------------------------------ PAD models
def test_own_checkpoint_fits(pad8):
    report = check_checkpoint_compatible(pad8, pad8.state_dict(), 'own.pth',
                                         resume=True)
    assert not (report.missing or report.unexpected or report.shape_mismatch)


def test_adapter_bottleneck_mismatch_names_both_sizes(pad8):
    message = _refused(pad8, _pad_mae(bottleneck=4).state_dict())
    assert ('adapter bottleneck in checkpoint is 4, config has 8 (model '
            'backbone.layers.0.adapter.down.weight: checkpoint (4, 64) vs model '
            '(8, 64))') in message
    assert 'model.adapter.bottleneck' in message
    assert 'checkpoint_compat_check=False' in message


def test_adapter_scale_mode_mismatch(pad8):
    message = _refused(pad8, _pad_mae(scale_mode='sum').state_dict())
    assert 'adapter tensors have another shape' in message
    assert 'scale_pred.weight: checkpoint (1, 64) vs model (1, 128)' in message
    message = _refused(pad8, _pad_mae(scale_mode='constant').state_dict())
    assert 'the adapter tensors differ' in message and 'scale_pred' in message


def test_stock_checkpoint_starts_pad_with_adapters_at_init(pad8):
    """PAD's design: an adapter-less (ImageNet) checkpoint loads into the PAD
    model, the adapters keep their init. Only not when resuming."""
    stock = _pad_mae(adapters=False).state_dict()
    report = check_checkpoint_compatible(pad8, stock, 'mae_in1k.pth')
    assert not report.missing and len(report.tolerated_missing) == 4 * 7
    assert '28 adapter tensors not in the checkpoint keep their init' in \
        report.counts()
    message = _refused(pad8, stock, resume=True)
    assert 'resuming needs a checkpoint of this very model' in message


def test_pad_checkpoint_into_model_without_adapters():
    message = _refused(_pad_mae(adapters=False), _pad_mae().state_dict())
    assert 'holds 28 adapter tensors (a PAD checkpoint) but the model has no ' \
        'adapters' in message


def test_resnet_checkpoint_into_vit(pad8):
    message = _refused(pad8, _resnet18_state())
    assert ('no tensor name matches the model: this looks like a checkpoint of '
            "a different architecture (checkpoint keys look like 'conv1.weight'"
            ) in message
    assert "model keys like 'backbone.cls_token'" in message


def test_vit_of_another_width(pad8):
    message = _refused(pad8, _pad_mae(embed_dims=96).state_dict())
    assert 'backbone tensors have another shape' in message
    assert 'backbone.cls_token: checkpoint (1, 1, 96) vs model (1, 1, 64)' in \
        message


def test_prefixes_and_wrappers(pad8):
    # mmengine strips 'module.' and unwraps 'state_dict': so does the check
    ddp = {'meta': {}, 'state_dict': {'module.' + k: v
                                      for k, v in pad8.state_dict().items()}}
    check_checkpoint_compatible(pad8, tensor_state_dict(ddp), 'ddp.pth')
    # a prefix mmengine does not strip is named with the fix
    message = _refused(pad8, {'model.' + k: v
                              for k, v in pad8.state_dict().items()})
    assert ("with the prefix 'model.' removed from the checkpoint keys, 102 "
            'would match') in message
    # a timm-style {'model': {...}} checkpoint holds no tensors at the top
    message = _refused(pad8, tensor_state_dict({'model': pad8.state_dict()}))
    assert 'the checkpoint holds no tensors' in message


# ------------------------------------------------------------------- detectors
def test_coco_detector_into_three_class_detector():
    """Fine-tuning a COCO (80-class) detector on FLIR (3 classes): only the
    classifier's shape differs, which mmengine skips; allowed."""
    report = check_checkpoint_compatible(
        _retinanet(3), _retinanet(80).state_dict(), 'retinanet_coco.pth')
    assert [k for k, _, _ in report.shape_mismatch] == [
        'bbox_head.retina_cls.weight', 'bbox_head.retina_cls.bias']


def test_converted_and_backbone_only_checkpoints_load():
    model, source = _retinanet(3), _retinanet(3).state_dict()
    no_heads = {k: v for k, v in source.items()
                if 'retina_cls' not in k and 'retina_reg' not in k}
    check_checkpoint_compatible(model, no_heads, 'aligndet_mmdet.pth')
    backbone = {k: v for k, v in source.items() if k.startswith('backbone.')}
    check_checkpoint_compatible(model, backbone, 'backbone.pth')
    # the same backbone without its 'backbone.' prefix loads nothing
    message = _refused(model, {k[len('backbone.'):]: v
                               for k, v in backbone.items()})
    assert "with the prefix 'backbone.' removed from the model keys" in message
    assert "model.backbone.init_cfg=dict(type='Pretrained'" in message


def test_aligndet_pretraining_checkpoint_needs_conversion():
    model = _retinanet(3)
    state = {f'{side}.{k}': v for side in ('online', 'target')
             for k, v in model.state_dict().items()}
    message = _refused(model, state)
    assert 'AlignDet pre-training checkpoint: convert it with ' \
        'tools/aligndet_to_mmdet.py' in message


# ------------------------------------------------------ the threshold (rule 4)
class _Toy(nn.Module):
    def __init__(self, head=10):
        super().__init__()
        self.body = nn.Linear(100, 100)  # 10,100 values
        self.head = nn.Linear(10, head)


def test_too_little_fits_on_both_sides():
    model = _Toy()
    # only the head and the body's bias fit (210 of 10,210 model values), and
    # the checkpoint is mostly something else (a 200 x 100 body, other.*)
    state = dict(_Toy().state_dict(), **{'body.weight': torch.zeros(200, 100),
                                         'other.weight': torch.zeros(300, 100)})
    message = _refused(model, state)
    assert "only 0% of the checkpoint's values fit the model, covering 2% of " \
        'it (threshold 50%)' in message
    # the threshold is an option; 0 switches rule 4 off
    check_checkpoint_compatible(model, state, 'x.pth', min_loaded_fraction=0)
    # a checkpoint that is mostly used passes, even if it covers little
    head_only = {k: v for k, v in _Toy().state_dict().items()
                 if k.startswith('head.')}
    check_checkpoint_compatible(model, head_only, 'head.pth')


# ---------------------------------------- the downstream PAD backbones' init_cfg
def test_pretrained_init_of_a_downstream_vit_refuses_a_resnet(tmp_path):
    """PADViTDet(init_cfg=Pretrained) used to load nothing from a ResNet
    checkpoint without a word when it had no adapters."""
    from mmpad.pad.pad_vit_det import PADViTDet
    path = str(tmp_path / 'resnet18.pth')
    torch.save({'state_dict': _resnet18_state()}, path)
    arch = dict(embed_dims=64, num_layers=2, num_heads=2,
                feedforward_channels=128, global_attn_indexes=[1])
    for adapter_cfg in (None, dict(bottleneck=8)):
        backbone = PADViTDet(
            arch=arch, img_size=64, window_size=2, out_channels=0,
            out_indices=[1], adapter_cfg=adapter_cfg,
            init_cfg=dict(type='Pretrained', checkpoint=path))
        with pytest.raises(CheckpointMismatchError,
                           match='no tensor name matches') as err:
            backbone.init_weights()
        assert path in str(err.value)
        assert 'checkpoint_compat_check' not in str(err.value)
