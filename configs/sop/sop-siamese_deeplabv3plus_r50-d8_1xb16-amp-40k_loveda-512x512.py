# AMP twin of sop-siamese_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py:
# the same model, data, optimizer and schedule, with automatic mixed precision
# (AmpOptimWrapper, dynamic loss scale), as `tools/train.py PARENT --amp` gives.
# mmengine's AmpOptimWrapper needs a GPU (or NPU / MLU / MUSA).
_base_ = ['./sop-siamese_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py']

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
