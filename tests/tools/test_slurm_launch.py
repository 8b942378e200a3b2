"""tools/slurm_train.sh against a fake ``srun`` (and ``scontrol``) placed first on
PATH. The fake records its arguments and environment, then (unless told only to
record) runs the command as ``--ntasks`` "tasks" with ``SLURM_PROCID``,
``SLURM_NTASKS``, ``SLURM_LOCALID``, ``SLURM_NODELIST`` and ``SLURM_JOB_NAME`` set, as
srun does. Checked: the partition / job name / GPUS / GPUS_PER_NODE /
CPUS_PER_TASK / SRUN_ARGS flags, the environment srun passes on, that train.py gets
``--launcher slurm``, and that 2 tasks form one job (world size 2) on CPU."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmpad_test_utils import BIN, REPO, free_port

PAD_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')
HELPERS = osp.join(REPO, 'tests', 'helpers')

FAKE_SRUN = '''#!{python}
"""Fake srun: record argv and environment, then run the command as N tasks."""
import json, os, subprocess, sys
args = sys.argv[1:]
opts, i = [], 0
while i < len(args) and args[i].startswith('-'):
    # short options take the next word as their value (-p PART, -w NODE)
    take = 2 if len(args[i]) == 2 else 1
    opts += args[i:i + take]
    i += take
command = args[i:]
log = os.environ['FAKE_SRUN_LOG']
with open(log, 'w') as f:
    json.dump(dict(options=opts, command=command, env=dict(os.environ)), f)
if os.environ.get('FAKE_SRUN_RECORD_ONLY'):
    sys.exit(0)
ntasks = int(next(o.split('=', 1)[1] for o in opts if o.startswith('--ntasks=')))
procs = []
for rank in range(ntasks):
    env = dict(os.environ, SLURM_PROCID=str(rank), SLURM_NTASKS=str(ntasks),
               SLURM_LOCALID=str(rank), SLURM_NODELIST='fakenode[1]',
               SLURM_JOB_NAME=next(o.split('=', 1)[1] for o in opts
                                   if o.startswith('--job-name=')))
    procs.append(subprocess.Popen(command, env=env))
sys.exit(max(p.wait() for p in procs))
'''
FAKE_SCONTROL = '''#!/bin/sh
# fake scontrol: `scontrol show hostname NODELIST` names this machine
[ "$1 $2" = "show hostname" ] && echo 127.0.0.1
'''


@pytest.fixture
def fake_slurm(tmp_path):
    bin_dir = tmp_path / 'fake_bin'
    bin_dir.mkdir()
    for name, text in (('srun', FAKE_SRUN.format(python=sys.executable)),
                       ('scontrol', FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / 'srun.json'
    env = dict(os.environ, FAKE_SRUN_LOG=str(log), PYTHON=sys.executable,
               PATH=os.pathsep.join([str(bin_dir), BIN, os.environ.get('PATH', '')]))
    return env, log


def _slurm_train(env, *args, timeout=600):
    return subprocess.run(['bash', 'tools/slurm_train.sh', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_flags_and_environment(fake_slurm, tmp_path):
    env, log = fake_slurm
    env.update(GPUS='16', GPUS_PER_NODE='8', CPUS_PER_TASK='3',
               SRUN_ARGS='--quotatype=auto -w node7', FAKE_SRUN_RECORD_ONLY='1',
               MMPAD_MARK='kept', PYTHONPATH='/extra/path')
    proc = _slurm_train(env, 'infra', 'pad-job', 'cfg.py', str(tmp_path / 'w'),
                        '--cfg-options', 'a=1 2', '--resume')
    assert proc.returncode == 0, proc.stderr
    rec = json.load(open(log))
    assert rec['options'] == [
        '-p', 'infra', '--job-name=pad-job', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=3', '--kill-on-bad-exit=1',
        '--quotatype=auto', '-w', 'node7']
    assert rec['command'] == [
        sys.executable, '-u', osp.join(REPO, 'tools', 'train.py'), 'cfg.py',
        f'--work-dir={tmp_path / "w"}', '--launcher=slurm', '--cfg-options',
        'a=1 2', '--resume']
    # srun passes the caller's environment on, with the repo first on PYTHONPATH
    assert rec['env']['MMPAD_MARK'] == 'kept'
    assert rec['env']['PYTHONPATH'].split(os.pathsep) == [
        osp.join(REPO, 'tools', '..'), '/extra/path']


def test_defaults(fake_slurm, tmp_path):
    env, log = fake_slurm
    env['FAKE_SRUN_RECORD_ONLY'] = '1'
    for key in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS'):
        env.pop(key, None)
    assert _slurm_train(env, 'p', 'j', 'c.py', 'w').returncode == 0
    assert json.load(open(log))['options'][3:8] == [
        '--gres=gpu:8', '--ntasks=8', '--ntasks-per-node=8', '--cpus-per-task=5',
        '--kill-on-bad-exit=1']
    # fewer than 8 GPUs: the job asks for the GPUs it uses, not a whole node's 8
    env['GPUS'] = '2'
    assert _slurm_train(env, 'p', 'j', 'c.py', 'w').returncode == 0
    assert json.load(open(log))['options'][3:6] == [
        '--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2']


@pytest.mark.parametrize('var,value', [('GPUS', 'eight'), ('GPUS', '0'),
                                       ('GPUS_PER_NODE', '-1'),
                                       ('CPUS_PER_TASK', '4x')])
def test_bad_numbers_are_refused_before_srun(fake_slurm, var, value):
    env, log = fake_slurm
    env[var] = value
    proc = _slurm_train(env, 'p', 'j', 'c.py', 'w')
    assert proc.returncode == 2
    assert f"error: {var} must be a positive integer, got '{value}'" in proc.stderr
    assert not log.exists()


def test_two_tasks_train_one_model_on_cpu(fake_slurm, demo_data, tmp_path):
    """The fake runs train.py as 2 tasks: mmpad builds the gloo group from the
    Slurm variables (mmengine's slurm launcher needs GPUs), the tasks form one job
    and train one model (tiny PAD-MAE, 2 iterations)."""
    env, log = fake_slurm
    reports = tmp_path / 'reports'
    cfg = tmp_path / 'pad_slurm.py'
    cfg.write_text(
        f"_base_ = ['{PAD_CFG}']\n"
        "custom_imports = dict(imports=['rank_report'], allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DelayedScaleHook', ratio=0.6),\n"
        "    dict(type='GradientSyncCheckHook'),\n"
        f"    dict(type='RankReportHook', out_dir='{reports}')]\n"
        "default_hooks = dict(checkpoint=None)\n"
        "train_cfg = dict(max_epochs=1)\n"
        "randomness = dict(seed=3)\n")
    port = free_port()
    env.update(GPUS='2', MASTER_PORT=port, OMP_NUM_THREADS='1',
               MMPAD_DATA_ROOT=demo_data, PYTHONPATH=HELPERS, PYTHONUNBUFFERED='1')
    env.pop('MASTER_ADDR', None)
    proc = _slurm_train(env, 'cpu', 'pad-slurm', str(cfg), str(tmp_path / 'work'))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert '--launcher=slurm' in json.load(open(log))['command']
    assert 'identical on all 2 ranks in 2 checked steps' in out
    assert 'Distributed launcher: slurm' in out
    ranks = [json.load(open(reports / f'rank{r}.json')) for r in (0, 1)]
    for r, rep in enumerate(ranks):
        assert rep['rank'] == r and rep['world_size'] == 2 and rep['iters'] == 2
        assert rep['env']['SLURM_PROCID'] == str(r)
        # the rendezvous address came from scontrol, the port from the caller
        assert rep['env']['MASTER_ADDR'] == '127.0.0.1'
        assert rep['env']['MASTER_PORT'] == port
    assert ranks[0]['samples'] != ranks[1]['samples']  # each its share of the data
    assert ranks[0]['weights'] == ranks[1]['weights']


def test_slurm_env_mapping_and_errors(monkeypatch, tmp_path):
    from mmpad.engine.runner import slurm_to_torch_env
    for key in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.setenv(key, 'x')  # recorded: restored as before afterwards
        monkeypatch.delenv(key)
    monkeypatch.delenv('SLURM_PROCID', raising=False)
    with pytest.raises(RuntimeError, match='SLURM_PROCID is not set'):
        slurm_to_torch_env()
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_NTASKS', '4')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'gpu[7-8]')
    monkeypatch.setenv('PATH', str(tmp_path))  # no scontrol
    with pytest.raises(RuntimeError, match=r'named no host; set MASTER_ADDR'):
        slurm_to_torch_env()
    monkeypatch.setenv('MASTER_ADDR', '10.1.2.3')
    slurm_to_torch_env()
    assert [os.environ[k] for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                                    'MASTER_PORT')] == ['3', '4', '1', '10.1.2.3', '29500']
