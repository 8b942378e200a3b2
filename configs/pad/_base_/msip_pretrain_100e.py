# The MSIP continual pre-training recipe shared by every PAD / baseline config, as
# in the PAD authors' released code: MSIP with object-sensitive RoI crops, 100 epochs
# (30 linear warm-up from 0, then per-iteration half cosine to 0), AdamW (0.9, 0.95),
# wd 0.05 (none on 1-D tensors and biases; on for mask_token and the scale
# predictor), base lr 1e-4 x effective batch / 256 with effective batch 4096, AMP,
# no clipping, seed 0 + rank. The model comes from the config inheriting this one.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs512_mae.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'

# ---------------------------------------------------------------------- data
# MSIP normalisation of the authors' pre-training code: mean 0.3801, std 0.1871 on
# [0, 1] pixels; the same numbers as mmpad.pad.msip.MSIP_MEAN / MSIP_STD. Their
# downstream configs use std 47.8976 (47.8976 / 255 = 0.1878); mmpad keeps each
# stage's value.
msip_mean = [96.9255, 96.9255, 96.9255]
msip_std = [47.7105, 47.7105, 47.7105]
data_root = 'data/msip/'
# Gray infrared stays one channel through the pipeline (decoded gray once; the RoI
# crop, flip and pack move a third of the data); InfraredSelfSupDataPreprocessor
# expands the (B, 1, H, W) batch to the ViT's 3 channels on the device, which gives
# the tensor SelfSupDataPreprocessor makes of the same image decoded as 3 equal
# channels. A colour-encoded JPEG is read as its luma (Y) instead of 3 near-equal
# channels. For colour data set color_type='color' in safe_load: the preprocessor
# then takes the stock path.
data_preprocessor = dict(
    type='InfraredSelfSupDataPreprocessor', mean=msip_mean, std=msip_std, to_rgb=True)
roi_crop_p = 0.85  # probability of an object-sized (not large) RoI crop
# LoadImageFromFile that skips (and reports, once per file) truncated, empty, non-image
# files and images below the smallest RoI crop (ObjectSensitiveRandomRoICrop's
# min_size, 60 px); 16-bit PNGs are rescaled to 8 bits (docs/data.md, "Bad data").
# Faster, not exact (off): lazy_decode=True here with reduced_decode=2 in the RoI
# crop decodes a JPEG at 1/2 size when the crop is >= 2x the output (448 px).
safe_load = dict(type='LoadImageFromFileSafe', min_size=60, color_type='grayscale')
train_pipeline = [
    safe_load,
    dict(type='ObjectSensitiveRandomRoICrop', size=224, p=roi_crop_p),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=512,  # x 8 GPUs = 4096 (the authors' batch); or accumulate gradients
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    dataset=dict(
        _delete_=True,
        type='MSIPDataset',
        data_root=data_root,
        subsets=None,  # every subset directory under data_root
        data_ratio=1.0,
        pipeline=train_pipeline))

# -------------------------------------------------------------- optimisation
base_lr = 1e-4  # per 256 images (not MAE's 1.5e-4)
# The authors' code decays both. This switch is read when this file loads; from a
# child config set optim_wrapper.paramwise_cfg.custom_keys = {'mask_token':
# dict(decay_mult=0.), 'scale_pred': dict(decay_mult=0.)} instead.
decay_mask_token_and_scale = True
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=base_lr * 4096 / 256, betas=(0.9, 0.95),
        weight_decay=0.05),
    # mmengine's paramwise rules, groups of equal settings merged (2 AdamW groups)
    constructor='GroupMergingOptimWrapperConstructor',
    # no decay on 1-D tensors (norms, biases, the adapter LN); mask_token and the
    # scale predictor weight are not 1-D, so they are decayed unless switched off
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={} if decay_mask_token_and_scale else {
            'mask_token': dict(decay_mult=0.0),
            'scale_pred': dict(decay_mult=0.0)
        }))
max_epochs = 100
warmup_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# lr above is for 4096 images per step; other batch sizes are scaled linearly
auto_scale_lr = dict(base_batch_size=4096, enable=True)
randomness = dict(seed=0, diff_rank_seed=True)

# ------------------------------------------------------------------- runtime
default_hooks = dict(
    bad_samples=dict(type='BadSampleLoggerHook'),  # bad-file counts in the log
    # per-epoch share of RoI crops that fell back to RandomResizedCrop; a WARNING
    # above warn_threshold (RoI files missing, or every RoI rejected)
    roi_crop_stats=dict(type='RoICropStatsHook', warn_threshold=0.5),
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=20, save_last=True,
                    max_keep_ckpts=-1))
resume = False  # `tools/train.py --resume` resumes from the work dir
