"""`import mmpad` registers every module into its host's registries, and
`mmpad.pretrain` works without mmdet / mmseg (mmcv-lite installs)."""
import subprocess
import sys

import pytest

import mmpad  # noqa: F401

EXPECTED = {
    ('mmpretrain', 'MODELS'): ['PAD', 'PADMAEViT', 'PADMILANViT'],
    ('mmpretrain', 'DATASETS'): ['MSIPDataset'],
    ('mmpretrain', 'TRANSFORMS'): ['ObjectSensitiveRandomRoICrop'],
    ('mmpretrain', 'HOOKS'): ['DelayedScaleHook', 'AdapterCheckpointHook'],
    ('mmdet', 'MODELS'): ['AlignDetPretrainer', 'BoxContrastiveLoss', 'PADViTDet',
                          'SimpleFPN'],
    ('mmdet', 'DATASETS'): ['FLIRDataset', 'AlignDetProposalDataset'],
    ('mmdet', 'TRANSFORMS'): ['AssignInstanceIds', 'TopKProposals'],
    ('mmdet', 'HOOKS'): ['AlignDetMomentumHook'],
    ('mmseg', 'MODELS'): ['PADMAE', 'SOPEncoderDecoder'],
    ('mmseg', 'DATASETS'): ['SODADataset', 'MFNetDataset', 'SOPUnlabeledDataset'],
    ('mmseg', 'TRANSFORMS'): ['SubimageOverlap'],
    ('mmseg', 'METRICS'): ['SOPIoUMetric'],
    (None, 'RUNNERS'): ['MMPadRunner'],
    (None, 'HOOKS'): ['RandomStateHook', 'GradientSyncCheckHook',
                      'NonFiniteLossHook', 'BadSampleLoggerHook'],
    (None, 'TRANSFORMS'): ['LoadImageFromFileSafe'],
}


@pytest.mark.parametrize('scope,registry', sorted(EXPECTED, key=str))
def test_import_mmpad_registers_into_hosts(scope, registry):
    import importlib
    reg = getattr(importlib.import_module(f'{scope or "mmengine"}.registry'), registry)
    for name in EXPECTED[(scope, registry)]:
        obj = reg.get(name)
        assert obj is not None and obj.__module__.startswith('mmpad'), name


BLOCK_HOSTS = '''
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('mmdet', 'mmseg'):
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, Block())
import mmpad.pretrain
from mmpretrain.registry import MODELS, TRANSFORMS
assert MODELS.get('PAD') is not None and TRANSFORMS.get('ObjectSensitiveRandomRoICrop')
assert not any(m.split('.')[0] in ('mmdet', 'mmseg') for m in sys.modules), \\
    sorted(m for m in sys.modules if m.startswith(('mmdet', 'mmseg')))
print('pretrain-alone-ok')
'''


def test_pretrain_imports_without_mmdet_and_mmseg():
    proc = subprocess.run([sys.executable, '-c', BLOCK_HOSTS], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'pretrain-alone-ok' in proc.stdout


@pytest.mark.parametrize('entry', ['mmpad.det', 'mmpad.seg'])
def test_host_entries_import_alone(entry):
    code = f'import {entry}; print("ok")'
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and 'ok' in proc.stdout, proc.stderr[-3000:]


LAZY_PACKAGES = ['mmpad.pad', 'mmpad.aligndet', 'mmpad.sop', 'mmpad.datasets',
                 'mmpad.datasets.transforms', 'mmpad.engine.hooks']


@pytest.mark.parametrize('package', LAZY_PACKAGES)
def test_packages_export_what_they_register(package):
    """``from mmpad.pad import PADViTDet`` and the like, for every registered name."""
    import importlib
    pkg = importlib.import_module(package)
    assert pkg.__all__, package
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        assert obj.__module__.startswith(package + '.'), (name, obj.__module__)
    with pytest.raises(AttributeError, match='no attribute'):
        getattr(pkg, 'NotAnMmpadName')


def test_names_users_type_in_imports():
    """What users of other OpenMMLab packages write, e.g.
    ``from mmdet.datasets.transforms import PackDetInputs``."""
    from mmpad.aligndet import AlignDetPretrainer, BoxContrastiveLoss  # noqa: F401
    from mmpad.datasets import FLIRDataset, SODADataset  # noqa: F401
    from mmpad.datasets.transforms import LoadImageFromFileSafe  # noqa: F401
    from mmpad.pad import (PAD, ObjectSensitiveRandomRoICrop,  # noqa: F401
                           PADMAEViT, PADViTDet)
    from mmpad.sop import SOPEncoderDecoder, SubimageOverlap  # noqa: F401


def test_every_scanned_name_is_registered_by_import_mmpad():
    """The registration is derived from the modules: each name a module registers
    is in some registry after ``import mmpad``, and is the module's object."""
    import importlib

    from mmengine.registry import Registry

    from mmpad import registration
    registries = []
    for scope in ('mmengine', 'mmpretrain', 'mmdet', 'mmseg'):
        reg_mod = importlib.import_module(f'{scope}.registry')
        registries += [r for r in vars(reg_mod).values() if isinstance(r, Registry)]
    for name, info in registration.scan().items():
        if not info.registered or name == 'mmpad.registration':
            continue
        module = importlib.import_module(name)
        for reg_name, attr in info.exports:
            if reg_name not in info.registered:
                continue  # the attribute's own name, exported beside its alias
            found = [r for r in registries if reg_name in r.module_dict]
            assert found, f'{name}: {reg_name} is in no registry'
            assert any(r.module_dict[reg_name] is getattr(module, attr)
                       for r in found), (name, reg_name)


def _lazy_package(root, name: str, exported: str) -> str:
    """A package ``name`` under ``root`` whose ``__init__`` exports ``exported``
    lazily from its submodule ``impl`` (a function ``impl.make``)."""
    pkg = root / name
    pkg.mkdir()
    (pkg / 'impl.py').write_text('def make():\n    return 42\n')
    (pkg / '__init__.py').write_text(
        'from mmpad.registration import lazy_names\n'
        f'__all__, __getattr__ = lazy_names(__name__, {{{exported!r}: '
        f'(__name__ + ".impl", "make")}})\n')
    return str(root)


def _run(root: str, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', f'import sys; sys.path.insert(0, {root!r})\n'
                           + code], capture_output=True, text=True, timeout=120)


def test_lazy_export_named_like_its_submodule_is_refused(tmp_path):
    """A user's ``from pkg import name`` must not get the module ``pkg.name`` once
    something imported the submodule first: such an export fails at import with
    the package and the name."""
    root = _lazy_package(tmp_path, 'clashing', 'impl')
    res = _run(root, 'import clashing')
    assert res.returncode != 0
    assert "clashing: the exported name(s) ['impl'] are also submodules" in res.stderr
    # control: the same package exporting another name works whichever comes first
    root2 = tmp_path / 'other'
    root2.mkdir()
    _lazy_package(root2, 'fine', 'make')
    res = _run(str(root2), 'import fine.impl\nfrom fine import make\n'
                           'assert make() == 42, make\nprint("ok")')
    assert res.returncode == 0 and 'ok' in res.stdout, res.stderr


def test_what_the_guard_prevents(tmp_path):
    """Control for the guard: a plain module ``__getattr__`` exporting ``impl``
    hands out the module once ``pkg.impl`` has been imported."""
    pkg = tmp_path / 'plain'
    pkg.mkdir()
    (pkg / 'impl.py').write_text('def make():\n    return 42\n')
    (pkg / '__init__.py').write_text(
        'import importlib\n'
        'def __getattr__(a):\n'
        '    return importlib.import_module(__name__ + ".impl").make\n')
    res = _run(str(tmp_path),
               'import plain.impl\nfrom plain import impl\nprint(type(impl).__name__)')
    assert res.stdout.strip() == 'module', res.stderr


def test_selective_search_is_the_function_after_its_module_is_imported():
    """``from mmpad.core.proposals import selective_search`` after the generator's
    module was imported (as ``generate_proposals`` does) is still the function."""
    res = subprocess.run([sys.executable, '-c',
                          'import mmpad.core.proposals.generate\n'
                          'from mmpad.core.proposals import selective_search, Regions\n'
                          'assert callable(selective_search) and '
                          'type(selective_search).__name__ == "function", selective_search\n'
                          'print("ok")'], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and 'ok' in res.stdout, res.stderr
