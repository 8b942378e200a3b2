"""The package's layering, read from the imports of every module.

* ``mmpad.core`` imports no host library (mmpretrain, mmdet, mmseg), not even
  through another mmpad module;
* a layer imports only the layers below it:
  ``core < engine < datasets < {pad, aligndet, sop} < entry points``;
* the method folders (``pad``, ``aligndet``, ``sop``) do not import each other;
* what ``mmpad.pretrain`` registers never needs mmdet or mmseg;
* imports inside mmpad are absolute and never take a name from a lazily
  exporting package ``__init__`` (the reader would not see the real dependency).

Each rule is checked on the real package and, as a control, on a small package
written to break it.
"""
import os.path as osp
import textwrap
from typing import Dict, List

import pytest

from mmpad import registration

HOST_FREE = ('core',)
LAYERS = {'core': 0, 'engine': 1, 'datasets': 2, 'pad': 3, 'aligndet': 3,
          'sop': 3}
METHODS = ('pad', 'aligndet', 'sop')
ENTRIES = ('', 'pretrain', 'det', 'seg')  # registration, version: any layer


def _part(package: str, module: str) -> str:
    """``mmpad.core.adapters.freezing`` -> ``core``; ``mmpad`` -> ``''``."""
    rest = module[len(package):].lstrip('.')
    return rest.split('.')[0]


def violations(root: str) -> List[str]:
    """Every broken rule of the package at ``root``, one line each."""
    package = osp.basename(root)
    infos = registration.scan(root)
    lazy = {name for name, info in infos.items()
            if name.count('.') >= 1 and _is_lazy(root, package, name)}
    found: List[str] = []
    for name, info in sorted(infos.items()):
        part = _part(package, name)
        if part in HOST_FREE and info.hosts:
            found.append(f'{name} (core) needs {sorted(info.hosts)}')
        for dep in info.imports:
            dep_part = _part(package, dep)
            if dep in lazy and dep != name:
                found.append(f'{name} imports a name from the lazy package {dep}')
            if part in LAYERS and dep_part in LAYERS:
                if LAYERS[dep_part] > LAYERS[part]:
                    found.append(f'{name} ({part}) imports upwards: {dep}')
                if (part in METHODS and dep_part in METHODS
                        and part != dep_part):
                    found.append(f'{name} imports another method: {dep}')
            if part in LAYERS and dep_part in ENTRIES:
                found.append(f'{name} imports the entry point {dep}')
        if _has_relative_import(root, package, name):
            found.append(f'{name} has a relative import')
    return found


def _path(root: str, package: str, name: str) -> str:
    rel = name[len(package):].lstrip('.').replace('.', osp.sep)
    base = osp.join(root, rel) if rel else root
    return (osp.join(base, '__init__.py') if osp.isdir(base) else base + '.py')


def _is_lazy(root: str, package: str, name: str) -> bool:
    path = _path(root, package, name)
    return (path.endswith('__init__.py')
            and 'lazy_exports(' in open(path, encoding='utf-8').read())


def _has_relative_import(root: str, package: str, name: str) -> bool:
    import re
    text = open(_path(root, package, name), encoding='utf-8').read()
    return re.search(r'^\s*from\s+\.', text, re.M) is not None


def test_the_package_keeps_its_layers():
    assert violations(registration.ROOT) == []


def test_pretrain_registers_nothing_that_needs_mmdet_or_mmseg():
    infos = registration.scan()
    for name in registration.modules_for('mmpretrain'):
        assert not infos[name].hosts & {'mmdet', 'mmseg'}, name


def test_every_registering_module_reaches_a_host():
    """No module registers names that no ``import mmpad`` path imports."""
    reached = set()
    for host in registration.HOSTS:
        reached.update(registration.modules_for(host))
    registering = {n for n, i in registration.scan().items() if i.registered
                   and n not in {'mmpad.registration'}}
    assert registering - reached == set()


def _write(root, files: Dict[str, str]) -> str:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return str(root)


@pytest.fixture
def broken_package(tmp_path):
    """A package named ``fakepad`` that breaks every rule once."""
    registration.scan.cache_clear()
    yield _write(tmp_path / 'fakepad', {
        '__init__.py': '',
        'registration.py': 'def lazy_exports(name):\n    return [], None\n',
        'core/__init__.py': '',
        # core needs mmdet through another core module
        'core/a.py': 'from fakepad.core.b import thing\n',
        'core/b.py': 'import mmdet.models\nthing = 1\n',
        # core imports the engine (upwards)
        'core/c.py': 'from fakepad.engine.runner import Runner\n',
        'engine/__init__.py': '',
        'engine/runner.py': 'class Runner:\n    pass\n',
        'pad/__init__.py': ('from fakepad.registration import lazy_exports\n'
                            '__all__, __getattr__ = lazy_exports(__name__)\n'),
        # a method imports another method
        'pad/x.py': 'from fakepad.sop.y import Y\n',
        'sop/__init__.py': '',
        'sop/y.py': 'from .z import Z\nY = 1\n',  # relative import
        'sop/z.py': 'Z = 1\n',
        # a name taken from a lazily exporting package
        'sop/w.py': 'from fakepad.pad import PADThing\n',
    })
    registration.scan.cache_clear()


def test_control_each_rule_catches_its_break(broken_package):
    found = '\n'.join(violations(broken_package))
    assert "fakepad.core.a (core) needs ['mmdet']" in found
    assert "fakepad.core.b (core) needs ['mmdet']" in found
    assert 'fakepad.core.c (core) imports upwards: fakepad.engine.runner' in found
    assert 'fakepad.pad.x imports another method: fakepad.sop.y' in found
    assert 'fakepad.sop.y has a relative import' in found
    assert 'fakepad.sop.w imports a name from the lazy package fakepad.pad' in found
    assert 'fakepad.sop.w imports another method: fakepad.pad' in found
    assert len(violations(broken_package)) == 7, found


def test_control_scan_reads_hosts_and_registered_names(tmp_path):
    root = _write(tmp_path / 'fakepkg', {
        '__init__.py': '',
        'a.py': ('from fakepkg.b import helper\n'
                 '@MODELS.register_module()\nclass A:\n    pass\n'),
        'b.py': ('def helper():\n    from mmseg.registry import MODELS\n'
                 '@HOOKS.register_module(name="Renamed")\n'
                 '@other\nclass B:\n    pass\n'),
        'c.py': 'import torch\n',
    })
    infos = registration.scan(root)
    assert infos['fakepkg.a'].hosts == {'mmseg'}  # through b's lazy import
    assert infos['fakepkg.a'].direct_hosts == frozenset()
    assert infos['fakepkg.a'].registered == ('A',)
    assert infos['fakepkg.b'].registered == ('Renamed',)
    assert infos['fakepkg.b'].exports == (('Renamed', 'B'), ('B', 'B'))
    assert infos['fakepkg.c'].hosts == frozenset()
    assert infos['fakepkg.c'].registered == ()


# ------------------------------------------------ what an import really loads
# Run in fresh interpreters: sys.modules after an import, not the source text.
# mmpretrain 1.2.0 itself imports mmdet.models when mmdet is installed
# (mmpretrain/models/utils/res_layer_extra_norm.py), so on a full install "no
# mmdet" is checked two ways: with mmdet and mmseg made unimportable (a PAD
# pre-training machine without them), and as "nothing beyond what mmpretrain loads".
_BLOCK_HOSTS = '''
import sys, traceback
attempts = []
class _BlockHosts:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('mmdet', 'mmseg'):
            stack = traceback.extract_stack()[:-1]
            if not any(f.name == 'find_spec' and 'importlib.util' in f.filename
                       for f in stack):  # an import, not a find_spec probe
                # mmpad.on_host_import's finder forwards every lookup to the
                # other finders: the importer is the frame before it
                attempts.append([f.filename for f in stack
                                 if not f.filename.startswith('<frozen')
                                 and not f.filename.endswith('on_host_import.py')][-1])
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
        return None
sys.meta_path.insert(0, _BlockHosts())
'''
#: what mmpad's mmpretrain modules import from mmpretrain
_MMPRETRAIN = 'import mmpretrain.models, mmpretrain.engine, mmpretrain.datasets'


def _loaded(statement: str, block_hosts: bool = False) -> dict:
    """``hosts``: the host libraries a fresh interpreter holds after ``statement``;
    ``blocked_from``: with ``block_hosts``, the files that tried to import mmdet or
    mmseg (made unimportable)."""
    import json
    import subprocess
    import sys
    code = (_BLOCK_HOSTS if block_hosts else 'attempts = []\n') + statement + '\n' + (
        'import json, sys\n'
        f'print(json.dumps(dict(hosts=[m for m in {registration.HOSTS!r} '
        'if m in sys.modules], blocked_from=attempts)))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=osp.dirname(registration.ROOT))
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return dict(hosts=set(res['hosts']), blocked_from=res['blocked_from'])


def _hosts_with_entry_points() -> set:
    """mmdet / mmseg where installed with the compiled mmcv ops they need."""
    import importlib.util

    def found(name):
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False
    return ({h for h in ('mmdet', 'mmseg') if found(h)}
            if found('mmcv._ext') else set())


def _package_imports_entry_points_eagerly() -> List[str]:
    """The entry points ``mmpad/__init__.py`` imports when it runs (outside any
    function): while it imports ``mmpad.det`` / ``mmpad.seg`` itself, importing
    any submodule registers every host."""
    import ast
    with open(osp.join(registration.ROOT, '__init__.py'), encoding='utf-8') as f:
        tree = ast.parse(f.read())
    found, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [f'{node.module}.{a.name}' for a in node.names] + [node.module]
        todo.extend(ast.iter_child_nodes(node))
    return sorted({n for n in found if n in ('mmpad.det', 'mmpad.seg')})


def test_pretrain_entry_runs_without_mmdet_and_mmseg():
    """With mmdet and mmseg unimportable, ``import mmpad.pretrain`` registers every
    module it registers otherwise, and no mmpad file even tries to import them."""
    res = _loaded('import mmpad.pretrain\n'
                  'assert mmpad.pretrain.REGISTERED_MODULES == __import__('
                  '"mmpad.registration").registration.modules_for("mmpretrain")',
                  block_hosts=True)
    assert res['hosts'] & {'mmdet', 'mmseg'} == set()
    pkg = registration.ROOT + osp.sep
    assert [f for f in res['blocked_from'] if f.startswith(pkg)] == []


def test_control_blocked_hosts_are_seen():
    """The same probe on the mmdet entry point: mmpad's own files try mmdet."""
    res = _loaded('try:\n    import mmpad.det\nexcept ImportError:\n    pass',
                  block_hosts=True)
    pkg = registration.ROOT + osp.sep
    assert [f for f in res['blocked_from'] if f.startswith(pkg)]


def test_import_mmpad_pretrain_loads_no_host_beyond_mmpretrain_s_own():
    eager = _package_imports_entry_points_eagerly()
    if eager:
        pytest.skip(f'mmpad/__init__.py imports {", ".join(eager)} when it runs, so '
                    'every submodule import registers all hosts; this test runs once '
                    'the package registers only what the imported entry point needs')
    baseline = _loaded(_MMPRETRAIN)['hosts']
    assert _loaded('import mmpad.pretrain')['hosts'] <= baseline
    hosts = _hosts_with_entry_points()
    if hosts - baseline:  # control: registering everything loads mmseg (and mmdet)
        assert not _loaded('import mmpad; mmpad.register_all()')['hosts'] <= baseline
