# Baseline paradigms (b) / (c) of the PAD paper's Fig. 1 on FLIR: ViTDet-style Faster R-CNN with
# the plain ViT-B/16 backbone (no adapter), fine-tuned from an ImageNet MAE or a full
# MSIP continual pre-training checkpoint converted with
#   python tools/convert_pad_checkpoint.py PRETRAIN.pth checkpoints/vit-b_det.pth --target det
# The authors' recipe: ViT-B at 1024, window attention 14x14 except blocks 2, 5, 8, 11,
# decomposed relative positions (zero init), absolute position embedding kept at the
# 224 pre-training grid (CLS dropped) and interpolated in every forward as in ViTDet,
# drop-path 0.1; SimpleFPN (4, 2, 1,
# 0.5 + P6, LN); RPN 2 convs; 4conv1fc box head with LN; AdamW 1e-4, wd 0.1 (0 for
# norms and pos_embed), layer decay 0.7; batch 2, 53,172 iterations, lr x0.1 at
# 35,448 and 48,741, warm-up 250; AMP; seed 42.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
    './_base_/flir_lsj_detection.py',
    '../../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'

image_size = (1024, 1024)
norm_cfg = dict(type='LN2d', requires_grad=True)
pretrained = 'checkpoints/vit-b_det.pth'

model = dict(
    data_preprocessor=dict(
        mean=[96.9255] * 3,  # infrared statistics of the authors' downstream configs
        std=[47.8976] * 3,
        bgr_to_rgb=True,
        pad_size_divisor=32,
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size)]),
    backbone=dict(
        _delete_=True,
        type='PADViTDet',
        arch=dict(
            embed_dims=768,
            num_layers=12,
            num_heads=12,
            feedforward_channels=3072,
            global_attn_indexes=[2, 5, 8, 11]),
        img_size=1024,
        patch_size=16,
        pretrain_img_size=224,  # 14x14 table, interpolated to the input grid
        window_size=14,
        use_abs_pos=True,
        use_rel_pos=True,
        qkv_bias=True,
        drop_path_rate=0.1,
        norm_cfg=dict(type='LN', eps=1e-6),
        out_channels=0,  # no SAM neck: SimpleFPN reads the raw last map
        out_indices=[11],
        adapter_cfg=None,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        _delete_=True,
        type='SimpleFPN',
        backbone_channel=768,
        in_channels=[192, 384, 768, 768],
        out_channels=256,
        num_outs=5,
        norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            norm_cfg=norm_cfg,
            num_classes=3)))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    constructor='ViTLayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(
        layer_decay_rate=0.7,  # scale 0.7 ** (13 - layer id)
        norm_decay_mult=0.,
        custom_keys={'pos_embed': dict(decay_mult=0.)}))

# AMP with fp16 gradient compression in DDP (the authors' ViTDet recipe)
custom_hooks = [dict(type='Fp16CompressionHook')]

# 12 epochs x 8,862 images at batch 2
max_iters = 53172
val_interval = 8862
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[35448, 48741],
        gamma=0.1)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=val_interval,
        save_last=True,
        max_keep_ckpts=3))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
randomness = dict(seed=42)
auto_scale_lr = dict(enable=False, base_batch_size=2)
