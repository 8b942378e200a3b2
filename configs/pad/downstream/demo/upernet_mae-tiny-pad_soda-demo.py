# Tiny CPU twin of ../upernet_vit-b-pad_2xb4-amp-14.4k_soda-512x512.py: the demo UperNet with a
# patchwise-scale adapter (bottleneck 8, concat scale) per block, loaded from a
# converted PAD demo checkpoint.
#   python tools/convert_pad_checkpoint.py PAD_PRETRAIN.pth \
#       checkpoints/demo/pad_vit-tiny_seg.pth --target seg --num-heads 2
_base_ = ['./upernet_mae-tiny_soda-demo.py']

pretrained = 'checkpoints/demo/pad_vit-tiny_seg.pth'
model = dict(
    backbone=dict(
        adapter_cfg=dict(
            _delete_=True,  # the baseline has adapter_cfg=None
            bottleneck=8, dropout=0.1, scale_mode='concat'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
