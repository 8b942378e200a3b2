"""mmpad: PAD, AlignDet and Subimage Overlap Prediction for OpenMMLab.

``import mmpad`` (or ``custom_imports=dict(imports=['mmpad'])``) registers every
mmpad module into the registries of the installed hosts:

* :mod:`mmpad.pretrain` -> mmpretrain (needs no compiled mmcv ops),
* :mod:`mmpad.det`      -> mmdet,
* :mod:`mmpad.seg`      -> mmsegmentation.

Each can also be imported alone. Importing mmpad also makes mmengine's checkpoint
loading work under torch >= 2.6 (see :mod:`mmpad.utils.checkpoint`).
"""
import importlib.util

from .utils.checkpoint import install_safe_checkpoint_loading
from .version import __version__

install_safe_checkpoint_loading()

from . import engine  # noqa: E402,F401  (root-registry pieces)

if importlib.util.find_spec('mmpretrain') is not None:
    from . import pretrain  # noqa: F401

def _has_mmcv_ops() -> bool:
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except ImportError:
        return False


if importlib.util.find_spec('mmdet') is not None or \
        importlib.util.find_spec('mmseg') is not None:
    if _has_mmcv_ops():
        if importlib.util.find_spec('mmdet') is not None:
            from . import det  # noqa: F401
        if importlib.util.find_spec('mmseg') is not None:
            from . import seg  # noqa: F401
    else:
        import warnings
        warnings.warn('mmcv was installed without compiled ops (mmcv-lite): '
                      'mmpad.det and mmpad.seg are not registered; '
                      'run tools/install_env.sh for the full stack.')

__all__ = ['__version__']
