# Tiny CPU twin of ../faster-rcnn_vit-b-pad_simplefpn_2xb1-amp-lsj-53k_flir-1024x1024.py: the demo
# detector with a patchwise-scale adapter (bottleneck 8, concat scale) per block,
# loaded from a converted PAD demo checkpoint.
#   python tools/convert_pad_checkpoint.py PAD_PRETRAIN.pth \
#       checkpoints/demo/pad_vit-tiny_det.pth --target det --num-heads 2
_base_ = ['./faster-rcnn_vit-tiny_simplefpn_flir-demo.py']

pretrained = 'checkpoints/demo/pad_vit-tiny_det.pth'
model = dict(
    backbone=dict(
        adapter_cfg=dict(
            _delete_=True,  # the baseline has adapter_cfg=None
            bottleneck=8, dropout=0.1, scale_mode='concat'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
