# Baseline (a) of the PAD paper's Fig. 1: MAE ViT-B/16 pre-trained from scratch on
# MSIP: 400 epochs, 40 warm-up epochs, base lr 1e-4, same RoI cropping. No
# ImageNet weights.
_base_ = ['./_base_/mae_vit-base-p16_msip-100e.py']

max_epochs = 400
warmup_epochs = 40
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=50))
load_from = None
