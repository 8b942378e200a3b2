# Fine-tuning at demo size: the stock (3-channel, 21-class) tiny DeepLabV3+ of
# sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py on the generated SODA-style
# segmentation set, mIoU (mmseg IoUMetric) on its test list. Random initialisation;
# the SOP-initialised twin is finetune_deeplabv3plus-r18-tiny_soda_sop-demo.py.
_base_ = [
    './_base_/deeplabv3plus-r18-tiny.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
    '../finetune/_base_/finetune_common.py',
    '../../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

# MMPAD_DATA_ROOT (default data/demo) points demo configs at generated or real data.
data_root = '{{$MMPAD_DATA_ROOT:data/demo}}/soda/'
crop_size = (64, 64)
img_scale = (128, 96)
soda_metainfo = dict(classes=(
    'background', 'person', 'building', 'tree', 'road', 'pole', 'grass', 'door',
    'table', 'chair', 'car', 'bicycle', 'lamp', 'monitor', 'trafficCone',
    'trash can', 'animal', 'fence', 'sky', 'river', 'sidewalk'))

model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=21))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.25),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
dataset = dict(
    type='BaseSegDataset', data_root=data_root, metainfo=soda_metainfo,
    img_suffix='.jpg', seg_map_suffix='.png',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(ann_file='ImageSets/Segmentation/train_infrared.txt',
                 pipeline=train_pipeline, **dataset))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(ann_file='ImageSets/Segmentation/test_infrared.txt',
                 pipeline=test_pipeline, **dataset))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 60
# random initialisation (this config) and SOP initialisation (its twin) alike: a
# short warm-up and gradient clipping keep SGD 0.01 finite on every machine
optim_wrapper = dict(
    optimizer=dict(lr=0.01),
    clip_grad=dict(_delete_=True, max_norm=10, norm_type=2))  # stock: None
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=10, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=20)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
