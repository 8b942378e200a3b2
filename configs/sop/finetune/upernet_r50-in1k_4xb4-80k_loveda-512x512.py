# UPerNet R-50 on LoveDA, all training labels, ImageNet init: mmseg's stock model,
# dataset, runtime and 80k schedule (as upernet_r50_4xb4-80k_ade20k with LoveDA data),
# evaluated every 1k iterations. Twin: upernet_r50-sop_4xb4-80k_loveda-512x512.py
_base_ = [
    'mmseg::_base_/models/upernet_r50.py', 'mmseg::_base_/datasets/loveda.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py',
    './_base_/finetune_common.py',
    '../../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=7),
    auxiliary_head=dict(num_classes=7))
train_cfg = dict(val_interval=1000)
default_hooks = dict(
    checkpoint=dict(interval=8000, max_keep_ckpts=2, save_best='mIoU'))
