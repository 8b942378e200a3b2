"""A pre-training killed with SIGKILL mid-run and restarted with ``--resume`` ends with
exactly the weights of the run that was never interrupted (CPU, same seed).

Each case trains three times through ``tools/train.py``: uninterrupted; killed (the
whole process group, data-loader workers included) right after a checkpoint was
completed; resumed with ``--resume`` in the killed run's work dir. The PAD-MAE case
is epoch-based with 2 data-loader workers, the AlignDet case iteration-based with
data loaded in the main process (the resumed loop re-draws the skipped batches).
A control resumes without the saved RNG states and must *not* match, so the
comparison can fail.
"""
import glob
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmpad.core.checkpoint.loading import torch_load_checked
from mmpad_test_utils import REPO, run_tool, selective_search_proposals

PAD_CFG = 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py'
ALIGNDET_CFG = 'configs/aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py'


def _env(data_root):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               MMPAD_DATA_ROOT=data_root)
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    return env


def _train_cmd(cfg, work, opts, resume=False):
    return ([sys.executable, 'tools/train.py', cfg, '--work-dir', str(work)] +
            (['--resume'] if resume else []) + ['--cfg-options'] + opts)


def _kill_after_checkpoint(cmd, env, work, ckpt_name, timeout=600):
    """Start ``cmd``; as soon as ``last_checkpoint`` names ``ckpt_name`` (written
    only once the file is complete) SIGKILL its whole process group."""
    log = open(osp.join(str(work) + '.out'), 'w')
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    pointer = osp.join(work, 'last_checkpoint')
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if osp.isfile(pointer) and open(pointer).read().strip().endswith(
                    ckpt_name):
                break
            assert proc.poll() is None, open(log.name).read()[-4000:]
            time.sleep(0.01)
        else:
            raise AssertionError(f'no {ckpt_name} within {timeout}s')
        still_running = proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert still_running, 'the run finished before it could be killed'
    assert proc.returncode == -signal.SIGKILL
    return sorted(osp.basename(p) for p in glob.glob(osp.join(work, '*.pth')))


def _weights(path):
    return torch_load_checked(str(path), map_location='cpu')['state_dict']


def _assert_same(a, b):
    assert a.keys() == b.keys()
    diff = [k for k in a if not torch.equal(a[k], b[k])]
    assert not diff, f'{len(diff)} tensors differ, e.g. {diff[:5]}'


def _losses(work):
    """iteration -> logged loss, over every launch in ``work`` (later wins)"""
    losses = {}
    for path in sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))):
        for line in open(path):
            row = json.loads(line)
            if 'loss' in row:
                losses[row['iter']] = row['loss']
    return losses


def _run(cmd, data_root):
    # one thread everywhere: CPU kernels are deterministic for a fixed thread count
    return run_tool(cmd, data_root=data_root, env={'OMP_NUM_THREADS': '1'})


@pytest.fixture(scope='module')
def stock_mae(demo_data, tmp_path_factory):
    """A plain-MAE checkpoint standing in for the ImageNet weights PAD starts from."""
    from mmengine.config import Config
    from mmengine.runner import save_checkpoint
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, PAD_CFG))
    torch.manual_seed(0)
    stock = MODELS.build(cfg.model.algorithm.to_dict())
    stock.init_weights()
    path = str(tmp_path_factory.mktemp('stock') / 'mae_stock.pth')
    save_checkpoint({'meta': {}, 'state_dict': stock.state_dict()}, path)
    return path


def test_pad_mae_sigkill_resume_is_bit_identical(demo_data, tmp_path, stock_mae):
    # epoch-based, 2 workers, adapter dropout and MAE masks drawn every step;
    # the delayed scale switches on at epoch 5 (0-based), after the resume point
    opts = [f'load_from={stock_mae}', 'randomness.seed=3',
            'train_dataloader.num_workers=2',
            'default_hooks.checkpoint.interval=2']
    env = _env(demo_data)
    full, killed = tmp_path / 'full', tmp_path / 'killed'
    _run(_train_cmd(PAD_CFG, full, opts), data_root=demo_data)

    left = _kill_after_checkpoint(_train_cmd(PAD_CFG, killed, opts), env, killed,
                                  'epoch_2.pth')
    assert 'epoch_6.pth' not in left and 'epoch_2.pth' in left
    control = tmp_path / 'control'
    shutil.copytree(killed, control)

    proc = _run(_train_cmd(PAD_CFG, killed, opts, resume=True),
                demo_data)
    out = proc.stdout + proc.stderr
    assert 'RNG states restored' in out
    assert 'Auto resumed' in out or 'resumed' in out.lower()
    _assert_same(_weights(full / 'epoch_6.pth'), _weights(killed / 'epoch_6.pth'))
    # the resumed epochs logged the same losses as the uninterrupted run
    full_loss, resumed_loss = _losses(full), _losses(killed)
    resumed_iters = [i for i in resumed_loss if i > 6]
    assert resumed_iters and all(
        resumed_loss[i] == full_loss[i] for i in resumed_iters)
    # optimizer state too (Adam moments of adapters and decoder)
    opt_a = torch_load_checked(str(full / 'epoch_6.pth'))['optimizer']['state']
    opt_b = torch_load_checked(str(killed / 'epoch_6.pth'))['optimizer']['state']
    assert opt_a.keys() == opt_b.keys()
    for k in opt_a:
        assert torch.equal(opt_a[k]['exp_avg'], opt_b[k]['exp_avg'])

    # control: the same resume without the saved RNG states drifts away
    ckpt_path = control / 'epoch_2.pth'
    ckpt = torch_load_checked(str(ckpt_path))
    del ckpt['rng_states']
    torch.save(ckpt, ckpt_path)
    (control / 'last_checkpoint').write_text(str(ckpt_path))  # not killed/'s
    proc = _run(_train_cmd(PAD_CFG, control, opts, resume=True),
                demo_data)
    assert 'has no RNG states' in proc.stdout + proc.stderr
    a, c = _weights(full / 'epoch_6.pth'), _weights(control / 'epoch_6.pth')
    assert any(not torch.equal(a[k], c[k]) for k in a)


@pytest.fixture(scope='module')
def proposals(demo_data, tmp_path_factory):
    return selective_search_proposals(
        demo_data, str(tmp_path_factory.mktemp('proposals') / 'proposals.json'))


def test_aligndet_sigkill_resume_is_bit_identical(demo_data, tmp_path, proposals):
    # iteration-based, data in the main process: the resumed loop re-draws the
    # 4 skipped batches, which must not shift the random augmentations
    opts = [f'train_dataloader.dataset.ann_file={proposals}', 'randomness.seed=5',
            'train_cfg.max_iters=10', 'default_hooks.checkpoint.interval=4',
            'default_hooks.checkpoint.max_keep_ckpts=3',
            'default_hooks.logger.interval=1']
    env = _env(demo_data)
    full, killed = tmp_path / 'full', tmp_path / 'killed'
    _run(_train_cmd(ALIGNDET_CFG, full, opts), data_root=demo_data)
    left = _kill_after_checkpoint(_train_cmd(ALIGNDET_CFG, killed, opts), env,
                                  killed, 'iter_4.pth')
    assert 'iter_10.pth' not in left
    proc = _run(_train_cmd(ALIGNDET_CFG, killed, opts, resume=True),
                demo_data)
    assert 'RNG states restored' in proc.stdout + proc.stderr
    a, b = _weights(full / 'iter_10.pth'), _weights(killed / 'iter_10.pth')
    # online detector, projectors and the momentum target all match
    assert {k.split('.')[0] for k in a} == {'online', 'target'}
    _assert_same(a, b)
    full_loss, resumed_loss = _losses(full), _losses(killed)
    assert all(resumed_loss[i] == full_loss[i] for i in resumed_loss if i > 4)
