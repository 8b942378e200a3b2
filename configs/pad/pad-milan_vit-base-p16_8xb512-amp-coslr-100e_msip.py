# PAD-MILAN: the ImageNet-1k MILAN ViT-B/16 frozen, a patchwise-scale adapter in
# every encoder block, MILAN continued on MSIP (shared recipe, msip_pretrain_100e.py):
# CLIP ViT-B/16 teacher features (512-d; the loss averages all 197 tokens, as in the
# authors' code), attention-driven masking (keep 49), prompting decoder, loss
# 2 - 2 cos. The teacher sees the same MSIP-normalised tensor as the student (the
# authors' code, not CLIP's normalisation), as in mmpretrain's MILAN. RoI crop
# p = 0.85: the authors' documented command (their code's MILAN default is 0.5).
#
# The model is the stock mmpretrain MILAN (mmpretrain::milan/milan_vit-base-p16_16xb256-
# amp-coslr-400e_in1k.py) re-stated, because that config leaves the decoder's
# `embed_dim` at its 1024 default, which does not fit ViT-B (768).
_base_ = ['./_base_/msip_pretrain_100e.py']

model = dict(
    type='PAD',
    algorithm=dict(
        type='MILAN',
        backbone=dict(type='MILANViT', arch='b', patch_size=16,
                      mask_ratio=0.75),
        neck=dict(type='MILANPretrainDecoder', embed_dim=768,
                  decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16,
                  predict_feature_dim=512),
        head=dict(
            type='MIMHead',
            loss=dict(type='CosineSimilarityLoss', shift_factor=2.0,
                      scale_factor=2.0)),
        # CLIP ViT-B/16 visual tower (the OpenMMLab target-generator file); its
        # weights are overwritten by target_generator.* of load_from if present
        target_generator=dict(
            type='CLIPGenerator',
            tokenizer_path='checkpoints/clip_vit_base_16.pth.tar')),
    adapter=dict(bottleneck=64, dropout=0.1, scale_mode='concat'),
    # frozen=None -> backbone.* except '.adapter.', neck.decoder_embed and the
    # CLIP teacher (target_generator.*)
)

# DDP needs no find_unused_parameters: the held scale predictor stays in the graph
# with a zero gradient (see DelayedScaleHook)
custom_hooks = [
    dict(type='DelayedScaleHook', ratio=0.6),
    dict(type='AdapterCheckpointHook', interval=20, save_last=True),
]
load_from = 'checkpoints/milan_vit-base-p16_16xb256-amp-coslr-400e_in1k_20221129-180922e8.pth'  # noqa: E501
