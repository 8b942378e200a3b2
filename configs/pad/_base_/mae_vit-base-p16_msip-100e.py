# MAE ViT-B/16 (stock mmpretrain model: 8 x 512 decoder, mask 0.75, norm-pix L2)
# continued on MSIP with the shared recipe (msip_pretrain_100e.py). Starting weights:
# the mmpretrain MAE ImageNet-1k checkpoint, decoder included
# (decoder_embed must not stay random). Download it yourself; nothing here
# downloads. It is loaded non-strictly: new keys (adapters) keep their init.
_base_ = [
    'mmpretrain::_base_/models/mae_vit-base-p16.py',
    './msip_pretrain_100e.py',
]
load_from = 'checkpoints/mae_vit-base-p16_8xb512-amp-coslr-1600e_in1k_20220825-f7569ca2.pth'  # noqa: E501
