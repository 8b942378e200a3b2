# Baseline twin of detr_r50-aligndet_8xb2-150e_coco.py: stock DETR R50 150e
# (AdamW 1e-4, backbone lr x0.1, gradient clip 0.1) with all backbone BN trainable.
_base_ = ['mmdet::detr/detr_r50_8xb2-150e_coco.py', '../../_base_/vis_backends.py']

# TensorBoard next to the local files (../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'

model = dict(backbone=dict(norm_cfg=dict(type='BN', requires_grad=True),
                           norm_eval=False))
