# A small RetinaNet on the generated FLIR-style infrared data: the smoke-test config of
# the foundation (CPU training, resume, dist_train.sh, `mim train mmdet`).
# It is the stock mmdet RetinaNet config with a thin ResNet-18 and small images.
#   python tools/generate_demo_data.py data/demo
#   python tools/train.py configs/foundation/retinanet_r18-tiny_flir-demo.py
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '../_base_/vis_backends.py']

# TensorBoard next to the local files (../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'

# MMPAD_DATA_ROOT (default data/demo) points demo configs at generated or real data.
data_root = '{{$MMPAD_DATA_ROOT:data/demo}}/flir/'
classes = ('person', 'bicycle', 'car')
img_scale = (320, 256)

model = dict(
    data_preprocessor=dict(mean=[96.9255] * 3, std=[47.8976] * 3),
    backbone=dict(depth=18, base_channels=16, frozen_stages=-1, norm_eval=False,
                  init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    bbox_head=dict(num_classes=3, in_channels=32, feat_channels=32,
                   stacked_convs=1))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor'))
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(
        data_root=data_root, metainfo=dict(classes=classes),
        ann_file='train/thermal_annotations.json',
        data_prefix=dict(img='train/'), pipeline=train_pipeline,
        filter_cfg=dict(filter_empty_gt=True, min_size=0)))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(
        data_root=data_root, metainfo=dict(classes=classes),
        ann_file='val/thermal_annotations.json',
        data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val/thermal_annotations.json')
test_evaluator = val_evaluator

train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=40, val_interval=40)
# Random initialisation, batch 2, SGD 0.01: what keeps it stable on every machine
# and thread count is what mmdet's from-scratch recipes use, a warm-up from 1e-3 x lr
# (here 20 of the 40 iterations) and gradient clipping (a focal-loss spike of a
# random RetinaNet otherwise throws the weights to NaN). The AlignDet-initialised
# twin inherits both, so the comparison stays fair.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=20),
]
optim_wrapper = dict(
    optimizer=dict(lr=0.01), clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=20, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False)

# fixed seed: the demo compares twins, which must differ only in their initialisation
randomness = dict(seed=0)
