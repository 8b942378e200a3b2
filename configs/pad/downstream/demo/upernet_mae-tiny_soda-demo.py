# Tiny CPU twin of ../upernet_vit-b_2xb4-amp-14.4k_soda-512x512.py (baseline, no adapter) on
# the generated SODA-style data: the ViT of the PAD demo pre-training
# (configs/pad/demo/pad-mae_vit-tiny-p16_demo.py: 64-d, 2 heads, MLP 128; pre-trained
# with 4 blocks, see ./faster-rcnn_vit-tiny_simplefpn_flir-demo.py) at 96 px crops,
# blocks 0-3 -> Feature2Pyramid -> thin UperNet; BN instead of SyncBN, 40 iterations,
# slide inference 96 / 64.
#   python tools/generate_demo_data.py data/demo
#   (pre-train as in ./faster-rcnn_vit-tiny_simplefpn_flir-demo.py, then)
#   python tools/convert_pad_checkpoint.py work_dirs/pad_demo/epoch_6.pth \
#       checkpoints/demo/pad_vit-tiny_seg.pth --target seg --num-heads 2
#   python tools/train.py configs/pad/downstream/demo/upernet_mae-tiny_soda-demo.py
_base_ = ['../upernet_vit-b_2xb4-amp-14.4k_soda-512x512.py']

data_root = '{{$MMPAD_DATA_ROOT:data/demo}}/soda/'
crop_size = (96, 96)
scale = (384, 96)
embed_dims = 64
norm_cfg = dict(type='BN', requires_grad=True)
pretrained = 'checkpoints/demo/vit-tiny_seg.pth'

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        img_size=crop_size[0],
        embed_dims=embed_dims,
        num_layers=4,
        num_heads=2,
        mlp_ratio=2,
        out_indices=[0, 1, 2, 3],
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(embed_dim=embed_dims, norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=[embed_dims] * 4, channels=32, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=embed_dims, channels=16, norm_cfg=norm_cfg),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(64, 64)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=scale, ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# the decode heads start from random weights: gradient clipping keeps the first
# iterations finite on every machine (both twins inherit it)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(lr=1e-3),
    clip_grad=dict(max_norm=10, norm_type=2))
max_iters = 40
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
