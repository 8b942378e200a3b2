# PAD paradigm (d) on FLIR: the baseline detector with a
# patchwise-scale adapter (bottleneck 64, learned per-token 'concat' scale, dropout
# 0.1) in every ViT block, loaded from the PAD pre-training checkpoint and fully
# trainable; each adapter takes its block's layer-decay id (i + 1).
#   python tools/convert_pad_checkpoint.py work_dirs/pad-mae_vit-b_msip/epoch_100.pth \
#       checkpoints/pad-mae_vit-b_det.pth --target det --bottleneck 64
_base_ = ['./faster-rcnn_vit-b_simplefpn_2xb1-amp-lsj-53k_flir-1024x1024.py']

pretrained = 'checkpoints/pad-mae_vit-b_det.pth'
model = dict(
    backbone=dict(
        adapter_cfg=dict(
            _delete_=True,  # the baseline has adapter_cfg=None
            bottleneck=64, dropout=0.1, scale_mode='concat'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
