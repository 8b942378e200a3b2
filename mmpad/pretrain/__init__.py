"""Register mmpad's modules into mmpretrain's registries (and the host-free ones
into mmengine's root registries).

The modules are found by :mod:`mmpad.registration`; none of them imports mmdet
or mmseg, so PAD pre-training runs on mmcv without compiled ops.
"""
from mmpad.registration import register_host

REGISTERED_MODULES = register_host('mmpretrain')
