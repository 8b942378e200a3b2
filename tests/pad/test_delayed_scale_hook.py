"""DelayedScaleHook: the scale predictors are held (no
gradient, no Adam state, weight exactly 0) up to the last held epoch / iteration
and learn afterwards, in one process and in a 2-process gloo DDP run."""
import json
import os
import os.path as osp
import types

import pytest
import torch
from mmengine.config import Config
from mmengine.model import is_model_wrapper

from mmpad_test_utils import REPO, free_port, run_tool

DEMO_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')

RECORDER_SRC = '''
import json, os, os.path as osp
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from mmpad.core.adapters import iter_adapters


@HOOKS.register_module()
class ScaleRecorderHook(Hook):
    """Per iteration: the held flag, whether the scale weights are all zero,
    whether the optimizer has state for them; at the end: the weights."""
    priority = 'LOWEST'

    def __init__(self, out_dir=None):
        self.out_dir = out_dir
        self.rows = []

    def _adapters(self, runner):
        m = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return list(iter_adapters(m))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        ads = self._adapters(runner)
        opt = runner.optim_wrapper.optimizer
        self.rows.append(dict(
            epoch=runner.epoch, iter=runner.iter,
            held=[a.detach_scale for a in ads],
            zero=all(float(a.scale_pred.weight.abs().sum()) == 0 for a in ads),
            state=any(a.scale_pred.weight in opt.state for a in ads)))

    def after_train(self, runner):
        self.final = [a.scale_pred.weight.detach().flatten().tolist()
                      for a in self._adapters(runner)]
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            with open(osp.join(self.out_dir, f'rank{get_rank()}.json'), 'w') as f:
                json.dump(dict(rows=self.rows, final=self.final), f)
'''


@pytest.fixture(scope='module')
def recorder_module(tmp_path_factory):
    """The recorder as an importable module (also for the DDP subprocesses)."""
    import sys
    d = tmp_path_factory.mktemp('recorder')
    (d / 'pad_scale_recorder.py').write_text(RECORDER_SRC)
    sys.path.insert(0, str(d))
    import pad_scale_recorder
    yield d, pad_scale_recorder
    sys.path.remove(str(d))


def _runner(demo_data, tmp_path, name, **overrides):
    from mmpad.engine.runner import MMPadRunner
    cfg = Config.fromfile(DEMO_CFG)
    cfg.train_dataloader.dataset.data_root = osp.join(demo_data, 'msip')
    cfg.work_dir = str(tmp_path / name)
    cfg.experiment_name = name
    cfg.launcher = 'none'
    cfg.default_hooks.checkpoint = None
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] == 'DelayedScaleHook']
    cfg.merge_from_dict(overrides)
    return MMPadRunner.from_cfg(cfg)


def _check_rows(rows, last_held, key):
    assert rows, 'no iteration recorded'
    for r in rows:
        held = r[key] <= last_held
        assert all(h == held for h in r['held']), r
        if held:  # held: weight exactly 0 and no Adam moments yet
            assert r['zero'] and not r['state'], r
    released = [r for r in rows if r[key] > last_held]
    assert released, 'training ended before the release'
    # the release step is the first to update the predictor; after it, w != 0
    assert released[0]['zero'] and not released[0]['state']
    assert all(not r['zero'] and r['state'] for r in released[1:])


def test_epoch_based_hold_and_release(demo_data, tmp_path, recorder_module):
    _, mod = recorder_module
    runner = _runner(demo_data, tmp_path, 'epoch', train_cfg=dict(max_epochs=5))
    rec = mod.ScaleRecorderHook()
    runner.register_hook(rec)
    runner.train()
    # round(0.6 * 5) = 3: epochs 0-3 held, epoch 4 learns
    assert {r['epoch'] for r in rec.rows} == {0, 1, 2, 3, 4}
    _check_rows(rec.rows, last_held=3, key='epoch')
    assert any(abs(v) > 0 for w in rec.final for v in w)


def test_iter_based_hold_and_release(demo_data, tmp_path, recorder_module):
    _, mod = recorder_module
    runner = _runner(
        demo_data, tmp_path, 'iter',
        train_cfg=dict(_delete_=True, type='IterBasedTrainLoop', max_iters=10),
        param_scheduler=None)
    rec = mod.ScaleRecorderHook()
    runner.register_hook(rec)
    runner.train()
    assert [r['iter'] for r in rec.rows] == list(range(10))
    _check_rows(rec.rows, last_held=6, key='iter')  # round(0.6 * 10) = 6


def _fake_runner(model, **kw):
    logs = []
    runner = types.SimpleNamespace(
        model=model, epoch=0, iter=0, max_epochs=100, max_iters=4300,
        train_loop=object(),
        logger=types.SimpleNamespace(info=logs.append, warning=logs.append))
    runner.__dict__.update(kw)
    return runner, logs


def test_rule_matches_spec_and_resume(tiny_pad_model):
    from mmengine.runner import EpochBasedTrainLoop
    from mmpad.pad.delayed_scale_hook import DelayedScaleHook
    loop = EpochBasedTrainLoop.__new__(EpochBasedTrainLoop)
    runner, logs = _fake_runner(tiny_pad_model, train_loop=loop)
    hook = DelayedScaleHook()
    hook.before_train(runner)
    assert hook.by_epoch and hook.last_held_step == 60  # round(0.6 x 100)
    for epoch, held in ((0, True), (60, True), (61, False), (99, False)):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        assert all(a.detach_scale == held
                   for a in _adapters(tiny_pad_model)), epoch
    # resuming at epoch 70 starts released
    runner.epoch = 70
    hook2 = DelayedScaleHook(ratio=0.6)
    hook2.before_train(runner)
    assert not any(a.detach_scale for a in _adapters(tiny_pad_model))
    # explicit hold_until, iteration based
    runner.iter = 5
    hook3 = DelayedScaleHook(hold_until=5, by_epoch=False)
    hook3.before_train(runner)
    assert all(a.detach_scale for a in _adapters(tiny_pad_model))
    runner.iter = 6
    hook3.before_train_iter(runner, 0)
    assert not any(a.detach_scale for a in _adapters(tiny_pad_model))


def _adapters(model):
    from mmpad.core.adapters import iter_adapters
    return list(iter_adapters(model))


@pytest.fixture
def tiny_pad_model():
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(DEMO_CFG)
    return MODELS.build(cfg.model.to_dict())


def test_refuses_frozen_scale_and_ddp_without_unused_detection(
        tiny_pad_model):
    from mmpad.pad.delayed_scale_hook import DelayedScaleHook
    runner, _ = _fake_runner(tiny_pad_model)
    _adapters(tiny_pad_model)[0].scale_pred.weight.requires_grad_(False)
    with pytest.raises(RuntimeError, match='requires_grad=False'):
        DelayedScaleHook(by_epoch=True).before_train(runner)
    _adapters(tiny_pad_model)[0].scale_pred.weight.requires_grad_(True)

    class FakeDDP(torch.nn.Module):
        find_unused_parameters = False

        def __init__(self, module):
            super().__init__()
            self.module = module

    from mmengine.registry import MODEL_WRAPPERS
    MODEL_WRAPPERS.register_module(module=FakeDDP, force=True)
    assert is_model_wrapper(FakeDDP(tiny_pad_model))
    runner.model = FakeDDP(tiny_pad_model)
    # held in the graph (default): DDP needs no unused-parameter detection
    DelayedScaleHook(by_epoch=True).before_train(runner)
    # the plain detach gives no gradient at all: then DDP must look for unused
    for a in _adapters(tiny_pad_model):
        a.hold_in_graph = False
    with pytest.raises(RuntimeError, match='find_unused_parameters=True'):
        DelayedScaleHook(by_epoch=True).before_train(runner)
    with pytest.raises(ValueError):
        DelayedScaleHook(ratio=1.5)


def _train_iters(demo_data, tmp_path, name, max_iters=8):
    runner = _runner(
        demo_data, tmp_path, name,
        train_cfg=dict(_delete_=True, type='IterBasedTrainLoop',
                       max_iters=max_iters),
        param_scheduler=None)
    runner.train()
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_hold_in_graph_is_exact_across_the_release(demo_data, tmp_path,
                                                   monkeypatch):
    """8 iterations, held 0-5 (round(0.6 x 8) = 5), learning 6-7: the hold that
    keeps the predictor in the graph with a zero gradient (dropped before the
    step) ends with exactly the weights of the plain detach (no gradient)."""
    from mmpad.core.adapters import PatchwiseScaleAdapter
    from mmpad.pad.delayed_scale_hook import DelayedScaleHook
    in_graph = _train_iters(demo_data, tmp_path, 'in_graph')
    monkeypatch.setattr(PatchwiseScaleAdapter, 'hold_in_graph', False)
    detached = _train_iters(demo_data, tmp_path, 'detached')
    monkeypatch.undo()
    assert in_graph.keys() == detached.keys()
    for k in in_graph:
        assert torch.equal(in_graph[k], detached[k]), k
    scale = [k for k in in_graph if k.endswith('scale_pred.weight')]
    assert scale and any(in_graph[k].abs().sum() > 0 for k in scale)
    # control: zero gradients that reach AdamW count steps while held, so the
    # first updates after the release differ
    monkeypatch.setattr(DelayedScaleHook, '_drop_held_grads',
                        lambda self, *args: None)
    undropped = _train_iters(demo_data, tmp_path, 'undropped')
    assert not all(torch.equal(undropped[k], detached[k]) for k in scale)


def test_warns_without_learned_scale(tiny_pad_model):
    from mmpad.pad.delayed_scale_hook import DelayedScaleHook
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(DEMO_CFG).model.to_dict()
    cfg['adapter']['scale_mode'] = 'constant'
    runner, logs = _fake_runner(MODELS.build(cfg))
    DelayedScaleHook(by_epoch=True).before_train(runner)
    assert any('nothing to hold' in str(m) for m in logs)


def test_two_process_gloo_ddp(demo_data, tmp_path, recorder_module):
    """tools/dist_train.sh with 2 gloo processes: both ranks hold and release
    at the same epoch and end with identical (all-reduced) scale weights."""
    rec_dir, _ = recorder_module
    marks = tmp_path / 'marks'
    cfg = tmp_path / 'ddp_cfg.py'
    cfg.write_text(
        f"_base_ = ['{DEMO_CFG}']\n"
        "custom_imports = dict(imports=['mmpad', 'pad_scale_recorder'], "
        "allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DelayedScaleHook', ratio=0.6), "
        f"dict(type='ScaleRecorderHook', out_dir='{marks}')]\n"
        "train_cfg = dict(max_epochs=5)\n"
        "default_hooks = dict(checkpoint=None)\n")
    run_tool(['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir',
              str(tmp_path / 'work')], data_root=demo_data,
             env={'PYTHON': os.sys.executable, 'PORT': free_port(),
                  'PYTHONPATH': str(rec_dir)})
    ranks = [json.load(open(marks / f'rank{r}.json')) for r in (0, 1)]
    for mark in ranks:
        # 10 images / 2 ranks / batch 4 -> 2 iterations per epoch
        assert sorted({r['epoch'] for r in mark['rows']}) == [0, 1, 2, 3, 4]
        _check_rows(mark['rows'], last_held=3, key='epoch')
    assert ranks[0]['final'] == ranks[1]['final']
    assert any(abs(v) > 0 for w in ranks[0]['final'] for v in w)
