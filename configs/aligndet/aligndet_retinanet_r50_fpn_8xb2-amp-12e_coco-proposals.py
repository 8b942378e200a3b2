# AMP twin of aligndet_retinanet_r50_fpn_8xb2-12e_coco-proposals.py:
# the same model, data, optimizer and schedule, with automatic mixed precision
# (AmpOptimWrapper, dynamic loss scale), as `tools/train.py PARENT --amp` gives.
# mmengine's AmpOptimWrapper needs a GPU (or NPU / MLU / MUSA).
_base_ = ['./aligndet_retinanet_r50_fpn_8xb2-12e_coco-proposals.py']

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
