"""A NaN/inf loss stops the run naming the iteration and the term (or is skipped and
counted) before the optimizer step corrupts the weights."""
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmpad  # noqa: F401
from mmpad.engine import NonFiniteLossError, NonFiniteLossHook


class Samples(Dataset):
    """Sample 2 (the third iteration with batch 1, no shuffle) poisons loss_b."""

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return dict(x=torch.full((4,), float(i + 1)), poison=torch.tensor(i == 2))


class Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x, poison, mode='loss'):
        out = self.fc(x).mean()
        loss_b = out.abs()
        if bool(poison.any()):
            loss_b = loss_b * float('nan')
        return dict(loss_a=out ** 2, loss_b=loss_b)


class Snapshots(Hook):

    def __init__(self):
        self.weights = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.weights.append(runner.model.fc.weight.detach().clone())


def _runner(tmp_path, hook_cfg, max_iters=5, runner_cls=Runner):
    return runner_cls(
        model=Toy(), work_dir=str(tmp_path),
        train_dataloader=dict(dataset=Samples(), batch_size=1, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        custom_hooks=[hook_cfg] if hook_cfg else [],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           by_epoch=False)),
        default_scope='mmengine')


def test_raise_names_iteration_and_term(tmp_path):
    runner = _runner(tmp_path, dict(type='NonFiniteLossHook'))
    snaps = Snapshots()
    runner.register_hook(snaps)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    assert 'iteration 3' in str(err.value) and 'loss_b=nan' in str(err.value)
    # the bad update never happened: weights are still those after iteration 2
    assert len(snaps.weights) == 2
    assert torch.equal(runner.model.fc.weight, snaps.weights[-1])
    assert torch.isfinite(runner.model.fc.weight).all()
    ckpt = torch.load(tmp_path / 'iter_2.pth', weights_only=False)
    assert torch.isfinite(ckpt['state_dict']['fc.weight']).all()
    assert not (tmp_path / 'iter_3.pth').exists()


def test_skip_counts_and_leaves_weights_untouched(tmp_path):
    runner = _runner(tmp_path, dict(type='NonFiniteLossHook', action='skip'))
    snaps = Snapshots()
    runner.register_hook(snaps)
    runner.train()
    hook = [h for h in runner.hooks if isinstance(h, NonFiniteLossHook)][0]
    assert hook.skipped == 1
    assert runner.message_hub.get_info('train/nonfinite_skipped') == 1
    assert len(snaps.weights) == 5
    assert torch.equal(snaps.weights[1], snaps.weights[2])      # iteration 3 skipped
    assert not torch.equal(snaps.weights[2], snaps.weights[3])  # training went on
    assert all(torch.isfinite(w).all() for w in snaps.weights)


def test_max_skips(tmp_path):
    runner = _runner(tmp_path, dict(type='NonFiniteLossHook', action='skip',
                                    max_skips=0))
    with pytest.raises(NonFiniteLossError, match='max_skips=0'):
        runner.train()


def test_bad_action_is_a_clear_error():
    with pytest.raises(ValueError, match="'raise' or 'skip'"):
        NonFiniteLossHook(action='ignore')


def test_mmpad_runner_stops_on_nan_without_any_config():
    """MMPadRunner (tools/train.py, runner_type) guards every run by default."""
    import tempfile
    from mmpad.engine import MMPadRunner
    with tempfile.TemporaryDirectory() as work:
        runner = _runner(work, None, runner_cls=MMPadRunner)
        with pytest.raises(NonFiniteLossError, match='iteration 3: .*loss_b=nan'):
            runner.train()
        assert torch.isfinite(runner.model.fc.weight).all()
