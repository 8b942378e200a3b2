"""Register mmpad's modules into mmdet's registries (and those mmdet configs use
from mmpretrain and mmengine's root registries); found by
:mod:`mmpad.registration`."""
from mmpad.registration import register_host

REGISTERED_MODULES = register_host('mmdet')
