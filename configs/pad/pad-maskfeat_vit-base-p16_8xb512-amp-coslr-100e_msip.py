# PAD-MaskFeat: PAD applied to a third mmpretrain SSL algorithm (not in the paper).
# The ImageNet-1k MaskFeat ViT-B/16 is frozen (its encoder mask_token included),
# adapters in every block and the linear HOG-prediction neck train on MSIP with
# the shared recipe (_base_/msip_pretrain_100e.py). MaskFeat's block-wise masking
# (78 of 196 patches) runs after the RoI crop.
_base_ = ['./_base_/msip_pretrain_100e.py']

train_pipeline = [
    {{_base_.safe_load}},
    dict(type='ObjectSensitiveRandomRoICrop', size=224, p={{_base_.roi_crop_p}}),
    dict(type='RandomFlip', prob=0.5),
    dict(type='BEiTMaskGenerator', input_size=14, num_masking_patches=78,
         min_num_patches=15),
    dict(type='PackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

model = dict(
    type='PAD',
    algorithm=dict(
        type='MaskFeat',
        backbone=dict(type='MaskFeatViT', arch='b', patch_size=16),
        neck=dict(type='LinearNeck', in_channels=768, out_channels=108,
                  norm_cfg=None,
                  init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02,
                                bias=0)),
        head=dict(type='MIMHead',
                  loss=dict(type='PixelReconstructionLoss', criterion='L2')),
        target_generator=dict(type='HOGGenerator', nbins=9, pool=8,
                              gaussian_window=16)),
    adapter=dict(bottleneck=64, dropout=0.1, scale_mode='concat'))

# DDP needs no find_unused_parameters: the held scale predictor stays in the graph
# with a zero gradient (see DelayedScaleHook)
custom_hooks = [
    dict(type='DelayedScaleHook', ratio=0.6),
    dict(type='AdapterCheckpointHook', interval=20, save_last=True),
]
load_from = 'checkpoints/maskfeat_vit-base-p16_8xb256-amp-coslr-300e_in1k_20221101-6dfc8bf3.pth'  # noqa: E501
