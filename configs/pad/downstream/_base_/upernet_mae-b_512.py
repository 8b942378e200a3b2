# UperNet on the BEiT-style MAE ViT-B/16 at 512 px (the authors' recipe), shared by the SODA
# and MFNet configs: absolute position embedding interpolated 14^2 -> 32^2
# (trainable), per-block relative position bias (zero init), layer scale 1.0,
# drop-path 0.1, outputs of blocks 3/5/7/11 -> Feature2Pyramid (x4, x2, x1, x0.5) ->
# UPerHead (768 channels) + FCN auxiliary head on level 2 (loss 0.4). AdamW 1e-4,
# (0.9, 0.999), wd 0.05 with layer decay 0.65 (scale 0.65 ** (13 - id)); no decay on
# 1-D tensors, biases, pos_embed and cls_token (the authors' code decays the last two
# through a name mismatch; mmpad exempts them, as their detection recipe does); fp16;
# seed 0.
_base_ = [
    'mmseg::_base_/models/upernet_mae.py',
    'mmseg::_base_/default_runtime.py',
    '../../../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'

crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)
pretrained = 'checkpoints/vit-b_seg.pth'
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[96.9255] * 3,  # infrared statistics of the authors' downstream configs
    std=[47.8976] * 3,
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        _delete_=True,
        type='PADMAE',
        img_size=512,
        patch_size=16,
        in_channels=3,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        mlp_ratio=4,
        out_indices=[3, 5, 7, 11],
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        norm_cfg=dict(type='LN', eps=1e-6),
        act_cfg=dict(type='GELU'),
        init_values=1.0,
        adapter_cfg=None,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        type='Feature2Pyramid',
        embed_dim=768,
        rescales=[4, 2, 1, 0.5],
        norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=[768, 768, 768, 768],
        channels=768,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=768, norm_cfg=norm_cfg),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(2048, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]

# batch 8 (inferred from the authors' config comments): 2 GPUs x 4 images
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='AmpOptimWrapper',
    constructor='ViTLayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        layer_decay_rate=0.65,
        flat_decay_mult=0.,
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))

val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
