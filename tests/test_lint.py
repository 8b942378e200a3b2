"""The code passes the project's lint hooks (``.pre-commit-config.yaml``).

The hooks are local (``language: system``): ``pre-commit run --all-files`` uses the ruff
and pyyaml of the project's environment (``requirements/lint.txt``, installed by
``tools/install_env.sh``) and downloads nothing, so CI runs exactly what a contributor's
``pre-commit install`` runs on each commit. Settings: ``[tool.ruff]`` in pyproject.toml.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys

from mmpad_test_utils import REPO

BIN = osp.dirname(sys.executable)


def _run(args, cwd):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
               PRE_COMMIT_HOME=osp.join(cwd, '.pre-commit-home'), SKIP='')
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def _repo_copy(tmp_path, files):
    """A git repository holding the lint settings and ``files`` ({path: text})."""
    root = tmp_path / 'repo'
    root.mkdir()
    for name in ('pyproject.toml', '.pre-commit-config.yaml'):
        shutil.copy(osp.join(REPO, name), root / name)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for cmd in (['git', 'init', '-q'], ['git', 'add', '-A']):
        subprocess.run(cmd, cwd=root, check=True, capture_output=True)
    return str(root)


def test_pre_commit_passes_on_the_repository(tmp_path):
    # run on a copy of the tracked files, so that pre-commit's stash / cache never
    # touches the checkout the tests run from
    tracked = subprocess.run(['git', 'ls-files', '-z'], cwd=REPO, check=True,
                             capture_output=True).stdout.decode().split('\0')
    files = {}
    for rel in filter(None, tracked):
        if rel.endswith(('.py', '.yml', '.yaml', '.toml')) and osp.isfile(osp.join(REPO, rel)):
            files[rel] = open(osp.join(REPO, rel), encoding='utf-8').read()
    root = _repo_copy(tmp_path, files)
    proc = _run([osp.join(BIN, 'pre-commit'), 'run', '--all-files'], root)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert 'ruff' in proc.stdout and 'Passed' in proc.stdout


def test_control_a_violation_fails_the_hooks(tmp_path):
    root = _repo_copy(tmp_path, {
        'pkg/bad.py': 'import os\n\n\ndef f():\n    return 1\n',  # F401: unused import
        'pkg/long.py': 'X = "' + 'a' * 120 + '"\n',                 # E501
        'configs/bad.yml': 'a: [1, 2\n',                              # does not parse
    })
    proc = _run([osp.join(BIN, 'pre-commit'), 'run', '--all-files'], root)
    assert proc.returncode != 0
    out = proc.stdout
    assert 'F401' in out and 'E501' in out, out[-4000:]
    assert 'bad.yml' in out or 'yaml' in out.lower(), out[-4000:]
