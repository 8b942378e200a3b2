# Baseline "IN1K + LD" (the PAD authors' variant of (c)): full continual
# pre-training with BEiT-style layer-wise lr decay 0.7 on the encoder (stem 0.7^13,
# block i 0.7^(12-i)); the decoder is at scale 1.
_base_ = ['./mae_vit-base-p16_8xb512-amp-coslr-100e_msip-in1k-full.py']

optim_wrapper = dict(
    constructor='SelfSupLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.7))
