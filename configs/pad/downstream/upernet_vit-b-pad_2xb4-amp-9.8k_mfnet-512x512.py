# PAD paradigm (d) on MFNet: the baseline UperNet with a
# patchwise-scale adapter (bottleneck 64, learned per-token 'concat' scale, dropout
# 0.1) in every block, loaded from the PAD checkpoint and fully trainable.
#   python tools/convert_pad_checkpoint.py work_dirs/pad-mae_vit-b_msip/epoch_100.pth \
#       checkpoints/pad-mae_vit-b_seg.pth --target seg --bottleneck 64
_base_ = ['./upernet_vit-b_2xb4-amp-9.8k_mfnet-512x512.py']

pretrained = 'checkpoints/pad-mae_vit-b_seg.pth'
model = dict(
    backbone=dict(
        adapter_cfg=dict(
            _delete_=True,  # the baseline has adapter_cfg=None
            bottleneck=64, dropout=0.1, scale_mode='concat'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
