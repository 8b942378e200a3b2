# DETR R50 short schedule (50 epochs, x0.1 at 40), baseline twin.
_base_ = ['./detr_r50-in1k_8xb2-150e_coco.py']

max_epochs = 50
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[40], gamma=0.1)
]
