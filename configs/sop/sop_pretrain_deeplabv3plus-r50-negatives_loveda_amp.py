# AMP twin of sop_pretrain_deeplabv3plus-r50-negatives_loveda.py:
# the same model, data, optimizer and schedule, with automatic mixed precision
# (AmpOptimWrapper, dynamic loss scale), as `tools/train.py PARENT --amp` gives.
# mmengine's AmpOptimWrapper needs a GPU (or NPU / MLU / MUSA).
_base_ = ['./sop_pretrain_deeplabv3plus-r50-negatives_loveda.py']

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
