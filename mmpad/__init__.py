"""mmpad: PAD, AlignDet and Subimage Overlap Prediction for OpenMMLab.

``import mmpad`` (or ``custom_imports=dict(imports=['mmpad'])``) registers every
mmpad module into the registries of the installed hosts:

* :mod:`mmpad.pretrain` -> mmpretrain (needs no compiled mmcv ops),
* :mod:`mmpad.det`      -> mmdet,
* :mod:`mmpad.seg`      -> mmsegmentation.

Each can also be imported alone. Importing mmpad also makes mmengine's checkpoint
loading work under torch >= 2.6 (installed by :mod:`mmpad.core.checkpoint`, see
:mod:`mmpad.core.checkpoint.loading`).
"""
import importlib.util

import mmpad.core.checkpoint  # noqa: F401  (installs the safe loader)
from mmpad.version import __version__


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


import mmpad.engine  # noqa: E402,F401  (root-registry pieces)

if _installed('mmpretrain'):
    import mmpad.pretrain  # noqa: F401

if _installed('mmdet') or _installed('mmseg'):
    if _installed('mmcv._ext'):  # compiled ops: mmdet / mmseg models need them
        if _installed('mmdet'):
            import mmpad.det  # noqa: F401
        if _installed('mmseg'):
            import mmpad.seg  # noqa: F401
    else:
        import warnings
        warnings.warn('mmcv was installed without compiled ops (mmcv-lite): '
                      'mmpad.det and mmpad.seg are not registered; '
                      'run tools/install_env.sh for the full stack.')


def _pkgmap():
    """The startup hook module ``_mmpad_pkgmap``, which sits next to the ``mmpad``
    folder in every layout (site-packages, or the checkout an editable install or
    ``PYTHONPATH`` points at); loaded by path where an older install did not map it."""
    try:
        import _mmpad_pkgmap
    except ModuleNotFoundError:
        import os.path as osp
        import sys
        path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '_mmpad_pkgmap.py')
        spec = importlib.util.spec_from_file_location('_mmpad_pkgmap', path)
        _mmpad_pkgmap = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_mmpad_pkgmap)
        sys.modules['_mmpad_pkgmap'] = _mmpad_pkgmap
    return _mmpad_pkgmap


# `_base_ = ['mmpad::...']` for mmengine and mim, also in a process that did not start
# with mmpad's .pth file (see _mmpad_pkgmap.py).
_pkgmap().install()

__all__ = ['__version__']
