# Tiny CPU twin of ../faster-rcnn_vit-b_simplefpn_2xb1-amp-lsj-53k_flir-1024x1024.py (baseline, no
# adapter) on the generated FLIR-style data: the ViT of the PAD demo pre-training
# (configs/pad/demo/pad-mae_vit-tiny-p16_demo.py: 64-d, 2 heads, MLP 128; pre-trained
# with 4 blocks, see the commands below) at 128 px (window 4, global attention in
# blocks 1 and 3), thin SimpleFPN / heads, 60 iterations.
#   python tools/generate_demo_data.py data/demo
#   python tools/train.py configs/pad/demo/pad-mae_vit-tiny-p16_demo.py \
#       --work-dir work_dirs/pad_demo \
#       --cfg-options model.algorithm.backbone.arch.num_layers=4
#   python tools/convert_pad_checkpoint.py work_dirs/pad_demo/epoch_6.pth \
#       checkpoints/demo/pad_vit-tiny_det.pth --target det --num-heads 2
#   (baseline: the same with --drop-adapters and OUT checkpoints/demo/vit-tiny_det.pth)
#   python tools/train.py configs/pad/downstream/demo/faster-rcnn_vit-tiny_simplefpn_flir-demo.py
_base_ = ['../faster-rcnn_vit-b_simplefpn_2xb1-amp-lsj-53k_flir-1024x1024.py']

# MMPAD_DATA_ROOT (default data/demo) points demo configs at generated or real data.
data_root = '{{$MMPAD_DATA_ROOT:data/demo}}/flir/'
image_size = (128, 128)
embed_dims = 64
pretrained = 'checkpoints/demo/vit-tiny_det.pth'

model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size)]),
    backbone=dict(
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=2,
            feedforward_channels=2 * embed_dims,
            global_attn_indexes=[1, 3]),
        img_size=image_size[0],
        pretrain_img_size=64,  # the PAD demo pre-trains at 64 px
        window_size=4,
        out_indices=[3],
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[16, 32, 64, 64],
        out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(
            in_channels=32, conv_out_channels=32, fc_out_channels=64)),
    # fewer proposals / sampled RoIs than the 1024 px recipe: 128 px images
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(max_per_img=50)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomResize',
        scale=image_size,
        ratio_range=(0.8, 1.25),  # milder jitter than 0.1-2.0 for 60 iterations
        keep_ratio=True),
    dict(
        type='RandomCrop',
        crop_type='absolute_range',
        crop_size=image_size,
        recompute_bbox=True,
        allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val/thermal_annotations.json')
test_evaluator = val_evaluator

# the heads start from random weights: gradient clipping keeps the first
# iterations finite on every machine (both twins inherit it)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(lr=1e-3),
    clip_grad=dict(max_norm=10, norm_type=2))
max_iters = 60
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
