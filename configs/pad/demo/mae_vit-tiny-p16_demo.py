# Tiny plain MAE (no adapters, everything trains) on the generated MSIP-style data:
# the demo's stand-in for the ImageNet-1k MAE checkpoint that PAD starts from, and
# the from-scratch paradigm (a) at demo scale. Same model, data and recipe as
# ./pad-mae_vit-tiny-p16_demo.py without the PAD wrapper, trained for 2 of its 6
# epochs: the stand-in has to leave PAD something to learn (a model already trained
# to convergence on the very images PAD then sees, unlike ImageNet weights on
# infrared data, leaves the adapters nothing to improve).
_base_ = ['./_base_/mae_vit-tiny-p16_msip-demo.py']

max_epochs = 2
warmup_epochs = 1
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs, save_last=True))
