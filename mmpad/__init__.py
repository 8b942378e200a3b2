"""mmpad: PAD, AlignDet and Subimage Overlap Prediction for OpenMMLab.

``import mmpad`` (or ``custom_imports=dict(imports=['mmpad'])``) registers every
mmpad module into the registries of the installed hosts:

* :mod:`mmpad.pretrain` -> mmpretrain (needs no compiled mmcv ops),
* :mod:`mmpad.det`      -> mmdet,
* :mod:`mmpad.seg`      -> mmsegmentation,

and :mod:`mmpad.engine` into mmengine's root registries. Each host is registered
into when it is imported: at once for the hosts the process has already imported,
else right after the host's own package has run, before anything can look up its
registries (:mod:`mmpad.on_host_import`). A process that imports no host, such as
``tools/generate_proposals.py``, does not import torch, mmdet or mmseg;
:func:`register_all` imports them all now. Each entry can also be imported alone.

mmengine's checkpoint loading is made to work under torch >= 2.6 in the same way,
when mmengine is imported (:mod:`mmpad.core.checkpoint`, see
:mod:`mmpad.core.checkpoint.loading`).
"""
import importlib
import importlib.util

from mmpad.on_host_import import activate as _activate
from mmpad.on_host_import import register_all
from mmpad.version import __version__

_activate()

_ENTRIES = ('core', 'engine', 'pretrain', 'det', 'seg')


def __getattr__(name: str):
    """``mmpad.det`` and the like after a bare ``import mmpad``."""
    if name in _ENTRIES:
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


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

__all__ = ['__version__', 'register_all']
