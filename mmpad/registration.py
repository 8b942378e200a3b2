"""Which mmpad modules register into which host, read from the modules themselves.

No list is kept by hand: each module of the package is read as text (not run) for

* the host libraries it needs: ``mmpretrain``, ``mmdet``, ``mmseg`` imported
  directly, or through another mmpad module it imports (transitively);
* the names it registers: a class or function decorated with
  ``@<REGISTRY>.register_module(...)``.

:func:`register_host` imports every registering module a host can run, which is
what ``import mmpad.pretrain`` / ``mmpad.det`` / ``mmpad.seg`` do:

========== ===============================================================
host       registering modules imported: those whose hosts are a subset of
========== ===============================================================
mmpretrain {mmpretrain}
mmdet      {mmdet, mmpretrain}
mmseg      {mmseg, mmpretrain}
========== ===============================================================

(mmpad's ViT backbones for mmdet and mmseg build on mmpretrain's layers, so
mmpretrain comes with both; a module needing no host is imported by all three.)

so ``mmpad.pretrain`` never imports mmdet or mmseg. :func:`lazy_exports` gives a
method package (``mmpad.pad``, ``mmpad.aligndet``, ``mmpad.sop``, ...) the names
its modules register as attributes, each imported on first use, so that
``from mmpad.pad import PADViTDet`` works and ``import mmpad.pad`` alone imports
no host library. :func:`lazy_names` does the same for a package that exports
names it does not register (``mmpad.core``, ``mmpad.core.proposals``).
"""
from __future__ import annotations

import functools
import importlib
import os
import os.path as osp
import re
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Tuple

HOSTS = ('mmpretrain', 'mmdet', 'mmseg')
PACKAGE = 'mmpad'
ROOT = osp.dirname(osp.abspath(__file__))

#: host -> the hosts a module it imports may need.
ALLOWED: Dict[str, FrozenSet[str]] = {
    'mmpretrain': frozenset({'mmpretrain'}),
    'mmdet': frozenset({'mmdet', 'mmpretrain'}),
    'mmseg': frozenset({'mmseg', 'mmpretrain'}),
}
# ``from mmdet.x import y`` / ``import mmseg`` at any indentation (lazy imports
# inside functions count: the module needs the host to work).
_HOST_IMPORT = re.compile(
    r'^\s*(?:from|import)\s+(' + '|'.join(HOSTS) + r')\b', re.M)


@functools.lru_cache(maxsize=4)
def _import_pattern(package: str) -> 're.Pattern[str]':
    """``from <package>.a import b, c`` / ``import <package>.a`` at any indentation."""
    dotted = re.escape(package) + r'(?:\.\w+)*'
    return re.compile(
        rf'^[ \t]*(?:from\s+({dotted})\s+import\s+(\([^)]*\)|[\w \t,]*)'
        rf'|import\s+({dotted}))', re.M)


_REGISTERED = re.compile(
    r'^@\w+\.register_module\((?P<args>[^)]*)\)\s*\n'
    r'(?:@.*\n)*(?:class|def)\s+(?P<name>\w+)', re.M)
_NAME_ARG = re.compile(r"name\s*=\s*['\"](\w+)['\"]")
# the modules that make up the registration itself, not registered modules
_ENTRIES = ('', '.registration', '.pretrain', '.det', '.seg')


@dataclass(frozen=True)
class ModuleInfo:
    """What :func:`scan` read from one module of the package."""
    name: str                     #: dotted module name
    direct_hosts: FrozenSet[str]  #: hosts imported by the module itself
    imports: Tuple[str, ...]      #: mmpad modules it imports
    registered: Tuple[str, ...]   #: names it registers
    #: (registered name, attribute of the module holding it), with each
    #: attribute also exported under its own name
    exports: Tuple[Tuple[str, str], ...] = ()
    hosts: FrozenSet[str] = field(default=frozenset())  #: transitive hosts


def _module_name(path: str, root: str) -> str:
    rel = osp.relpath(path, osp.dirname(root))[:-3].replace(os.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def _resolve(target: str, known: Dict[str, str]) -> str:
    """``mmpad.a.b.c`` -> the longest known module prefix (``c`` may be a name)."""
    while target and target not in known:
        target = target.rpartition('.')[0]
    return target


@functools.lru_cache(maxsize=4)
def scan(root: str = ROOT) -> Dict[str, ModuleInfo]:
    """Read every module of the package at ``root`` (default: mmpad itself);
    dotted name -> :class:`ModuleInfo`."""
    package = osp.basename(root)
    sources: Dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(('.', '__')))
        for fname in sorted(filenames):
            if fname.endswith('.py'):
                path = osp.join(dirpath, fname)
                with open(path, encoding='utf-8') as f:
                    sources[_module_name(path, root)] = f.read()
    raw: Dict[str, ModuleInfo] = {}
    for name, text in sources.items():
        imports = []
        for source, names, plain in _import_pattern(package).findall(text):
            targets = [plain] if plain else [source] + [
                f'{source}.{n}' for n in re.findall(r'\w+', names)
                if f'{source}.{n}' in sources]  # ``from pkg import module``
            for target in targets:
                resolved = _resolve(target, sources)
                if resolved and resolved != name:
                    imports.append(resolved)
        registered, exports = [], []
        for m in _REGISTERED.finditer(text):
            alias = _NAME_ARG.search(m.group('args'))
            attr = m.group('name')
            registered.append(alias.group(1) if alias else attr)
            exports += [(registered[-1], attr), (attr, attr)]
        raw[name] = ModuleInfo(name, frozenset(_HOST_IMPORT.findall(text)),
                               tuple(dict.fromkeys(imports)),
                               tuple(dict.fromkeys(registered)),
                               tuple(dict.fromkeys(exports)))

    skip = {package + entry for entry in _ENTRIES}
    done: Dict[str, FrozenSet[str]] = {}

    def hosts_of(name: str, stack: Tuple[str, ...] = ()) -> FrozenSet[str]:
        if name in done:
            return done[name]
        info = raw[name]
        found = set(info.direct_hosts)
        for dep in info.imports:
            if dep not in stack and dep not in skip:
                found |= hosts_of(dep, stack + (name,))
        done[name] = frozenset(found)
        return done[name]

    return {n: ModuleInfo(i.name, i.direct_hosts, i.imports, i.registered,
                          i.exports, hosts_of(n))
            for n, i in raw.items()}


def modules_for(host: str) -> List[str]:
    """The registering modules ``register_host(host)`` imports, in name order."""
    if host not in ALLOWED:
        raise ValueError(f'unknown host {host!r}; one of {HOSTS}')
    allowed = ALLOWED[host]
    skip = {PACKAGE + entry for entry in _ENTRIES}
    out = []
    for name, info in sorted(scan().items()):
        if name in skip or not info.registered:
            continue
        if info.hosts <= allowed:
            out.append(name)
    return out


def register_host(host: str) -> List[str]:
    """Import every module that registers into ``host`` (see the table above),
    after :mod:`mmpad.core.checkpoint` (importing it routes mmengine's checkpoint
    loaders through the safe loader), whichever entry point runs first."""
    names = modules_for(host)
    importlib.import_module(PACKAGE + '.core.checkpoint')
    for name in names:
        importlib.import_module(name)
    return names


def lazy_names(package: str, where: Dict[str, Tuple[str, str]]
               ) -> Tuple[List[str], Callable[[str], object]]:
    """``__all__`` and a module ``__getattr__`` for ``package``: each name of
    ``where`` (exported name -> (module, attribute)) imported on first access.

    An exported name may not also be a submodule of ``package``: importing the
    submodule (``import package.name``) sets the attribute to the module, after
    which ``from package import name`` gives the module, not the exported
    object, depending on what was imported first. That is refused here.
    """
    pkg = sys.modules.get(package)
    for folder in getattr(pkg, '__path__', None) or ():
        entries = os.listdir(folder)
        submodules = {osp.splitext(e)[0] for e in entries if e.endswith('.py')}
        submodules |= {e for e in entries if osp.isfile(osp.join(folder, e, '__init__.py'))}
        clash = sorted(set(where) & submodules)
        if clash:
            raise ImportError(
                f'{package}: the exported name(s) {clash} are also submodules of '
                f'{folder}; importing such a submodule replaces the exported name '
                'with the module. Rename the module or the export.')

    def __getattr__(attr: str) -> object:
        if attr not in where:
            raise AttributeError(
                f'module {package!r} has no attribute {attr!r}')
        module, name = where[attr]
        return getattr(importlib.import_module(module), name)

    return sorted(where), __getattr__


def lazy_exports(package: str) -> Tuple[List[str], Callable[[str], object]]:
    """:func:`lazy_names` for every name the modules of ``package`` register."""
    prefix = package + '.'
    where: Dict[str, Tuple[str, str]] = {}
    for name, info in sorted(scan().items()):
        if name.startswith(prefix):
            for exported, attr in info.exports:
                where.setdefault(exported, (name, attr))
    return lazy_names(package, where)
