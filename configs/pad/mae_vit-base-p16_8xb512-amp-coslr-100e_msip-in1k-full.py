# Baseline (c) of the PAD paper's Fig. 1: full continual pre-training. The ImageNet-1k
# MAE ViT-B/16 continues MAE on MSIP with every parameter trainable, with the same
# recipe and RoI cropping as PAD-MAE (100 epochs, 30 warm-up, base lr 1e-4).
_base_ = ['./_base_/mae_vit-base-p16_msip-100e.py']
