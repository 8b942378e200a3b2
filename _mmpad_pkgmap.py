"""Make mmengine and mim find mmpad's configs, in every install mode and entry point.

mmengine resolves ``_base_ = ['mmpad::aligndet/...']`` through its package map
(``MODULE2PACKAGE`` in ``mmengine/config/utils.py``) and the installed package's
``.mim/`` folder, and it does so while parsing ``_base_``, *before* a config's
``custom_imports`` run. So ``import mmpad`` inside a config is too late, and a user
running mmdet's own ``tools/train.py`` or ``mim train mmdet my_cfg.py`` never imports
mmpad at all. Installing mmpad (wheel or editable) therefore also installs
``mmpad-pkgmap.pth``, whose one line runs :func:`install` at interpreter start.

:func:`install` imports nothing of mmpad, mmengine or mim (it costs well under a
millisecond). It puts a finder on :data:`sys.meta_path` that, when one of the modules
below is first imported, runs the module and then adjusts it:

``mmengine.config.utils``
    ``MODULE2PACKAGE['mmpad'] = 'mmpad'``, so ``mmpad::`` is a known package.
``mmengine.config.config``
    a base config taken from ``mmpad::`` gets no ``_scope_``. mmengine gives every
    dict with a ``type`` in an external base the package name as scope, but mmpad has
    no registry of its own: its modules are registered into mmpretrain, mmdet and
    mmseg, and each mmpad config names its host in ``default_scope``. Without this,
    ``_scope_='mmpad'`` would send the builds to mmengine's root registries
    (``RetinaEmbedHead is not in the model registry``). With it, an ``mmpad::``
    base behaves exactly like the same file given by a relative path.
``mmengine.utils.package_utils`` and ``mim.utils.utils``
    ``get_installed_path('mmpad')`` returns the directory mmpad is imported from when
    the one they compute (the distribution's location + ``mmpad``) does not exist.
    That is the case of an editable install (PEP 660): the distribution's metadata
    sit in site-packages, the code in the source tree.
``mim.commands.list`` and ``mim.cli``
    ``mim list`` shows an editable mmpad too (it computes the same path inline; the
    ``mim`` command line runs that file in a namespace of its own).

Each adjustment concerns the name ``mmpad`` only and leaves every other package's
lookups untouched. ``import mmpad`` calls :func:`install` as well, which also adjusts
the modules already imported, for a process started without the ``.pth`` file
(``PYTHONPATH=/path/to/mmpad``); only there is ``_base_ = ['mmpad::...']`` limited to
code that imported mmpad first.
"""
from __future__ import annotations

import os.path as osp
import sys

PACKAGE = 'mmpad'
_MARK = '_mmpad_pkgmap'  # attribute set on every function this module wraps


def _package_dir() -> str | None:
    """The directory ``import mmpad`` loads from (found without importing it)."""
    import importlib.util
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _wrap_get_installed_path(module) -> None:
    """Let ``module.get_installed_path('mmpad')`` follow an editable install."""
    orig = getattr(module, 'get_installed_path', None)
    if orig is None or getattr(orig, _MARK, False):
        return

    def get_installed_path(package: str) -> str:
        path = orig(package)
        if package == PACKAGE and not osp.isdir(path):
            return _package_dir() or path
        return path

    get_installed_path.__doc__ = orig.__doc__
    get_installed_path.__wrapped__ = orig  # type: ignore[attr-defined]
    setattr(get_installed_path, _MARK, True)
    module.get_installed_path = get_installed_path


def _patch_config_utils(module) -> None:
    module.MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)


def _patch_config(module) -> None:
    config_cls = module.Config
    orig = config_cls._get_cfg_path
    if getattr(orig, _MARK, False):
        return

    def _get_cfg_path(cfg_path: str, filename: str):
        path, scope = orig(cfg_path, filename)
        return path, (None if scope == PACKAGE else scope)

    _get_cfg_path.__doc__ = orig.__doc__
    _get_cfg_path.__wrapped__ = orig  # type: ignore[attr-defined]
    setattr(_get_cfg_path, _MARK, True)
    config_cls._get_cfg_path = staticmethod(_get_cfg_path)


def _wrap_list_package(namespace: dict) -> None:
    """Make ``namespace['list_package']`` (mim's ``mim list``) show an editable mmpad."""
    orig = namespace.get('list_package')
    if orig is None or getattr(orig, _MARK, False):
        return

    def list_package(all: bool = False):  # noqa: A002 (mim's signature)
        rows = orig(all=all)
        if all or any(row[0] == PACKAGE for row in rows):
            return rows
        from importlib import metadata
        try:
            dist = metadata.distribution(PACKAGE)
        except metadata.PackageNotFoundError:
            return rows
        pkg_dir = _package_dir()
        if pkg_dir and osp.isfile(osp.join(pkg_dir, '.mim', 'model-index.yml')):
            home = dist.metadata.get('Home-page') or pkg_dir
            rows = sorted([*rows, (PACKAGE, dist.version, home)], key=lambda r: r[0])
        return rows

    list_package.__doc__ = orig.__doc__
    setattr(list_package, _MARK, True)
    namespace['list_package'] = list_package


def _patch_mim_list(module) -> None:
    _wrap_list_package(vars(module))


def _patch_mim_cli(module) -> None:
    """mim's command line runs each command file in a fresh namespace (not an import):
    adjust the ``list`` command's namespace when the command is made."""
    mim_cls = module.MIM
    orig = mim_cls.get_command
    if getattr(orig, _MARK, False):
        return

    def get_command(self, ctx, name):
        command = orig(self, ctx, name)
        namespace = getattr(getattr(command, 'callback', None), '__globals__', None)
        if isinstance(namespace, dict) and 'list_package' in namespace:
            _wrap_list_package(namespace)
        return command

    setattr(get_command, _MARK, True)
    mim_cls.get_command = get_command


_PATCHES = {
    'mmengine.config.utils': _patch_config_utils,
    'mmengine.config.config': _patch_config,
    'mmengine.utils.package_utils': _wrap_get_installed_path,
    'mim.utils.utils': _wrap_get_installed_path,
    'mim.commands.list': _patch_mim_list,
    'mim.cli': _patch_mim_cli,
}


class _PatchingLoader:
    """Runs a module with its own loader, then adjusts it; everything else (sources,
    resources) is the wrapped loader's."""

    def __init__(self, loader, patch) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class _PatchingFinder:
    """A :data:`sys.meta_path` finder that adjusts the modules of ``_PATCHES``
    right after they run (before whoever imports them gets them)."""

    @classmethod
    def find_spec(cls, fullname: str, path=None, target=None):
        patch = _PATCHES.get(fullname)
        if patch is None:
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
            spec.loader = _PatchingLoader(spec.loader, patch)
        return spec


def _rebind_imported_names() -> None:
    """Point names that other mmengine / mim modules imported from a module adjusted
    late (``from mmengine.utils import get_installed_path``) at the wrapper too."""
    wrappers = {}
    for name in ('mmengine.utils.package_utils', 'mim.utils.utils'):
        func = getattr(sys.modules.get(name), 'get_installed_path', None)
        if getattr(func, _MARK, False):
            wrappers[func.__wrapped__] = func
    if not wrappers:
        return
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(('mmengine', 'mim')):
            continue
        func = getattr(module, 'get_installed_path', None)
        try:
            wrapper = wrappers.get(func)
        except TypeError:  # unhashable attribute
            continue
        if wrapper is not None:
            module.get_installed_path = wrapper


def install() -> None:
    """Adjust the modules above when they are imported (and those already are)."""
    if _PatchingFinder not in sys.meta_path:
        sys.meta_path.insert(0, _PatchingFinder)
    late = False
    for name, patch in _PATCHES.items():
        module = sys.modules.get(name)
        if module is not None:
            patch(module)
            late = True
    if late:
        _rebind_imported_names()
