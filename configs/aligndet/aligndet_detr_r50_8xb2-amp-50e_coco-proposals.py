# AMP twin of aligndet_detr_r50_8xb2-50e_coco-proposals.py:
# the same model, data, optimizer and schedule, with automatic mixed precision
# (AmpOptimWrapper, dynamic loss scale), as `tools/train.py PARENT --amp` gives.
# mmengine's AmpOptimWrapper needs a GPU (or NPU / MLU / MUSA).
_base_ = ['./aligndet_detr_r50_8xb2-50e_coco-proposals.py']

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
