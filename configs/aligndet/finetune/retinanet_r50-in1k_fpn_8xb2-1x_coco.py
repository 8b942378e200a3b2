# Baseline twin of retinanet_r50-aligndet_fpn_8xb2-1x_coco.py: same detector, ImageNet backbone
# only, stock mmdet hyper-parameters (mmpad's choice: the authors do not say whether
# their baselines also used lr x1.5 / wd x0.5). 12 epochs, 8 GPUs x 2 images.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '../../_base_/vis_backends.py']

# TensorBoard next to the local files (../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'

# AlignDet's fine-tuning architecture (the authors' configs): SyncBN in the backbone and the FPN
# (the FPN was pre-trained without norm: its conv weights load, the BN starts
# fresh, the conv biases are unexpected keys); stock frozen_stages=1, norm_eval.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(backbone=dict(norm_cfg=norm_cfg), neck=dict(norm_cfg=norm_cfg))
