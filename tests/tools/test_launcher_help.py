"""The launch scripts as a user first calls them: ``-h`` / ``--help`` print the usage
and exit 0, missing arguments print it and exit 2; neither starts anything
(``torchrun`` / ``srun`` are replaced by recorders on PATH / in ``PYTHON``)."""
import os
import stat

import pytest

from mmpad_test_utils import run_tool

SCRIPTS = {
    # script: the arguments of a complete call
    'tools/dist_train.sh': ['CFG.py', '2'],
    'tools/dist_test.sh': ['CFG.py', 'CKPT.pth', '2'],
    'tools/slurm_train.sh': ['PART', 'JOB', 'CFG.py', 'WORK'],
}


@pytest.fixture
def recorder(tmp_path):
    """A fake ``python`` (for PYTHON=) and ``srun`` (on PATH) that only write
    their arguments to ``calls.txt``."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'calls.txt'
    for name in ('srun', 'fake_python'):
        exe = bin_dir / name
        exe.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n')
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    env = dict(PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
               PYTHON=str(bin_dir / 'fake_python'))
    return env, calls


@pytest.mark.parametrize('script', sorted(SCRIPTS))
@pytest.mark.parametrize('flag', ['-h', '--help'])
def test_help_prints_usage_and_exits_0(script, flag, recorder):
    env, calls = recorder
    proc = run_tool([script, flag], env=env, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('usage: ') and script in proc.stdout
    assert 'unbound variable' not in proc.stderr
    assert not calls.exists()  # nothing was launched


@pytest.mark.parametrize('script', sorted(SCRIPTS))
def test_missing_arguments_print_usage_and_exit_2(script, recorder):
    env, calls = recorder
    for args in ([], SCRIPTS[script][:-1]):
        proc = run_tool([script] + args, env=env, check=False, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert 'error:' in proc.stderr and 'usage: ' in proc.stderr
        assert 'unbound variable' not in proc.stderr
    assert not calls.exists()


@pytest.mark.parametrize('script', sorted(SCRIPTS))
def test_complete_call_launches(script, recorder):
    """Control: with all arguments the launcher (the recorder) is called, with the
    extra arguments passed on to the tool."""
    env, calls = recorder
    proc = run_tool([script] + SCRIPTS[script] + ['--cfg-options', 'a=1 b'],
                    env=env, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    line = calls.read_text()
    launcher = 'srun' if 'slurm' in script else 'fake_python -m torch.distributed.run'
    assert line.startswith(launcher) and 'CFG.py' in line
    assert '--cfg-options a=1 b' in line
