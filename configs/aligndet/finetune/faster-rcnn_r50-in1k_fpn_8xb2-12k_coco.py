# 12k-iteration schedule (AlignDet's short-schedule / semi-supervised setting):
# steps at 9k and 11k, warm-up 500 iterations. Baseline twin of
# faster-rcnn_r50-aligndet_fpn_8xb2-12k_coco.py (ImageNet backbone, stock hyper-parameters).
_base_ = ['./faster-rcnn_r50-in1k_fpn_8xb2-1x_coco.py']

max_iters = 12000
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
    val_interval=4000)
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False,
         milestones=[9000, 11000], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
log_processor = dict(by_epoch=False)
