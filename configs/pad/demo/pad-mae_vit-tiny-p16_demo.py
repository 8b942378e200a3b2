# Tiny PAD-MAE for CPU demos and tests: ../pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py
# at demo scale (./_base_/mae_vit-tiny-p16_msip-demo.py: 64-d, 4-block ViT at 64 px,
# generated MSIP data). Start it from a plain MAE checkpoint with
# `--cfg-options load_from=...` (the demo trains one with ./mae_vit-tiny-p16_demo.py
# as the stand-in for the ImageNet-1k weights).
_base_ = ['./_base_/mae_vit-tiny-p16_msip-demo.py']

model = dict(
    _delete_=True,
    type='PAD',
    algorithm={{_base_.model}},
    adapter=dict(bottleneck=8, dropout=0.1, scale_mode='concat'))

# the held scale predictor gets no gradient: DDP must look for unused parameters
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
find_unused_parameters = True

custom_hooks = [
    dict(type='DelayedScaleHook', ratio=0.6),  # held epochs 0-4, learns in 5
    dict(type='AdapterCheckpointHook', interval=3, save_last=True),
]
