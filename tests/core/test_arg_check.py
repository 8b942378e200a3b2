"""Wrong-type and out-of-range constructor arguments of mmpad modules fail when the
module is built, with one InvalidArgumentError naming the owner, the argument, its
value and what is allowed (issue #13), instead of a bare TypeError deep inside or
being silently accepted."""
import math
import re

import numpy as np
import pytest

import mmpad  # noqa: F401
from mmpad.core.arg_check import (InvalidArgumentError, check_bool,
                                   check_choice, check_float, check_int,
                                   check_pair, check_size, check_str_list)


def test_the_helper():
    assert check_int('O', 'n', np.int64(3), 1) == 3
    assert check_float('O', 'x', 1, 0, 1) == 1.0
    assert check_pair('O', 'r', [0.2, 1]) == (0.2, 1.0)
    assert check_size('O', 's', 5) == (5, 5) and check_size('O', 's', (2, 3)) == (2, 3)
    assert check_bool('O', 'b', np.bool_(True)) is True
    cases = [
        (lambda: check_int('O', 'n', True, 0), "O: argument n=True is invalid: "
         "expected an int >= 0"),
        (lambda: check_int('O', 'n', 2.0, 0), 'n=2.0'),
        (lambda: check_float('O', 'x', math.nan, 0, 1), 'in [0, 1]'),
        (lambda: check_float('O', 'x', '0.5'), "x='0.5'"),
        (lambda: check_float('O', 'x', 1, 0, 1, hi_open=True), 'in [0, 1)'),
        (lambda: check_bool('O', 'b', 1), 'True or False'),
        (lambda: check_choice('O', 'c', 'z', ('a', 'b')), "'a' or 'b'"),
        (lambda: check_choice('O', 'c', 'z', ('a', 'b', 'c')), "one of 'a', 'b', 'c'"),
        (lambda: check_pair('O', 'r', (2, 1)), 'first <= second'),
        (lambda: check_pair('O', 'r', 'ab'), 'a pair of numbers'),
        (lambda: check_size('O', 's', (0, 3)), 'an int >= 1 or a pair'),
        (lambda: check_str_list('O', 'l', 'abc'), 'a list of strings'),
    ]
    for fn, text in cases:
        with pytest.raises(InvalidArgumentError) as info:
            fn()
        assert text in str(info.value), (str(info.value), text)
        assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def _roi_crop(**kw):
    from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop
    return ObjectSensitiveRandomRoICrop(**kw)


def _loader(**kw):
    from mmpad.datasets.transforms.loading import LoadImageFromFileSafe
    return LoadImageFromFileSafe(**kw)


def _sop(**kw):
    from mmpad.sop.subimage_overlap import SubimageOverlap
    return SubimageOverlap(**kw)


def _topk(**kw):
    from mmpad.aligndet.transforms import TopKProposals
    return TopKProposals(**kw)


def _filter(**kw):
    from mmpad.aligndet.transforms import \
        FilterAnnotationsWithIds
    return FilterAnnotationsWithIds(**kw)


def _adapter(**kw):
    from mmpad.core.adapters import PatchwiseScaleAdapter
    return PatchwiseScaleAdapter(**dict(dict(embed_dims=16), **kw))


def _msip(tmp_path, **kw):
    from mmpad.pad.msip import MSIPDataset
    return MSIPDataset(**dict(dict(data_root=str(tmp_path), lazy_init=True), **kw))


def _pad(**kw):
    from mmpretrain.registry import MODELS
    algorithm = dict(type='MAE', backbone=dict(type='MAEViT', arch='b'),
                     neck=dict(type='MAEPretrainDecoder'),
                     head=dict(type='MAEPretrainHead',
                               loss=dict(type='PixelReconstructionLoss',
                                         criterion='L2')))
    return MODELS.build(dict(dict(type='PAD', algorithm=algorithm), **kw))


def _cls(module, name):
    def build(**kw):
        import importlib
        return getattr(importlib.import_module(module), name)(**kw)
    return build


_loss = _cls('mmpad.aligndet.box_contrastive_loss', 'BoxContrastiveLoss')
_dice = _cls('mmpad.sop.binary_dice_loss', 'BinaryDiceLoss')
_fpn = _cls('mmpad.pad.simple_fpn', 'SimpleFPN')
_metric = _cls('mmpad.sop.metric', 'SOPIoUMetric')
_retina = _cls('mmpad.aligndet.retina_embed_head', 'RetinaEmbedHead')
_fcos = _cls('mmpad.aligndet.fcos_embed_head', 'FCOSEmbedHead')
_bbox = _cls('mmpad.aligndet.embed_bbox_head', 'Shared2FCEmbedBBoxHead')
_momentum = _cls('mmpad.aligndet.momentum_hook', 'AlignDetMomentumHook')
_delayed = _cls('mmpad.pad.delayed_scale_hook', 'DelayedScaleHook')
_nonfinite = _cls('mmpad.engine.hooks.nonfinite_loss_hook', 'NonFiniteLossHook')
_adapter_ckpt = _cls('mmpad.pad.adapter_checkpoint_hook',
                     'AdapterCheckpointHook')
_sync = _cls('mmpad.engine.hooks.gradient_sync_check_hook', 'GradientSyncCheckHook')
_pretrainer = _cls('mmpad.aligndet.pretrainer', 'AlignDetPretrainer')
_badlog = _cls('mmpad.engine.hooks.bad_sample_logger_hook', 'BadSampleLoggerHook')


def _hook(**kw):
    from mmpad.pad.roi_crop_stats_hook import RoICropStatsHook
    return RoICropStatsHook(**kw)


BAD = [
    # (builder, kwargs, owner, argument)
    (_roi_crop, dict(min_size='60'), 'ObjectSensitiveRandomRoICrop', 'min_size'),
    (_roi_crop, dict(min_size=0), 'ObjectSensitiveRandomRoICrop', 'min_size'),
    (_roi_crop, dict(p=1.5), 'ObjectSensitiveRandomRoICrop', 'p'),
    (_roi_crop, dict(p='0.85'), 'ObjectSensitiveRandomRoICrop', 'p'),
    (_roi_crop, dict(jitter=-0.1), 'ObjectSensitiveRandomRoICrop', 'jitter'),
    (_roi_crop, dict(scale_range=1.5), 'ObjectSensitiveRandomRoICrop',
     'scale_range'),
    (_roi_crop, dict(scale_range=(1.5, 0.7)), 'ObjectSensitiveRandomRoICrop',
     'scale_range'),
    (_roi_crop, dict(max_roi_attempts=0), 'ObjectSensitiveRandomRoICrop',
     'max_roi_attempts'),
    (_roi_crop, dict(size=(224, )), 'ObjectSensitiveRandomRoICrop', 'size'),
    (_roi_crop, dict(large_area_ratio=2), 'ObjectSensitiveRandomRoICrop',
     'large_area_ratio'),
    (_roi_crop, dict(use_roi='yes'), 'ObjectSensitiveRandomRoICrop', 'use_roi'),
    (_roi_crop, dict(crop_ratio_range=(0, 1)), 'ObjectSensitiveRandomRoICrop',
     'crop_ratio_range'),
    (_roi_crop, dict(interpolation='cubic'), 'ObjectSensitiveRandomRoICrop',
     'interpolation'),
    (_loader, dict(min_size=-1), 'LoadImageFromFileSafe', 'min_size'),
    (_loader, dict(min_size=(1, 2, 3)), 'LoadImageFromFileSafe', 'min_size'),
    (_loader, dict(strict='false'), 'LoadImageFromFileSafe', 'strict'),
    (_loader, dict(high_bit_depth='scale'), 'LoadImageFromFileSafe',
     'high_bit_depth'),
    (_loader, dict(max_pixels=0), 'LoadImageFromFileSafe', 'max_pixels'),
    (_loader, dict(color_type='rgb'), 'LoadImageFromFileSafe', 'color_type'),
    (_loader, dict(to_float32=1), 'LoadImageFromFileSafe', 'to_float32'),
    (_sop, dict(scale=0.5), 'SubimageOverlap', 'scale'),
    (_sop, dict(ratio=(2, 1)), 'SubimageOverlap', 'ratio'),
    (_sop, dict(p_neg=-0.5), 'SubimageOverlap', 'p_neg'),
    (_sop, dict(seed='0'), 'SubimageOverlap', 'seed'),
    (_sop, dict(fill=300), 'SubimageOverlap', 'fill'),
    (_sop, dict(photometric='yes'), 'SubimageOverlap', 'photometric'),
    (_sop, dict(photometric=dict(brightness='a lot')), 'SubimageOverlap',
     'photometric.brightness'),
    (_sop, dict(min_overlap=0), 'SubimageOverlap', 'min_overlap'),
    (_topk, dict(topk=0), 'TopKProposals', 'topk'),
    (_topk, dict(topk=2.5), 'TopKProposals', 'topk'),
    (_topk, dict(random='no'), 'TopKProposals', 'random'),
    (_filter, dict(min_gt_bbox_wh=1), 'FilterAnnotationsWithIds', 'min_gt_bbox_wh'),
    (_filter, dict(min_gt_bbox_wh=(-1, 1)), 'FilterAnnotationsWithIds',
     'min_gt_bbox_wh'),
    (_adapter, dict(bottleneck=0), 'PatchwiseScaleAdapter', 'bottleneck'),
    (_adapter, dict(bottleneck=8.0), 'PatchwiseScaleAdapter', 'bottleneck'),
    (_adapter, dict(dropout=1.0), 'PatchwiseScaleAdapter', 'dropout'),
    (_adapter, dict(dropout='0.1'), 'PatchwiseScaleAdapter', 'dropout'),
    (_adapter, dict(scale_mode='Concat'), 'PatchwiseScaleAdapter', 'scale_mode'),
    (_adapter, dict(embed_dims='16'), 'PatchwiseScaleAdapter', 'embed_dims'),
    (_adapter, dict(constant=float('inf')), 'PatchwiseScaleAdapter', 'constant'),
    (_adapter, dict(layer_idx=12, num_layers=12), 'PatchwiseScaleAdapter',
     'layer_idx'),
    (_pad, dict(adapter=dict(bottleneck='64')), 'PAD', 'bottleneck'),
    (_pad, dict(adapter=dict(botleneck=64)), 'PAD', 'adapter'),
    (_pad, dict(adapter=[64]), 'PAD', 'adapter'),
    (_pad, dict(frozen='backbone.'), 'PAD', 'frozen'),
    (_pad, dict(trainable='adapter'), 'PAD', 'trainable'),
    (_hook, dict(warn_threshold=5), 'RoICropStatsHook', 'warn_threshold'),
    (_loss, dict(temperature=0), 'BoxContrastiveLoss', 'temperature'),
    (_loss, dict(gather_negatives='yes'), 'BoxContrastiveLoss', 'gather_negatives'),
    (_dice, dict(smooth=-1), 'BinaryDiceLoss', 'smooth'),
    (_fpn, dict(backbone_channel=768, in_channels=[192, 384, 768, 768],
                out_channels=256, num_outs='5'), 'SimpleFPN', 'num_outs'),
    (_metric, dict(ignore_index='255'), 'SOPIoUMetric', 'ignore_index'),
    (_retina, dict(embed_dim=0), 'RetinaEmbedHead', 'embed_dim'),
    (_fcos, dict(num_samples=-1), 'FCOSEmbedHead', 'num_samples'),
    (_bbox, dict(embed_dim='256'), 'Shared2FCEmbedBBoxHead', 'embed_dim'),
    (_momentum, dict(base_momentum=1.1), 'AlignDetMomentumHook', 'base_momentum'),
    (_momentum, dict(end_momentum=0.5), 'AlignDetMomentumHook', 'end_momentum'),
    (_delayed, dict(ratio='0.6'), 'DelayedScaleHook', 'ratio'),
    (_nonfinite, dict(action='ignore'), 'NonFiniteLossHook', 'action'),
    (_adapter_ckpt, dict(interval=0), 'AdapterCheckpointHook', 'interval'),
    (_adapter_ckpt, dict(keys='adapter'), 'AdapterCheckpointHook', 'keys'),
    (_sync, dict(interval=0.5), 'GradientSyncCheckHook', 'interval'),
    (_badlog, dict(interval=0), 'BadSampleLoggerHook', 'interval'),
    (_pretrainer, dict(detector=dict(type='RetinaNet'), copy_param_keys='query'),
     'AlignDetPretrainer', 'copy_param_keys'),
]


@pytest.mark.parametrize('builder,kwargs,owner,name', BAD,
                         ids=[f'{o}-{n}-{i}' for i, (_, _, o, n) in enumerate(BAD)])
def test_bad_constructor_arguments_name_argument_value_and_range(
        builder, kwargs, owner, name):
    with pytest.raises(InvalidArgumentError) as info:
        builder(**kwargs)
    msg = str(info.value)
    assert msg.startswith(f'{owner}: argument {name}='), msg
    assert 'expected' in msg
    value = kwargs[name] if name in kwargs else next(iter(kwargs.values()))
    if not isinstance(value, dict):
        assert repr(value)[:20] in msg or repr(tuple(value))[:20] in msg, msg


def test_msip_dataset_arguments(tmp_path):
    for kw, name in ((dict(data_ratio=0), 'data_ratio'),
                     (dict(data_ratio='0.5'), 'data_ratio'),
                     (dict(subsets=[1, 2]), 'subsets'),
                     (dict(load_rois='yes'), 'load_rois'),
                     (dict(strict=None), 'strict'),
                     (dict(data_root=None), 'data_root')):
        with pytest.raises(InvalidArgumentError,
                           match=rf'^MSIPDataset: argument {name}='):
            _msip(tmp_path, **kw)


def test_good_arguments_still_build():
    assert _roi_crop(size=[32, 48], p=0.85, scale_range=[0.7, 1.5]).scale == (32, 48)
    assert _loader(min_size=np.int64(8), max_pixels=None).min_size == (8, 8)
    assert _sop(scale=[0.2, 0.4], photometric=dict(hue=0.1), seed=3).seed == 3
    assert _adapter(bottleneck=np.int64(4), dropout=0).bottleneck == 4


@pytest.mark.parametrize('in_channels, bad', [
    ([8, 'x'], 'in_channels[1]'), ([8, 0], 'in_channels[1]'), ('88', 'in_channels'),
    ([], 'in_channels'), ([True, 8], 'in_channels[0]')])
def test_siamese_fusion_arguments(in_channels, bad):
    from mmpad.sop.siamese_fusion import SiameseGAPFusion
    with pytest.raises(InvalidArgumentError, match=rf'SiameseGAPFusion: argument '
                       rf'{re.escape(bad)}='):
        SiameseGAPFusion(in_channels)
    assert SiameseGAPFusion([None, 8]).in_channels == (None, 8)  # control


@pytest.mark.parametrize('constructor', [
    'mmpad.pad.layer_decay.ViTLayerDecayOptimWrapperConstructor',
    'mmpad.pad.layer_decay.SelfSupLayerDecayOptimWrapperConstructor'])
@pytest.mark.parametrize('rate', [0, 1.5, 'x', float('nan')])
def test_layer_decay_rate_is_checked(constructor, rate):
    import importlib

    import torch.nn as nn
    module, name = constructor.rsplit('.', 1)
    cls = getattr(importlib.import_module(module), name)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Linear(2, 2)
            self.backbone.num_layers = 1
            self.backbone.get_layer_depth = lambda name, prefix='': (0, 3)

    build = cls(optim_wrapper_cfg=dict(type='OptimWrapper',
                                       optimizer=dict(type='AdamW', lr=1e-3)),
                paramwise_cfg=dict(layer_decay_rate=rate))
    with pytest.raises(InvalidArgumentError, match='layer_decay_rate'):
        build(Tiny())
