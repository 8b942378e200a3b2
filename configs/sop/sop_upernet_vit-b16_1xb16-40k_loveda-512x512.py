# SOP pre-training of UPerNet ViT-B/16, token_concat fusion, on the
# LoveDA training images. Stock mmseg UPerNet ViT-B (mmseg::_base_/models/
# upernet_vit-b16_ln_mln.py, ImageNet weights) with the backbone swapped for
# SOPVisionTransformer (same parameters + a 2-entry segment embedding): S is resized
# to 224 and its tokens attend jointly with the image tokens, then are dropped.
# A DINOv2 ViT-B/14 variant needs a DINOv2 port and is not provided.
# Fine-tune twin: configs/sop/finetune/upernet_vit-b16-sop_4xb4-80k_loveda-512x512.py
_base_ = [
    'mmseg::_base_/models/upernet_vit-b16_ln_mln.py',
    './_base_/sop_pretrain_loveda.py',
    'mmseg::_base_/default_runtime.py',
    './_base_/sop_schedule_40k.py',
    './_base_/sop_model.py',
    '../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

model = dict(
    type='SOPEncoderDecoder',
    fusion='token_concat',
    sub_size=224,
    pretrained='pretrain/vit_base_patch16_224.pth',
    data_preprocessor={{_base_.sop_data_preprocessor}},
    backbone=dict(type='SOPVisionTransformer'),
    decode_head={{_base_.sop_decode_head}},
    auxiliary_head={{_base_.sop_auxiliary_head}})
optim_wrapper = dict(
    optimizer=dict(lr=6e-5),
    paramwise_cfg=dict(custom_keys={
        'pos_embed': dict(decay_mult=0.),
        'cls_token': dict(decay_mult=0.),
        'segment_embed': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }))
