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
