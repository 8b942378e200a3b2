"""Checkpoints of PAD pre-training sharded with FSDP: 2 gloo processes on CPU via
tools/dist_train.sh, the tiny PAD-MAE of configs/pad/demo/pad-mae_vit-tiny-p16_demo_fsdp.py.

* The Runner's CheckpointHook writes the unsharded weights and optimizer state on
  rank 0: the weights load into the plain (unwrapped) model with no missing or
  unexpected key, equal those of the same run under DDP, and go through
  tools/convert_pad_checkpoint.py into the mmdet and mmseg adapter backbones with no
  missing key; the optimizer state is unsharded too and equals DDP's. Control:
  each rank's view of the sharded parameters (a plain read) does not load.
* AdapterCheckpointHook writes the same adapter-only file as under DDP.
* With one process (``tools/dist_train.sh FSDP_CONFIG 1``, where FSDP does not shard
  and its own full-state-dict hooks fail), both checkpoints are written and equal
  those of the same one-process run under DDP.
* ``--resume`` from the epoch-1 checkpoint (2 of the 4 iterations) ends with the
  weights and optimizer state of the uninterrupted run. Control: the same resume
  with the optimizer state dropped ends elsewhere.
"""
import os
import os.path as osp

import pytest
import torch

from mmpad_test_utils import REPO, free_port, load_module, run_tool

FSDP_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo_fsdp.py')
DDP_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')

# test instrumentation, imported by the configs below: a hook writing each rank's
# local (sharded) state dict after training (the control), and one dropping the
# optimizer state of the checkpoint to resume (the resume control)
HOOKS = '''
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpLocalStateHook(Hook):
    def __init__(self, out):
        self.out = out

    def after_train(self, runner):
        # what a plain read of the sharded model gives: this rank's views
        sd = {n.replace('_fsdp_wrapped_module.', ''): t.detach().clone()
              for n, t in [*runner.model.module.named_parameters(),
                           *runner.model.module.named_buffers()]}
        torch.save(sd, f'{self.out}/local_rank{get_rank()}.pth')


@HOOKS.register_module()
class DropOptimizerStateHook(Hook):
    def after_load_checkpoint(self, runner, checkpoint):
        checkpoint.pop('optimizer', None)
'''


def _config(tmp_path, name, base, hooks=''):
    (tmp_path / 'fsdp_ckpt_hooks.py').write_text(HOOKS)
    cfg = tmp_path / f'{name}.py'
    cfg.write_text(
        f"_base_ = ['{base}']\n"
        "custom_imports = dict(imports=['mmpad', 'fsdp_ckpt_hooks'],\n"
        "                      allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DelayedScaleHook', ratio=0.6),\n"
        "    dict(type='AdapterCheckpointHook', interval=1),\n"
        f"    {hooks}]\n"
        "default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1))\n"
        "train_cfg = dict(max_epochs=2)\n"  # 10 images / 2 ranks / batch 4: 4 iters
        "randomness = dict(seed=11)\n")
    return cfg


def _dist_train(cfg, work, data_root, *args, nproc=2):
    env = {'PYTHON': os.sys.executable, 'PORT': free_port(), 'OMP_NUM_THREADS': '1',
           'PYTHONPATH': os.pathsep.join(
               [str(cfg.parent)] + [p for p in [os.environ.get('PYTHONPATH')] if p])}
    return run_tool(['bash', 'tools/dist_train.sh', str(cfg), str(nproc), '--work-dir',
                     str(work), *args], data_root=data_root, env=env,
                    timeout=300, hang_note='each run took about 45 s on 2 busy cores')


def _load(path):
    return torch.load(str(path), map_location='cpu', weights_only=False)


@pytest.fixture(scope='module')
def runs(demo_data, tmp_path_factory):
    """The FSDP run (checkpoints after epoch 1 and 2, local state dicts) and the
    same run under DDP."""
    tmp = tmp_path_factory.mktemp('fsdp_ckpt')
    out = tmp / 'local'
    out.mkdir()
    fsdp = _config(tmp, 'fsdp', FSDP_CFG, f"dict(type='DumpLocalStateHook', out='{out}')")
    ddp = _config(tmp, 'ddp', DDP_CFG)
    log = _dist_train(fsdp, tmp / 'work_fsdp', demo_data).stdout
    _dist_train(ddp, tmp / 'work_ddp', demo_data)
    return dict(tmp=tmp, fsdp=tmp / 'work_fsdp', ddp=tmp / 'work_ddp', local=out,
                cfg=fsdp, log=log, data=demo_data)


def _plain_model():
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    import mmpad  # noqa: F401
    cfg = Config.fromfile(FSDP_CFG)
    return MODELS.build(cfg.model)


def test_full_checkpoint_loads_into_plain_model(runs):
    ckpt = _load(runs['fsdp'] / 'epoch_2.pth')
    ddp = _load(runs['ddp'] / 'epoch_2.pth')['state_dict']
    model = _plain_model()
    sd = ckpt['state_dict']
    assert not any('_fsdp_wrapped_module' in k for k in sd)
    keys = model.load_state_dict(sd, strict=True)  # raises on any bad key / shape
    assert not keys.missing_keys and not keys.unexpected_keys
    assert sd.keys() == ddp.keys()
    for k in sd:  # float tolerance, as in test_fsdp_pad.py (reduction order)
        assert torch.allclose(sd[k], ddp[k], rtol=0, atol=1e-4), k
    # the optimizer state is unsharded too: by parameter name, full shapes
    state = ckpt['optimizer']['state']
    name = 'backbone.layers.0.adapter.down.weight'
    assert state[name]['exp_avg'].shape == sd[name].shape == (8, 64)
    # AdamW keeps state for every trainable parameter that got a gradient: not for
    # the adapter scale predictors, held (zero gradient, dropped) in these iterations
    ddp_optim = _load(runs['ddp'] / 'epoch_2.pth')['optimizer']
    assert 0 < len(state) == len(ddp_optim['state']) < sum(
        p.requires_grad for p in model.parameters())
    # ... and equals DDP's (matched by parameter group: the same paramwise rules)
    pairs = [(name, idx) for g, d in zip(ckpt['optimizer']['param_groups'],
                                         ddp_optim['param_groups'])
             for name, idx in zip(g['params'], d['params'])]
    assert {n for n, i in pairs if i in ddp_optim['state']} == set(state)
    # (under DDP AdamW keeps no state for the held scale predictors: no gradient)
    for name, idx in [(n, i) for n, i in pairs if i in ddp_optim['state']]:
        for key in ('exp_avg', 'exp_avg_sq'):
            f, d = state[name][key], ddp_optim['state'][idx][key]
            assert f.shape == d.shape, (name, key)
            # 1 % of the largest entry: rounding noise of the reduction order
            assert (f - d).abs().max() <= 1e-2 * d.abs().max(), (name, key)
    # control: each rank's view of the sharded model does not load
    local = _load(runs['local'] / 'local_rank0.pth')
    # (flat 1-D shards: mmpretrain's pos_embed resize hook fails on them with an
    # IndexError before load_state_dict's own shape check would raise)
    with pytest.raises((RuntimeError, IndexError)):
        _plain_model().load_state_dict(local, strict=True)


def test_full_checkpoint_converts_for_mmdet_and_mmseg(runs, tmp_path):
    pytest.importorskip('mmdet')
    pytest.importorskip('mmseg')
    from mmpad.core.checkpoint.pretrained import (load_pretrained_backbone,
                                                  read_backbone_state_dict)
    from mmpad.pad.pad_mae_seg import PADMAE
    from mmpad.pad.pad_vit_det import PADViTDet
    tool = load_module('tools/convert_pad_checkpoint.py', 'convert_pad_checkpoint')
    src = runs['fsdp'] / 'epoch_2.pth'
    adapter = dict(bottleneck=8, dropout=0.1, scale_mode='concat')
    backbones = {
        'det': PADViTDet(adapter_cfg=adapter, img_size=64, window_size=2,
                         out_channels=0, out_indices=[3],
                         arch=dict(embed_dims=64, num_layers=4, num_heads=2,
                                   feedforward_channels=128,
                                   global_attn_indexes=[1, 3])),
        'seg': PADMAE(adapter_cfg=adapter, img_size=64, embed_dims=64, num_layers=4,
                      num_heads=2, mlp_ratio=2, out_indices=[1, 3], init_values=1.0)}
    for target, backbone in backbones.items():
        dst = str(tmp_path / f'{target}.pth')
        assert tool.main([str(src), dst, '--num-heads', '2', '--target', target,
                          '--bottleneck', '8']) == 0
        report = load_pretrained_backbone(
            backbone, read_backbone_state_dict(dst), dst,
            type(backbone).resized_on_load, has_adapters=True)
        assert report.missing == [] and report.unexpected == [], target


def test_adapter_only_file_equals_ddp(runs):
    init = _plain_model().state_dict()
    for tag in ('epoch_1', 'epoch_2'):
        f = _load(runs['fsdp'] / f'adapter_only_{tag}.pth')
        d = _load(runs['ddp'] / f'adapter_only_{tag}.pth')
        assert f['meta'] == d['meta']
        assert list(f['state_dict']) == list(d['state_dict'])
        assert all('.adapter.' in k for k in f['state_dict'])
        for k, v in f['state_dict'].items():
            assert v.shape == init[k].shape, k
            assert torch.allclose(v, d['state_dict'][k], rtol=0, atol=1e-4), k
    # the adapters trained (a file of untrained adapters would fail here)
    up = 'backbone.layers.0.adapter.up.weight'
    assert (f['state_dict'][up] - init[up]).abs().max() > 1e-3


def test_resume_continues_identically(runs):
    straight = _load(runs['fsdp'] / 'epoch_2.pth')
    ckpt1 = str(runs['fsdp'] / 'epoch_1.pth')
    assert _load(ckpt1)['meta']['iter'] == 2
    work = runs['tmp'] / 'work_resumed'
    log = _dist_train(runs['cfg'], work, runs['data'], '--resume', ckpt1).stdout
    assert 'resumed epoch: 1, iter: 2' in log
    resumed = _load(work / 'epoch_2.pth')
    assert resumed['meta']['iter'] == 4
    for k, v in straight['state_dict'].items():
        assert torch.allclose(resumed['state_dict'][k], v, rtol=0, atol=1e-6), k
    for name, s in straight['optimizer']['state'].items():
        for key, v in s.items():
            assert torch.allclose(resumed['optimizer']['state'][name][key], v,
                                  rtol=0, atol=1e-6), (name, key)

    # control: the same resume without the optimizer state (fresh AdamW moments)
    drop = _config(runs['tmp'], 'fsdp_drop', FSDP_CFG,
                   "dict(type='DropOptimizerStateHook')")
    work = runs['tmp'] / 'work_no_optim'
    _dist_train(drop, work, runs['data'], '--resume', ckpt1)
    other = _load(work / 'epoch_2.pth')['state_dict']
    up = 'backbone.layers.0.adapter.up.weight'
    assert (other[up] - straight['state_dict'][up]).abs().max() > 1e-4


def test_one_process_fsdp_run_checkpoints_like_ddp(demo_data, tmp_path):
    """A user debugging the FSDP config on one GPU: ``tools/dist_train.sh CFG 1``.
    FSDP switches to ``NO_SHARD`` (its warning is the control that this path is the
    one run); the weights, the adapter-only file and the checkpoint keys equal the
    one-process DDP run's."""
    fsdp = _config(tmp_path, 'fsdp1', FSDP_CFG)
    ddp = _config(tmp_path, 'ddp1', DDP_CFG)
    log = _dist_train(fsdp, tmp_path / 'work_fsdp', demo_data, nproc=1)
    assert 'switching to use `NO_SHARD`' in log.stdout + log.stderr
    _dist_train(ddp, tmp_path / 'work_ddp', demo_data, nproc=1)
    got = _load(tmp_path / 'work_fsdp' / 'epoch_2.pth')['state_dict']
    want = _load(tmp_path / 'work_ddp' / 'epoch_2.pth')['state_dict']
    assert sorted(got) == sorted(want)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=1e-6, msg=k)
    plain = _plain_model()
    res = plain.load_state_dict(got, strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    a = _load(tmp_path / 'work_fsdp' / 'adapter_only_epoch_2.pth')['state_dict']
    b = _load(tmp_path / 'work_ddp' / 'adapter_only_epoch_2.pth')['state_dict']
    assert sorted(a) == sorted(b) and a
    for k in b:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
