"""Train 2 iterations, stop, resume, train 2 more: the iteration counter and the
optimizer state continue (torch >= 2.6 loads mmengine checkpoints via mmpad)."""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS

import mmpad  # noqa: F401
from mmpad_test_utils import REPO

DEMO_CFG = osp.join(REPO, 'configs/foundation/retinanet_r18-tiny_flir-demo.py')


class Probe(Hook):
    """Records the runner state right after resume, before the first new step."""

    def __init__(self):
        self.iter = None
        self.optim_state = None

    def before_train(self, runner):
        self.iter = runner.iter
        self.optim_state = copy.deepcopy(runner.optim_wrapper.optimizer.state_dict())


def _cfg(demo_data, work_dir, max_iters, monkeypatch):
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)
    cfg = Config.fromfile(DEMO_CFG)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = 1000
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.optim_wrapper.optimizer = dict(type='AdamW', lr=1e-3)  # stateful optimizer
    cfg.param_scheduler = []
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    return cfg


def test_resume_continues_iterations_and_optimizer(demo_data, tmp_path, monkeypatch):
    runner = RUNNERS.build(_cfg(demo_data, tmp_path, 2, monkeypatch))
    runner.train()
    first = torch.load(tmp_path / 'iter_2.pth', weights_only=False)
    assert first['meta']['iter'] == 2

    cfg = _cfg(demo_data, tmp_path, 4, monkeypatch)
    cfg.resume = True  # finds iter_2.pth through work_dir/last_checkpoint
    runner = RUNNERS.build(cfg)
    probe = Probe()
    runner.register_hook(probe, priority='LOWEST')
    runner.train()

    # the counter continued from the checkpoint ...
    assert probe.iter == 2
    assert runner.iter == 4
    final = torch.load(tmp_path / 'iter_4.pth', weights_only=False)
    assert final['meta']['iter'] == 4
    # ... and so did the optimizer: AdamW moments and step counts were restored
    saved, resumed = first['optimizer']['state'], probe.optim_state['state']
    assert len(saved) > 0 and saved.keys() == resumed.keys()
    for k in saved:
        assert int(resumed[k]['step']) == 2
        assert torch.equal(saved[k]['exp_avg'], resumed[k]['exp_avg'])
        assert torch.equal(saved[k]['exp_avg_sq'], resumed[k]['exp_avg_sq'])
    assert all(int(s['step']) == 4 for s in final['optimizer']['state'].values())
