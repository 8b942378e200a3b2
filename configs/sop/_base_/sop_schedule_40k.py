# SOP pre-training recipe (mmpad's own design; the SOP paper's abstract gives no recipe):
# one GPU, batch 16, AdamW lr 1e-4 (ViT / MiT configs lower it to 6e-5), weight
# decay 0.01, 1.5k-iteration linear warm-up then poly decay (power 1), 40k
# iterations, pretext IoU every 2k.
# AMP: `tools/train.py CONFIG --amp`.
custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=40000,
         by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    bad_samples=dict(type='BadSampleLoggerHook'),  # bad-file counts in the log
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000,
                    max_keep_ckpts=3, save_best='sop/IoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
