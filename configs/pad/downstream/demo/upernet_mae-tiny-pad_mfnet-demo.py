# Tiny CPU twin of ../upernet_vit-b-pad_2xb4-amp-9.8k_mfnet-512x512.py: the MFNet demo UperNet
# with a patchwise-scale adapter (bottleneck 8, concat scale) per block.
_base_ = ['./upernet_mae-tiny_mfnet-demo.py']

pretrained = 'checkpoints/demo/pad_vit-tiny_seg.pth'
model = dict(
    backbone=dict(
        adapter_cfg=dict(
            _delete_=True,  # the baseline has adapter_cfg=None
            bottleneck=8, dropout=0.1, scale_mode='concat'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
