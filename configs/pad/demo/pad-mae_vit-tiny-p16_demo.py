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

# DDP needs no find_unused_parameters: the held scale predictor stays in the graph
# with a zero gradient (see DelayedScaleHook)
# The unit tests of the PAD hooks train this model from random weights; a real run
# starts from a checkpoint (tools/demo.py passes load_from, as the header says).
# Without this flag a type='PAD' config with neither load_from nor a Pretrained
# init_cfg is refused: its adapters would learn around a random frozen encoder.
allow_random_frozen_encoder = True

custom_hooks = [
    dict(type='DelayedScaleHook', ratio=0.6),  # held epochs 0-4, learns in 5
    dict(type='AdapterCheckpointHook', interval=3, save_last=True),
]
