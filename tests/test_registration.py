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
