"""Tiny SOP / stock segmentor configs and hand-made batches for CPU tests."""
import copy

import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData

NORM = dict(type='BN', requires_grad=True)
BINARY = dict(
    num_classes=2, out_channels=1, threshold=0.5,
    loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0,
             loss_name='loss_bce'),
        dict(type='BinaryDiceLoss', loss_weight=1.0, loss_name='loss_dice')])


def _preprocessor(channels):
    return dict(type='SegDataPreProcessor', mean=[120.0] * channels,
                std=[60.0] * channels, size_divisor=32)


def deeplab_cfg(sop=True, fusion='early', num_classes=21, aux=True, **extra):
    """DeepLabV3+ with a ResNetV1c-18 of 16 base channels (+ FCN aux head)."""
    head = dict(BINARY) if sop else dict(num_classes=num_classes)
    cfg = dict(
        type='SOPEncoderDecoder' if sop else 'EncoderDecoder',
        data_preprocessor=_preprocessor(6 if sop else 3),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=16,
                      base_channels=16, out_indices=(0, 1, 2, 3),
                      dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                      norm_cfg=NORM, contract_dilation=True),
        decode_head=dict(type='DepthwiseSeparableASPPHead', in_channels=128,
                         in_index=3, channels=32, dilations=(1, 2, 4, 6),
                         c1_in_channels=16, c1_channels=8, dropout_ratio=0.1,
                         norm_cfg=NORM, align_corners=False, **head),
        auxiliary_head=dict(type='FCNHead', in_channels=64, in_index=2,
                            channels=16, num_convs=1, concat_input=False,
                            norm_cfg=NORM, align_corners=False,
                            **copy.deepcopy(head)) if aux else None,
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    if sop:
        cfg['fusion'] = fusion
        if fusion == 'siamese_gap':
            cfg['fusion_channels'] = [16, None, 64, 128]  # stage 1: no head
            cfg['sub_size'] = 32
    cfg.update(extra)
    return ConfigDict(cfg)


def vit_cfg(sop=True, num_classes=21, **extra):
    """UPerNet on a 2-layer ViT (patch 8, 32 dims) with a multi-level neck."""
    head = dict(BINARY) if sop else dict(num_classes=num_classes)
    cfg = dict(
        type='SOPEncoderDecoder' if sop else 'EncoderDecoder',
        data_preprocessor=_preprocessor(6 if sop else 3),
        backbone=dict(type='SOPVisionTransformer' if sop else 'VisionTransformer',
                      img_size=(64, 64), patch_size=8, embed_dims=32, num_layers=2,
                      num_heads=2, mlp_ratio=2, out_indices=(0, 1),
                      final_norm=True, norm_cfg=dict(type='LN', eps=1e-6)),
        neck=dict(type='MultiLevelNeck', in_channels=[32, 32], out_channels=32,
                  scales=[2, 1]),
        decode_head=dict(type='UPerHead', in_channels=[32, 32], in_index=[0, 1],
                         pool_scales=(1, 2), channels=16, dropout_ratio=0.1,
                         norm_cfg=NORM, align_corners=False, **head),
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    if sop:
        cfg.update(fusion='token_concat', sub_size=32)
    cfg.update(extra)
    return ConfigDict(cfg)


def boxes_batch(n=2, h=64, w=64, channels=6, seed=0):
    """Random inputs and SegDataSamples whose target is a box per image."""
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, channels, h, w, generator=g)
    samples = []
    for i in range(n):
        gt = torch.zeros(1, h, w, dtype=torch.long)
        y0, x0 = 4 + 3 * i, 8 + 2 * i
        gt[:, y0:y0 + h // 3, x0:x0 + w // 4] = 1
        s = SegDataSample(gt_sem_seg=PixelData(data=gt))
        s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        samples.append(s)
    return inputs, samples


def build(cfg):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    return model
