# Ablation: siamese_gap fusion instead of early fusion for
# DeepLabV3+ R-50. A shared 3-channel backbone runs on I and on S (256 px); the
# pooled S features are fused by 1x1 convs (dropped downstream) into the stages the
# heads read: 0 (decoder low-level input), 2 (auxiliary head) and 3 (ASPP); stage 1
# is read by no head, so it gets no fusion conv (no unused parameters under DDP).
_base_ = ['./sop_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py']
model = dict(
    fusion='siamese_gap',
    sub_size=256,
    fusion_channels=[256, None, 1024, 2048])
