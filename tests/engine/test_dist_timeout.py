"""A rank frozen by SIGSTOP no longer hangs the others forever (issue #13): the
collective timeout (``env_cfg.dist_cfg.timeout``, set by MMPadRunner when the config
has none) makes the waiting rank fail with a message naming the operation and the
timeout, and torchrun then ends the job."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
from mmengine.config import Config

from mmpad.engine.runner import (DEFAULT_DIST_TIMEOUT_S, collective_timeout_s,
                                 describe_collective_timeout,
                                 is_collective_timeout)
from mmpad.core.arg_check import InvalidArgumentError
from mmpad_test_utils import REPO, free_port

PAD_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')
TIMEOUT_S = 20

PID_HOOK = '''
import os, time
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class PidMarkerHook(Hook):
    """Writes <out_dir>/rank<r>.pid once the rank has trained one iteration."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.done = False

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.done:
            rank = os.environ.get('RANK', '0')
            tmp = os.path.join(self.out_dir, f'.rank{rank}.pid')
            with open(tmp, 'w') as f:
                f.write(str(os.getpid()))
            os.replace(tmp, os.path.join(self.out_dir, f'rank{rank}.pid'))
            self.done = True
        time.sleep(0.05)
'''


def test_default_and_configured_timeout():
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert collective_timeout_s(cfg) == DEFAULT_DIST_TIMEOUT_S == 1800
    assert cfg.env_cfg.dist_cfg.timeout == 1800
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=20))))
    assert collective_timeout_s(cfg) == 20
    assert collective_timeout_s(Config(dict())) == 1800
    for bad in ('20', 0, -1, True):
        with pytest.raises(InvalidArgumentError,
                           match='env_cfg.dist_cfg: argument timeout='):
            collective_timeout_s(Config(dict(env_cfg=dict(dist_cfg=dict(
                timeout=bad)))))


def test_timeout_message():
    err = RuntimeError('[../third_party/gloo/gloo/transport/tcp/unbound_buffer.cc'
                       ':81] Timed out waiting 20000ms for recv operation to '
                       'complete')
    assert is_collective_timeout(err)
    assert not is_collective_timeout(RuntimeError('CUDA out of memory'))
    try:
        try:
            raise err
        except RuntimeError as e:
            raise ValueError('wrapped') from e
    except ValueError as wrapped:
        assert is_collective_timeout(wrapped)
    msg = describe_collective_timeout(err, 20, 0, 'at epoch 1, iteration 3')
    assert msg.startswith('rank 0: the recv operation of a collective')
    assert 'within the 20 s collective timeout (env_cfg.dist_cfg.timeout) at ' \
        'epoch 1, iteration 3' in msg


@pytest.mark.timeout(600)
def test_a_rank_frozen_by_sigstop_ends_the_job_within_the_timeout(demo_data,
                                                                  tmp_path):
    (tmp_path / 'stall_marker.py').write_text(PID_HOOK)
    marks = tmp_path / 'marks'
    marks.mkdir()
    cfg = tmp_path / 'stall.py'
    cfg.write_text(
        f"_base_ = ['{PAD_CFG}']\n"
        "custom_imports = dict(imports=['mmpad', 'stall_marker'], "
        "allow_failed_imports=False)\n"
        f"custom_hooks = [dict(type='PidMarkerHook', out_dir='{marks}')]\n"
        "train_cfg = dict(max_epochs=10000)\n"
        "default_hooks = dict(checkpoint=dict(interval=10000, save_last=False))\n")
    env = dict(os.environ, PYTHON=sys.executable, PORT=free_port(),
               OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               MMPAD_DATA_ROOT=demo_data, PYTHONPATH=str(tmp_path))
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    out_path = tmp_path / 'job.out'
    out = open(out_path, 'w')
    proc = subprocess.Popen(
        ['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir',
         str(tmp_path / 'work'), '--cfg-options',
         f'env_cfg.dist_cfg.timeout={TIMEOUT_S}'],
        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True)
    stopped = None
    try:
        deadline = time.time() + 400
        while not all((marks / f'rank{r}.pid').exists() for r in (0, 1)):
            assert proc.poll() is None, out_path.read_text()[-5000:]
            assert time.time() < deadline, 'the ranks did not start training'
            time.sleep(0.2)
        time.sleep(1.0)  # a few more iterations
        assert proc.poll() is None
        stopped = int((marks / 'rank1.pid').read_text())
        os.kill(stopped, signal.SIGSTOP)
        t0 = time.monotonic()
        # timeout + torchrun's 30 s grace before it SIGKILLs the stopped rank
        # + slack for a loaded machine
        bound = TIMEOUT_S + 30 + 60
        try:
            proc.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - t0
    finally:
        if stopped is not None:
            try:
                os.kill(stopped, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        if stopped is not None:
            try:
                os.kill(stopped, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out.close()
    text = out_path.read_text()
    print(f'\nSIGSTOP test: job ended {elapsed:.1f} s after rank 1 was stopped '
          f'(collective timeout {TIMEOUT_S} s), exit code {proc.returncode}')
    assert elapsed < bound, f'the job still ran {elapsed:.0f} s after the stop'
    assert proc.returncode != 0
    assert ('rank 0: ' in text and f'did not complete within the {TIMEOUT_S} s '
            'collective timeout (env_cfg.dist_cfg.timeout)' in text), text[-5000:]
    # and it did not end before the timeout: the wait was the collective's
    assert elapsed >= TIMEOUT_S - 1
