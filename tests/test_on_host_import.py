"""``import mmpad`` registers into each host when the host is imported
(mmpad.on_host_import): the same names as before, without importing the hosts."""
import subprocess
import sys

HEAVY = "('torch', 'mmengine', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg')"

AFTER = f'''
import sys
import mmpad
imported = [m for m in {HEAVY} if m in sys.modules]
assert not imported, imported
{{prepare}}
from mmdet.registry import MODELS as DET
from mmseg.registry import MODELS as SEG
from mmpretrain.registry import MODELS as PRE
from mmengine.registry import RUNNERS
from mmengine.runner.checkpoint import CheckpointLoader
import mmpad.core.checkpoint.loading as loading
print('det', DET.get('PADViTDet') is not None, 'seg', SEG.get('SOPEncoderDecoder') is not None,
      'pre', PRE.get('PAD') is not None, 'runner', RUNNERS.get('MMPadRunner') is not None,
      'loader', CheckpointLoader._schemes.get('') is loading._installed)
'''


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_hosts_imported_after_mmpad_get_its_modules():
    out = _run(AFTER.format(prepare=''))
    assert 'det True seg True pre True runner True loader True' in out, out


def test_control_without_the_finder_hosts_imported_later_get_nothing():
    """With the finder taken out of sys.meta_path, the same imports register
    nothing: the finder is what registers (the names are not registered by the
    hosts' own imports)."""
    prepare = ('from mmpad.on_host_import import HostImportFinder\n'
               'sys.meta_path.remove(HostImportFinder)')
    out = _run(AFTER.format(prepare=prepare).replace(
        "import mmpad.core.checkpoint.loading as loading",
        "loading = type('L', (), {'_installed': object()})"))
    assert 'det False seg False pre False runner False loader False' in out, out


def test_register_all_imports_every_host_now():
    out = _run(f'''
import sys
import mmpad
mmpad.register_all()
print(sorted(m for m in {HEAVY} if m in sys.modules),
      sorted(m for m in ('mmpad.pretrain', 'mmpad.det', 'mmpad.seg', 'mmpad.engine')
             if m in sys.modules))
''')
    assert "['mmcv', 'mmdet', 'mmengine', 'mmpretrain', 'mmseg', 'torch']" in out, out
    assert "['mmpad.det', 'mmpad.engine', 'mmpad.pretrain', 'mmpad.seg']" in out, out


def test_entry_attributes_after_a_bare_import():
    out = _run('import mmpad; print(mmpad.det.__name__, mmpad.core.__name__)')
    assert 'mmpad.det mmpad.core' in out, out


def test_host_imported_by_an_mmpad_module_registers_after_it():
    """mmpad.core.config_check imports mmengine, whose registration imports
    mmpad.engine, which imports mmpad.core.config_check: the registration waits
    until config_check has finished (else: ImportError, partially initialised)."""
    out = _run('from mmpad.core import ConfigError\n'
               'from mmengine.registry import RUNNERS\n'
               "print(ConfigError.__name__, RUNNERS.get('MMPadRunner') is not None)")
    assert 'ConfigError True' in out, out
