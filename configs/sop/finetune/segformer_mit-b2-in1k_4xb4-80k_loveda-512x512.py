# SegFormer MiT-B2 on LoveDA, all training labels, ImageNet init: mmseg's stock
# SegFormer B2 recipe (AdamW lr 6e-5, 1.5k warm-up, poly power 1) with its 160k
# schedule cut to 80k like the CNN recipes, evaluated every 1k iterations.
# Twin: segformer_mit-b2-sop_4xb4-80k_loveda-512x512.py
_base_ = [
    '../_base_/segformer_mit-b2.py', 'mmseg::_base_/datasets/loveda.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py',
    './_base_/finetune_common.py',
    '../../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=7))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'pos_block': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
        'head': dict(lr_mult=10.)
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=80000,
         by_epoch=False)
]
train_cfg = dict(val_interval=1000)
default_hooks = dict(
    checkpoint=dict(interval=8000, max_keep_ckpts=2, save_best='mIoU'))
