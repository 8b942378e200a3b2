"""Register mmpad's modules into mmsegmentation's registries (and those mmseg
configs use from mmpretrain and mmengine's root registries); found by
:mod:`mmpad.registration`."""
from mmpad.registration import register_host

REGISTERED_MODULES = register_host('mmseg')
