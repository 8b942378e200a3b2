"""Register mmpad into each host library as soon as that library is imported.

``import mmpad`` registers every mmpad module into the registries of the installed
hosts. It does so for the hosts a process already imported, at once, and for each
other host right after that host's package has run (a :data:`sys.meta_path`
finder wraps its loader), before the code that imported it gets it back:

============ ===============================================================
imported     then imported by mmpad
============ ===============================================================
mmengine     :mod:`mmpad.core.checkpoint` (safe checkpoint loading) and
             :mod:`mmpad.engine` (root-registry runner and hooks)
mmpretrain   :mod:`mmpad.pretrain`
mmdet        :mod:`mmpad.det` (needs mmcv's compiled ops, else a warning)
mmseg        :mod:`mmpad.seg` (same)
============ ===============================================================

Every registry belongs to one of these packages, so a lookup (a config's
``type=``, ``custom_imports=dict(imports=['mmpad'])``, ``MODELS.get``) finds the
same names as when ``import mmpad`` imported them all up front; what changes is
that a process that never imports a host does not pay for it: a numpy-only tool
(``tools/generate_proposals.py``) imports neither torch nor mmdet / mmseg, and
``import mmpad.pretrain`` imports neither mmdet nor mmseg.
:func:`register_all` imports everything at once, as ``import mmpad`` did before.

A registration waits while mmcv, a host or an mmpad submodule is still being
imported (chains such as mmcv -> mmengine, or ``mmpad.core.config_check`` ->
mmengine -> ``mmpad.engine`` -> ``mmpad.core.config_check``), and runs when that
import has finished.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from typing import Callable, Dict, List

#: host package -> mmpad modules imported once it is imported
ACTIONS: Dict[str, List[str]] = {
    'mmengine': ['mmpad.core.checkpoint', 'mmpad.engine'],
    'mmpretrain': ['mmpad.pretrain'],
    'mmdet': ['mmpad.det'],
    'mmseg': ['mmpad.seg'],
}
#: packages whose import is watched; nothing is registered while one of them, or
#: an mmpad submodule, is being imported
WATCHED = ('mmcv', ) + tuple(ACTIONS)
_OWN = 'mmpad.'

_pending: List[str] = []
_done: set = set()
_running = False


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _initializing(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, '__spec__', None)
    return module is not None and bool(getattr(spec, '_initializing', False))


def _register(host: str) -> None:
    if host in ('mmdet', 'mmseg') and not _installed('mmcv._ext'):
        warnings.warn(f'mmcv was installed without compiled ops (mmcv-lite): '
                      f'mmpad.{host[2:]} is not registered; run tools/install_env.sh '
                      'for the full stack.')
        return
    for module in ACTIONS[host]:
        importlib.import_module(module)


def _blocked() -> bool:
    """A watched package or an mmpad submodule is being imported."""
    return any(_initializing(name) for name in WATCHED) or any(
        _initializing(name) for name in list(sys.modules) if name.startswith(_OWN))


def _drain() -> None:
    """Register the pending hosts, unless a watched import is still running."""
    global _running
    if _running or not _pending or _blocked():
        return
    _running = True
    try:
        while _pending:
            host = _pending.pop(0)
            if host not in _done:
                _done.add(host)
                _register(host)
    finally:
        _running = False


def _after_import(name: str) -> None:
    if name in ACTIONS and name not in _done and name not in _pending:
        _pending.append(name)
    _drain()


class _Loader:
    """Runs the wrapped loader, then :func:`_after_import`."""

    def __init__(self, loader, name: str, callback: Callable[[str], None]) -> None:
        self._loader = loader
        self._name = name
        self._callback = callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            self._loader.exec_module(module)
        finally:
            module.__spec__._initializing = False
        self._callback(self._name)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class HostImportFinder:
    """A :data:`sys.meta_path` finder that wraps the loaders of :data:`WATCHED`
    and of mmpad's submodules."""

    @classmethod
    def find_spec(cls, fullname: str, path=None, target=None):
        if fullname not in WATCHED and not fullname.startswith(_OWN):
            return None
        for finder in sys.meta_path:
            if finder is cls or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, 'exec_module'):
            spec.loader = _Loader(spec.loader, fullname, _after_import)
        return spec


def activate() -> None:
    """Register into the hosts imported so far; watch for the others. Idempotent."""
    if HostImportFinder not in sys.meta_path:
        sys.meta_path.insert(0, HostImportFinder)
    for host in ACTIONS:
        if host in sys.modules and host not in _done and host not in _pending:
            _pending.append(host)
    _drain()


def register_all() -> None:
    """Import every installed host and register mmpad into it now."""
    for host in ACTIONS:
        if _installed(host):
            importlib.import_module(host)
    activate()
