"""AdapterCheckpointHook: adapter-only files next to the full checkpoints,
holding exactly the adapter tensors of the model, written atomically."""
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmpad.pad.adapter_checkpoint_hook import (AdapterCheckpointHook,
                                                        save_atomic,
                                                        select_state)
from mmpad.core.checkpoint.loading import torch_load_checked
from mmpad_test_utils import REPO

DEMO_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')


def _runner(demo_data, tmp_path, name, hook, **overrides):
    from mmpad.engine.runner import MMPadRunner
    cfg = Config.fromfile(DEMO_CFG)
    cfg.train_dataloader.dataset.data_root = osp.join(demo_data, 'msip')
    cfg.work_dir = str(tmp_path / name)
    cfg.experiment_name = name
    cfg.launcher = 'none'
    cfg.custom_hooks = [dict(type='DelayedScaleHook', ratio=0.0), hook]
    cfg.merge_from_dict(overrides)
    return MMPadRunner.from_cfg(cfg)


def test_epoch_files_match_full_checkpoint(demo_data, tmp_path):
    runner = _runner(
        demo_data, tmp_path, 'ep',
        dict(type='AdapterCheckpointHook', interval=2),
        train_cfg=dict(max_epochs=4),
        default_hooks=dict(checkpoint=dict(interval=2, save_last=True)))
    runner.train()
    wd = runner.work_dir
    names = sorted(osp.basename(p) for p in glob.glob(osp.join(wd, '*.pth')))
    assert names == ['adapter_only_epoch_2.pth', 'adapter_only_epoch_4.pth',
                     'epoch_2.pth', 'epoch_4.pth']
    # the atomic writer's temporary files (mmpad.core.atomic_file): none left over
    assert not glob.glob(osp.join(wd, '.tmp_*.part'))
    assert not [f for f in os.listdir(wd) if f.endswith('.part')]
    full = torch_load_checked(osp.join(wd, 'epoch_4.pth'))['state_dict']
    ad = torch_load_checked(osp.join(wd, 'adapter_only_epoch_4.pth'))
    assert ad['meta']['adapter_only'] and ad['meta']['epoch'] == 4
    adapter_keys = sorted(k for k in full if '.adapter.' in k)
    assert sorted(ad['state_dict']) == adapter_keys and adapter_keys
    for k in adapter_keys:
        assert torch.equal(ad['state_dict'][k], full[k]), k
    # the adapters trained between the two saves, the encoder did not
    ad2 = torch_load_checked(osp.join(wd, 'adapter_only_epoch_2.pth'))
    assert any(not torch.equal(ad2['state_dict'][k], full[k])
               for k in adapter_keys)
    full2 = torch_load_checked(osp.join(wd, 'epoch_2.pth'))['state_dict']
    for k in full:
        if k.startswith('backbone.') and '.adapter.' not in k:
            assert torch.equal(full2[k], full[k]), k
    assert osp.getsize(osp.join(wd, 'adapter_only_epoch_4.pth')) < \
        osp.getsize(osp.join(wd, 'epoch_4.pth')) / 5


def test_iter_based_interval_last_and_keep(demo_data, tmp_path):
    runner = _runner(
        demo_data, tmp_path, 'it',
        dict(type='AdapterCheckpointHook', interval=3, max_keep_ckpts=2,
             include_trainable=True),
        train_cfg=dict(_delete_=True, type='IterBasedTrainLoop', max_iters=7),
        param_scheduler=None,
        default_hooks=dict(checkpoint=None))
    runner.train()
    names = sorted(osp.basename(p)
                   for p in glob.glob(osp.join(runner.work_dir, '*.pth')))
    assert names == ['adapter_only_iter_6.pth', 'adapter_only_iter_7.pth']
    sd = torch_load_checked(osp.join(runner.work_dir,
                                     'adapter_only_iter_7.pth'))['state_dict']
    model = runner.model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable <= set(sd)  # decoder included with include_trainable
    assert not any(k.startswith('neck.decoder_embed.') for k in sd)
    assert not any(k.startswith('backbone.') and '.adapter.' not in k
                   for k in sd)


def test_select_state_and_errors(tmp_path):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(DEMO_CFG)
    model = MODELS.build(cfg.model.to_dict())
    sd = select_state(model)
    assert set(sd) == {k for k in model.state_dict() if '.adapter.' in k}
    assert sum(v.numel() for v in sd.values()) == sum(
        p.numel() for n, p in model.named_parameters() if '.adapter.' in n)
    # a model without adapters is refused before training starts
    stock = MODELS.build(cfg.model.algorithm.to_dict())
    runner = type('R', (), dict(model=stock, work_dir=str(tmp_path),
                                train_loop=object()))()
    with pytest.raises(RuntimeError, match='PAD model'):
        AdapterCheckpointHook(by_epoch=True).before_train(runner)


def test_save_atomic_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = str(tmp_path / 'adapter_only_iter_1.pth')
    save_atomic({'a': torch.ones(2)}, path)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b'partial')  # half a file, then the disk is full
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError):
        save_atomic({'a': torch.zeros(2)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path)['a'], torch.ones(2))
    assert os.listdir(tmp_path) == ['adapter_only_iter_1.pth']
