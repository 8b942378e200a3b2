"""AlignDet momentum schedule, target sync / EMA through the hook, norm reset."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub

import mmpad  # noqa: F401
from mmpad.aligndet.momentum_hook import (AlignDetMomentumHook,
                                                       cosine_momentum)
from mmpad.aligndet.reset_norms_hook import (
    AlignDetResetNormsHook, reset_norms)


class TwoNets(nn.Module):
    """Minimal online/target pair with the pre-trainer's update interface."""

    def __init__(self):
        super().__init__()
        self.online = nn.Linear(3, 2)
        self.target = nn.Linear(3, 2)
        self.target.requires_grad_(False)

    @torch.no_grad()
    def sync_target(self):
        self.target.load_state_dict(self.online.state_dict())

    @torch.no_grad()
    def momentum_update(self, m):
        for o, t in zip(self.online.parameters(), self.target.parameters()):
            t.mul_(m).add_(o, alpha=1 - m)


def _runner(model, it, max_iters=100):
    return SimpleNamespace(model=model, iter=it, max_iters=max_iters,
                           message_hub=MessageHub.get_instance('aligndet_test'))


@pytest.mark.parametrize('k, expected', [(0, 0.996), (50, 0.998), (100, 1.0)])
def test_cosine_momentum_at_0_half_and_end(k, expected):
    assert math.isclose(cosine_momentum(k, 100), expected, abs_tol=1e-12)
    hook = AlignDetMomentumHook()
    hook.before_train_iter(_runner(TwoNets(), k), batch_idx=k)
    assert math.isclose(hook.momentum, expected, abs_tol=1e-12)


def test_momentum_is_monotonic_and_validated():
    values = [cosine_momentum(k, 37) for k in range(38)]
    assert all(a < b for a, b in zip(values, values[1:]))
    with pytest.raises(ValueError):
        AlignDetMomentumHook(base_momentum=1.1)
    with pytest.raises(ValueError):
        cosine_momentum(0, 0)


def test_before_train_syncs_fresh_run_but_not_resumed_run():
    model = TwoNets()  # independent random inits, as after a global init
    assert not torch.equal(model.online.weight, model.target.weight)
    resumed = model.target.weight.clone()
    AlignDetMomentumHook().before_train(_runner(model, it=7))
    assert torch.equal(model.target.weight, resumed)
    AlignDetMomentumHook().before_train(_runner(model, it=0))
    assert torch.equal(model.online.weight, model.target.weight)
    assert torch.equal(model.online.bias, model.target.bias)


def test_after_train_iter_applies_scheduled_ema():
    model = TwoNets()
    model.sync_target()
    with torch.no_grad():
        model.online.weight.add_(1.0)
    t0, o = model.target.weight.clone(), model.online.weight.clone()
    hook = AlignDetMomentumHook()
    runner = _runner(model, it=25, max_iters=100)
    hook.before_train_iter(runner, batch_idx=25)
    hook.after_train_iter(runner, batch_idx=25)
    m = cosine_momentum(25, 100)
    assert torch.allclose(model.target.weight, m * t0 + (1 - m) * o, atol=1e-7)
    assert MessageHub.get_instance('aligndet_test').get_scalar(
        'train/target_momentum').current() == pytest.approx(m)


def test_hook_rejects_model_without_target():
    with pytest.raises(AttributeError, match='target'):
        AlignDetMomentumHook().before_train(_runner(nn.Linear(2, 2), it=0))


def test_reset_norms_resets_bn_gn_ln_on_fresh_run_only():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4),
                          nn.GroupNorm(2, 4), nn.LayerNorm(4))
    with torch.no_grad():
        for m in model.modules():
            if hasattr(m, 'weight') and m.weight is not None:
                m.weight.fill_(3.)
        model[1].running_mean.fill_(5.)
    conv = model[0].weight.clone()
    AlignDetResetNormsHook().before_train(_runner(model, it=3))
    assert float(model[1].running_mean[0]) == 5.
    AlignDetResetNormsHook().before_train(_runner(model, it=0))
    for norm in model[1:]:
        assert torch.equal(norm.weight, torch.ones(4))
    assert torch.equal(model[1].running_mean, torch.zeros(4))
    assert torch.equal(model[0].weight, conv)  # convs untouched
    assert reset_norms(nn.Linear(2, 2)) == 0
