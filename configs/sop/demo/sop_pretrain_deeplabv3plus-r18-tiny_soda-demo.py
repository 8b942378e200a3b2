# SOP pre-training at demo size: the tiny DeepLabV3+ (early fusion) on the generated
# SODA-style infrared images used as an unlabeled pool (train list), pretext IoU on
# the held-out test list with 4 fixed boxes per image. ~30 s on one CPU core.
# Differences from the full recipe, for CPU: 64 px parents, 200 iterations, lr 3e-3,
# and the pretext mask read at mmseg's default binary threshold 0.3 instead of 0.5
# (after a few hundred iterations the probabilities are still under-confident: the
# maximum stays below 0.5 while the 0.3 mask already beats box-prior baselines).
#   python tools/generate_demo_data.py data/demo
#   python tools/train.py configs/sop/demo/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py
#   python tools/sop_to_seg.py \
#       work_dirs/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo/iter_200.pth \
#       work_dirs/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo/sop_to_seg.pth
#   python tools/train.py configs/sop/demo/finetune_deeplabv3plus-r18-tiny_soda_sop-demo.py
_base_ = [
    './_base_/deeplabv3plus-r18-tiny.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/sop_schedule_40k.py',
    '../_base_/sop_model.py',
    '../../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

# MMPAD_DATA_ROOT (default data/demo) points demo configs at generated or real data.
data_root = '{{$MMPAD_DATA_ROOT:data/demo}}/soda/'
crop_size = (64, 64)
img_scale = (128, 96)

model = dict(
    type='SOPEncoderDecoder',
    fusion='early',
    data_preprocessor={{_base_.sop_data_preprocessor}},
    # the binary head of ../_base_/sop_model.py with the demo threshold (see header)
    decode_head=dict(
        num_classes=2, out_channels=1, threshold=0.3,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0,
                 loss_name='loss_bce'),
            dict(type='BinaryDiceLoss', loss_weight=1.0, loss_name='loss_dice'),
        ]))

sop_meta_keys = ('img_path', 'ori_shape', 'img_shape', 'pad_shape', 'flip',
                 'flip_direction', 'sop_box', 'sop_negative')
train_pipeline = [
    dict(type='LoadImageFromFileSafe', min_size=crop_size),  # skips bad files
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.25),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='SubimageOverlap', scale=(0.15, 0.5), photometric=True),
    dict(type='PackSegInputs', meta_keys=sop_meta_keys),
]
val_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='CenterCrop', crop_size=crop_size, auto_pad=True),
    dict(type='SubimageOverlap', scale=(0.15, 0.5), photometric=False, seed=0),
    dict(type='PackSegInputs', meta_keys=sop_meta_keys),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='SOPUnlabeledDataset', data_root=data_root,
        data_prefix=dict(img_path='JPEGImages'),
        ann_file='ImageSets/Segmentation/train_infrared.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SOPUnlabeledDataset', data_root=data_root,
        data_prefix=dict(img_path='JPEGImages'),
        ann_file='ImageSets/Segmentation/test_infrared.txt',
        repeat=4, test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SOPIoUMetric')
test_evaluator = val_evaluator

max_iters = 200
optim_wrapper = dict(
    optimizer=dict(lr=3e-3), clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=5, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_best=None),
    visualization=dict(type='SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
