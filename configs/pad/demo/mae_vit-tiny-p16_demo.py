# Tiny plain MAE (no adapters, everything trains) on the generated MSIP-style data:
# the demo's stand-in for the ImageNet-1k MAE checkpoint that PAD starts from, and
# the from-scratch paradigm (a) at demo scale. Same model, data and schedule as
# ./pad-mae_vit-tiny-p16_demo.py without the PAD wrapper.
_base_ = ['./_base_/mae_vit-tiny-p16_msip-demo.py']
