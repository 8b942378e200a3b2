"""mmpad as an installed OpenMMLab package: ``mmpad::`` configs, mim, the wheel.

What a user does: install mmpad (a wheel, or ``pip install -e .`` as the README says),
write a config in their own directory that inherits ``mmpad::...``, and train it with
any entry point (mmdet's ``tools/train.py`` through ``mim train mmdet``, or
``mim train mmpad``). Each install lives in a virtualenv made here, which sees the
project's dependencies through a ``.pth`` file (so the project venv is not touched)
and runs from a directory outside the repository with ``PYTHONPATH`` unset, so the
mmpad it imports is the installed one.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from typing import Dict, List

import pytest

from mmpad_test_utils import REPO

DEPS_SITE = sysconfig.get_paths()['purelib']  # the project venv's site-packages
IGNORE = shutil.ignore_patterns('.git', '.venv', 'work_dirs', 'data', '.mim', 'build',
                                'dist', '*.egg-info', '__pycache__', '.pytest_cache')

# What the user writes: two training iterations of the demo RetinaNet, no validation.
USER_CONFIG = """\
_base_ = ['mmpad::foundation/retinanet_r18-tiny_flir-demo.py']
train_cfg = dict(max_iters=2, val_interval=100)
default_hooks = dict(logger=dict(interval=1))
val_cfg = val_dataloader = val_evaluator = None
test_cfg = test_dataloader = test_evaluator = None
"""
# Parses a config without importing what its custom_imports name (mmpad): only the
# install-time hook can make `mmpad::` resolve here.
PARSE = """\
import sys
from mmengine import Config
cfg = Config.fromfile(sys.argv[1], import_custom_modules=False)
assert 'mmpad' not in sys.modules, 'parsing imported mmpad'
print('MODEL', cfg.model.type, cfg.model.get('_scope_'))
"""


def _env(extra: Dict[str, str] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', PYTHONWARNINGS='ignore')
    env.update(extra or {})
    return env


def _run(cmd: List[str], cwd: str, env: Dict[str, str] = None, timeout: int = 400,
         check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=_env(env), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{cmd} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-3000:]}')
    return proc


def _make_venv(root: str) -> str:
    """A venv whose own site-packages come first and the project's deps after."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', root], check=True)
    python = osp.join(root, 'bin', 'python')
    site = _run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                cwd=root).stdout.strip()
    with open(osp.join(site, 'zz-mmpad-test-deps.pth'), 'w') as f:
        f.write(DEPS_SITE + '\n')
    return python


def _pip_install(python: str, *args: str) -> None:
    _run([sys.executable, '-m', 'pip', '--python', python, 'install', '-q', '--no-deps',
          '--no-build-isolation', *args], cwd=osp.dirname(python))


def _user_dir(tmp: str) -> str:
    os.makedirs(tmp, exist_ok=True)
    with open(osp.join(tmp, 'my_retinanet.py'), 'w') as f:
        f.write(USER_CONFIG)
    with open(osp.join(tmp, 'parse.py'), 'w') as f:
        f.write(PARSE)
    return tmp


def _imported_from(python: str, cwd: str) -> str:
    code = 'import importlib.util; print(importlib.util.find_spec("mmpad").origin)'
    return _run([python, '-c', code], cwd=cwd).stdout.strip()


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> str:
    """``pip wheel`` of a copy of the repository."""
    src = str(tmp_path_factory.mktemp('wheel_src') / 'mmpad')
    shutil.copytree(REPO, src, ignore=IGNORE)
    out = str(tmp_path_factory.mktemp('wheel'))
    _run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
          src, '-w', out], cwd=out)
    (name,) = os.listdir(out)
    return osp.join(out, name)


@pytest.fixture(scope='module')
def wheel_venv(wheel, tmp_path_factory) -> str:
    python = _make_venv(str(tmp_path_factory.mktemp('wheel_venv') / 'venv'))
    _pip_install(python, wheel)
    return python


@pytest.fixture(scope='module')
def editable_venv(tmp_path_factory):
    """``pip install --no-deps --no-build-isolation -e`` (tools/install_env.sh's
    command) of a copy of the repository; returns (python, source dir)."""
    src = str(tmp_path_factory.mktemp('editable_src') / 'mmpad')
    shutil.copytree(REPO, src, ignore=IGNORE)
    python = _make_venv(str(tmp_path_factory.mktemp('editable_venv') / 'venv'))
    _pip_install(python, '-e', src)
    return python, src


def test_wheel_holds_the_mim_tree_and_the_startup_hook(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {'mmpad-pkgmap.pth', '_mmpad_pkgmap.py', 'mmpad/py.typed',
            'mmpad/.mim/model-index.yml', 'mmpad/.mim/tools/train.py'} <= names
    configs = {osp.relpath(osp.join(d, f), REPO)
               for d, _, files in os.walk(osp.join(REPO, 'configs')) for f in files
               if f.endswith(('.py', '.yml'))}
    assert len(configs) > 100
    missing = {c for c in configs if f'mmpad/.mim/{c}' not in names}
    assert not missing, f'configs missing from the wheel: {sorted(missing)[:5]}'
    with zipfile.ZipFile(wheel) as zf:
        pth = zf.read('mmpad-pkgmap.pth').decode()
    assert pth.startswith('import _mmpad_pkgmap;')  # a .pth line runs only if it imports


def test_wheel_install_mmpad_base_with_mmdet_train(wheel_venv, demo_data, tmp_path):
    user = _user_dir(str(tmp_path / 'user'))
    assert _imported_from(wheel_venv, user).startswith(osp.dirname(osp.dirname(wheel_venv)))

    parsed = _run([wheel_venv, 'parse.py', 'my_retinanet.py'], cwd=user,
                  env={'MMPAD_DATA_ROOT': demo_data})
    assert 'MODEL RetinaNet' in parsed.stdout

    # mmdet's own tools/train.py, which knows nothing of mmpad
    work_dir = str(tmp_path / 'work')
    proc = _run([wheel_venv, '-m', 'mim', 'train', 'mmdet', 'my_retinanet.py',
                 '--work-dir', work_dir], cwd=user, env={'MMPAD_DATA_ROOT': demo_data})
    assert 'Training finished successfully' in proc.stdout
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert 'mmdet/.mim/tools/train.py' in proc.stdout

    listed = _run([wheel_venv, '-m', 'mim', 'list'], cwd=user).stdout
    assert any(line.split()[:2] == ['mmpad', '0.1.0'] for line in listed.splitlines())
    found = _run([wheel_venv, '-m', 'mim', 'search', 'mmpad', '--field', 'config',
                  'flir/box_ap', 'results_source'], cwd=user).stdout
    assert 'config id: faster-rcnn_vit-b-pad_simplefpn_2xb1-amp-lsj-53k_flir-1024x1024' in found
    assert '45.3' in found and 'paper (pad' in found


def test_without_the_startup_hook_mmengine_refuses_mmpad(wheel_venv, tmp_path):
    """Control: the same install and config, the .pth file set aside."""
    user = _user_dir(str(tmp_path / 'user'))
    site = osp.dirname(_imported_from(wheel_venv, user).rsplit('/mmpad/', 1)[0] + '/x')
    pth = osp.join(site, 'mmpad-pkgmap.pth')
    assert osp.isfile(pth)
    os.rename(pth, pth + '.off')
    try:
        proc = _run([wheel_venv, 'parse.py', 'my_retinanet.py'], cwd=user, check=False)
    finally:
        os.rename(pth + '.off', pth)
    assert proc.returncode != 0
    assert 'mmengine does not support to load mmpad config' in proc.stderr


def test_editable_install_mim_train_mmpad(editable_venv, demo_data, tmp_path):
    python, src = editable_venv
    user = _user_dir(str(tmp_path / 'user'))
    assert _imported_from(python, user) == osp.join(src, 'mmpad', '__init__.py')

    # the path mmengine and mim compute for an editable install does not exist;
    # the hook's get_installed_path follows the import instead
    code = textwrap.dedent("""\
        from mmengine.utils import get_installed_path
        print(get_installed_path.__wrapped__('mmpad'))
        print(get_installed_path('mmpad'))
    """)
    computed, followed = _run([python, '-c', code], cwd=user).stdout.split()
    assert not osp.exists(computed)
    assert followed == osp.join(src, 'mmpad')

    work_dir = str(tmp_path / 'work')
    proc = _run([python, '-m', 'mim', 'train', 'mmpad', 'my_retinanet.py',
                 '--work-dir', work_dir], cwd=user, env={'MMPAD_DATA_ROOT': demo_data})
    assert 'Training finished successfully' in proc.stdout
    assert f'{src}/mmpad/.mim/tools/train.py' in proc.stdout
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))

    listed = _run([python, '-m', 'mim', 'list'], cwd=user).stdout
    assert any(line.split()[:2] == ['mmpad', '0.1.0'] for line in listed.splitlines())
    found = _run([python, '-m', 'mim', 'search', 'mmpad', '--model', 'aligndet',
                  '--field', 'config', 'coco/box_ap'], cwd=user).stdout
    assert 'config id: retinanet_r50-aligndet_fpn_8xb2-1x_coco' in found
    assert '37.3' in found


def test_mmpad_base_builds_in_its_host_scope(editable_venv, tmp_path):
    """An ``mmpad::`` base behaves like the same file given by path: its dicts are
    built in the config's default_scope (mmdet), not in a scope 'mmpad' that has no
    registry. Control: mmengine's own scoping of the same config fails to build."""
    python, _ = editable_venv
    user = str(tmp_path / 'user')
    os.makedirs(user)
    with open(osp.join(user, 'my_aligndet.py'), 'w') as f:
        f.write("_base_ = ['mmpad::aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py']\n"
                "model = dict(detector=dict(bbox_head=dict(embed_dim=16)))\n")
    script = textwrap.dedent("""\
        import sys
        from mmengine import Config
        from mmengine.registry import DefaultScope, MODELS
        import mmpad.det  # noqa: F401
        wrapped = Config._get_cfg_path
        for label, get_cfg_path in (('hook', wrapped), ('mmengine', wrapped.__wrapped__)):
            Config._get_cfg_path = staticmethod(get_cfg_path)
            cfg = Config.fromfile('my_aligndet.py', import_custom_modules=False)
            with DefaultScope.overwrite_default_scope(cfg.default_scope):
                try:
                    model = MODELS.build(cfg.model)
                    print(label, cfg.model.get('_scope_'), type(model).__name__,
                          model.online.bbox_head.embed_dim)
                except KeyError as e:
                    print(label, cfg.model.get('_scope_'), 'KeyError', str(e)[:60])
    """)
    out = _run([python, '-c', script], cwd=user).stdout.splitlines()
    assert 'hook None AlignDetPretrainer 16' in out, out
    assert any(line.startswith('mmengine mmpad KeyError') for line in out), out


def test_metafiles_list_every_full_size_config_and_no_weights():
    """model-index.yml imports one metafile per method; together they list every
    config that is not a base or a demo, each once, with no ``Weights`` (none ship)
    and a source for every result."""
    import yaml
    with open(osp.join(REPO, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    listed = []
    for meta in index['Import']:
        with open(osp.join(REPO, meta)) as f:
            models = yaml.safe_load(f)['Models']
        for model in models:
            assert 'Weights' not in model, model['Name']
            assert osp.isfile(osp.join(REPO, model['Config'])), model['Config']
            assert model['Name'] == osp.basename(model['Config'])[:-3]
            if model.get('Results'):
                assert 'Results Source' in model['Metadata'], model['Name']
            listed.append(model['Config'])
    full_size = sorted(
        osp.relpath(osp.join(d, f), REPO)
        for d, _, files in os.walk(osp.join(REPO, 'configs')) for f in files
        if f.endswith('.py') and not {'_base_', 'demo'} & set(d.split(os.sep))
        and not d.endswith('foundation'))
    assert sorted(listed) == full_size
