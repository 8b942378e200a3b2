# Baseline twin of fcos_r50-aligndet_fpn_gn-head_8xb2-1x_coco.py: same detector, ImageNet backbone
# only, stock mmdet hyper-parameters (mmpad's choice: the authors do not say whether
# their baselines also used lr x1.5 / wd x0.5). 12 epochs, 8 GPUs x 2 images.
_base_ = ['mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py', '../../_base_/vis_backends.py']

# TensorBoard next to the local files (../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'

# AlignDet's fine-tuning architecture (the authors' configs): torchvision R50 (pytorch style, the
# backbone AlignDet pre-trains on) with ImageNet normalisation, SyncBN in the
# backbone and the FPN; stock frozen_stages=1, norm_eval, GN head.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(style='pytorch', norm_cfg=norm_cfg,
                  init_cfg=dict(type='Pretrained',
                                checkpoint='torchvision://resnet50')),
    neck=dict(norm_cfg=norm_cfg))
