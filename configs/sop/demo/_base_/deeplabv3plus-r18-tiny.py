# mmseg's DeepLabV3+ model at CPU-test size: a thin ResNetV1c-18 (16 stem / base
# channels), small ASPP dilations for ~100 px inputs, plain BN, no auxiliary head,
# random initialisation (nothing is downloaded).
_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    backbone=dict(depth=18, stem_channels=16, base_channels=16, norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=128, c1_in_channels=16, channels=32, c1_channels=8,
        dilations=(1, 2, 4, 6), norm_cfg=norm_cfg),
    auxiliary_head=None)
