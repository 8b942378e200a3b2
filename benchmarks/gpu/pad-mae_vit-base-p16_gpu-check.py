# The full-size PAD-MAE ViT-B/16 config, shortened for the GPU training check of
# run_pad_gpu.sh: generated MSIP-style data (data_root is set on the command line),
# random weights (no ImageNet-1k checkpoint travels), 40 short epochs with a 5-epoch
# warm-up, AMP fp16 with a dynamic loss scale (bf16: optim_wrapper.dtype=bfloat16),
# the adapter-only checkpoint every 10 epochs and GPUProbeHook's per-iteration
# loss / loss-scale / adapter-scale record. The DelayedScaleHook ratio is set with
# --cfg-options custom_hooks.0.ratio=... so that the scales are released inside
# the run.
_base_ = ['../../configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py']

custom_imports = dict(imports=['mmpad', 'gpu_probe_hook'], allow_failed_imports=False)
load_from = None
allow_random_frozen_encoder = True  # no ImageNet-1k weights travel: random encoder

train_dataloader = dict(batch_size=16, num_workers=8)  # 7 iterations per epoch
max_epochs = 40
warmup_epochs = 5
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# a fixed lr (not scaled from the 4096-image batch): the check's batch is small
auto_scale_lr = dict(enable=False)
optim_wrapper = dict(optimizer=dict(lr=1.5e-4))

custom_hooks = [
    dict(type='DelayedScaleHook', ratio=0.6),
    dict(type='AdapterCheckpointHook', interval=10, save_last=True),
    dict(type='GPUProbeHook'),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    # the full model only once, at the end
    checkpoint=dict(type='CheckpointHook', interval=1000, save_last=True))
