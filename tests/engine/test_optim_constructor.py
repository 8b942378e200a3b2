"""GroupMergingOptimWrapperConstructor: groups of equal settings merged (same
updates as one group per parameter), a group with another setting kept apart,
one log line instead of a warning per frozen parameter, and resuming a
checkpoint written with one group per parameter fails with one clear error."""
import copy
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmpad  # noqa: F401
from mmpad.engine.optim_constructor import (FROZEN_SKIP_TEXT,
                                            group_of_each_param,
                                            merge_param_groups)
from mmpad_test_utils import REPO

DEMO_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')


def _model():
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(DEMO_CFG).model.to_dict())


def _optim(model, **paramwise):
    cfg = copy.deepcopy(Config.fromfile(DEMO_CFG).optim_wrapper.to_dict())
    cfg['paramwise_cfg'].update(paramwise)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return build_optim_wrapper(model, cfg)


def _train(model, wrapper, steps=4):
    """``steps`` AdamW steps with the same pseudo-random gradients (by name)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    for step in range(steps):
        g = torch.Generator().manual_seed(step)
        for _, p in named:
            p.grad = torch.randn(p.shape, generator=g)
        wrapper.step()
        wrapper.zero_grad()
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_merge_rule_keeps_every_other_setting_apart():
    a, b, c, d = (torch.nn.Parameter(torch.zeros(1)) for _ in range(4))
    groups = [dict(params=[a], lr=1.0, weight_decay=0.0, param_name='a'),
              dict(params=[b], lr=1.0, weight_decay=0.1, param_name='b'),
              dict(params=[c], lr=1.0, weight_decay=0.0, param_name='c'),
              dict(params=[d], lr=1.0, weight_decay=0.0, betas=(0.9, 0.99))]
    merged = merge_param_groups(groups)
    assert [[id(p) for p in g['params']] for g in merged] == \
        [[id(a), id(c)], [id(b)], [id(d)]]  # first-appearance order, model order
    assert merged[0] == dict(params=[a, c], lr=1.0, weight_decay=0.0)
    # control: another lr (or any other key) is another group
    other = merge_param_groups(groups[:2] + [dict(groups[2], lr=0.5)])
    assert len(other) == 3 and other[2]['lr'] == 0.5


def test_pad_groups_merged_same_updates_as_per_parameter_groups():
    merged_model, single_model = _model(), _model()
    merged = _optim(merged_model)
    single = _optim(single_model, merge_groups=False)
    trainable = [p for p in merged_model.parameters() if p.requires_grad]
    assert len(single.optimizer.param_groups) == len(trainable)
    assert len(merged.optimizer.param_groups) == 2  # decayed and not decayed
    by_name = group_of_each_param(merged_model, merged.optimizer.param_groups)
    assert by_name['neck.mask_token']['weight_decay'] == 0.05
    assert by_name['backbone.layers.0.adapter.down.bias']['weight_decay'] == 0.0
    after_merged = _train(merged_model, merged)
    after_single = _train(single_model, single)
    assert after_merged.keys() == after_single.keys()
    for name, value in after_merged.items():
        assert torch.equal(value, after_single[name]), name
    moved = _model()
    assert not torch.equal(moved.state_dict()['neck.mask_token'],
                           after_merged['neck.mask_token'])


def test_a_group_with_another_lr_stays_apart():
    model = _model()
    wrapper = _optim(model, custom_keys={'scale_pred': dict(lr_mult=0.5)})
    by_name = group_of_each_param(model, wrapper.optimizer.param_groups)
    held = [n for n in by_name if 'scale_pred' in n]
    assert held and len(wrapper.optimizer.param_groups) == 3
    group = by_name[held[0]]
    assert group['lr'] == pytest.approx(1e-3)
    assert [id(p) for p in group['params']] == \
        [id(p) for n, p in model.named_parameters() if 'scale_pred' in n]


def test_one_info_line_instead_of_a_warning_per_frozen_parameter():
    model = _model()
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        _optim(model)
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert not any(FROZEN_SKIP_TEXT in m for m in messages)
    assert not any(r.levelno >= logging.WARNING for r in records), messages
    frozen = sum(1 for p in model.parameters() if not p.requires_grad)
    trainable = sum(1 for p in model.parameters() if p.requires_grad)
    summary = [m for m in messages if 'optimizer groups' in m]
    assert summary == [
        f'GroupMergingOptimWrapperConstructor: {trainable} parameter tensors in 2 '
        f'optimizer groups (merged from {trainable} by equal settings); {frozen} '
        'frozen tensors (requires_grad=False) left out']
    # control: mmengine's own constructor warns once per frozen parameter
    records.clear()
    logger.addHandler(handler)
    try:
        plain = copy.deepcopy(Config.fromfile(DEMO_CFG).optim_wrapper.to_dict())
        plain.pop('constructor')
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            build_optim_wrapper(model, plain)
    finally:
        logger.removeHandler(handler)
    assert sum(FROZEN_SKIP_TEXT in r.getMessage() for r in records) == frozen


def test_resume_old_per_parameter_layout_fails_with_one_clear_error():
    model = _model()
    old = _optim(model, merge_groups=False)
    _train(model, old, steps=1)
    old_state = old.state_dict()
    new = _optim(model)
    with pytest.raises(ValueError, match=r'written before groups were merged.*'
                       r'paramwise_cfg\.merge_groups=False'):
        new.load_state_dict(copy.deepcopy(old_state))
    # the switch builds the old layout, which resumes
    _optim(model, merge_groups=False).load_state_dict(copy.deepcopy(old_state))
    # the merged layout resumes itself, moments included
    _train(model, new, steps=1)
    again = _optim(model)
    again.load_state_dict(copy.deepcopy(new.state_dict()))
    p = next(p for p in model.parameters() if p.requires_grad)
    assert torch.equal(again.optimizer.state[p]['exp_avg'],
                       new.optimizer.state[p]['exp_avg'])
    # another model's checkpoint: a different error
    with pytest.raises(ValueError, match='another model or optim_wrapper'):
        new.load_state_dict(dict(state={}, param_groups=[
            dict(g, params=[]) for g in new.state_dict()['param_groups'] * 3]))


def test_merge_groups_must_be_a_bool():
    with pytest.raises(TypeError, match=r'paramwise_cfg\.merge_groups must be '
                       'True or False'):
        _optim(_model(), merge_groups='yes')
