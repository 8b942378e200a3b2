# Tiny MAE on MSIP-style data, shared by the PAD demo and its plain-MAE twin: the
# recipe of ../../_base_/mae_vit-base-p16_msip-100e.py on a 64-d,
# 4-block ViT at 64 px (patch 16, mask 0.75) with a 32-d, 1-block decoder, trained
# for a few epochs on the generated data (tools/generate_demo_data.py data/demo).
_base_ = ['../../_base_/mae_vit-base-p16_msip-100e.py']

img_size = 64
arch = dict(embed_dims=64, num_layers=4, num_heads=2, feedforward_channels=128)
model = dict(
    backbone=dict(arch=dict(_delete_=True, **arch), img_size=img_size, patch_size=16),
    neck=dict(num_patches=(img_size // 16)**2, embed_dim=64, decoder_embed_dim=32,
              decoder_depth=1, decoder_num_heads=2, mlp_ratio=2.))

# MMPAD_DATA_ROOT (default data/demo) points demo configs at generated or real data.
data_root = '{{$MMPAD_DATA_ROOT:data/demo}}/msip/'
train_pipeline = [
    {{_base_.safe_load}},
    dict(type='ObjectSensitiveRandomRoICrop', size=img_size, p=0.85),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))

# fp32 on CPU (the full config uses AmpOptimWrapper); same AdamW recipe otherwise
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.95), weight_decay=0.05),
    constructor='GroupMergingOptimWrapperConstructor',
    paramwise_cfg=dict(flat_decay_mult=0.0))
max_epochs = 6
warmup_epochs = 1
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(enable=False)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=3, save_last=True))
load_from = None
