"""Every pre-training config has an AMP variant (issue #9, reliability).

The PAD / MAE configs are AMP themselves (``AmpOptimWrapper`` in
configs/pad/_base_/msip_pretrain_100e.py). Every other pre-training config ``X.py``
(AlignDet families, SOP) has a twin with ``-amp-`` in its training setting
(``..._8xb2-amp-12e_...``) that inherits it and changes only
the optimizer wrapper's type and loss scale. Pre-training configs are discovered
by glob, so a new one without AMP fails here.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts a GPU / NPU / MLU / MUSA in its
constructor. On CPU the tests lift that assertion only: mmengine's ``autocast``
then runs the model in bfloat16 (its CPU default) and torch's CUDA
``GradScaler`` disables itself, so a CPU step exercises the autocast forward,
the losses' float32 path, backward and the optimizer step through the wrapper,
but not fp16 loss scaling.
"""
import glob
import re
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmpad_test_utils import REPO, gt_boxes_as_proposals, load_module

PRETRAIN_GLOBS = ('configs/pad/*.py', 'configs/aligndet/aligndet_*.py',
                  'configs/sop/sop*_*.py')
# AMP is a training setting: X_8xb2-12e_... has the twin X_8xb2-amp-12e_...
AMP_TAG = re.compile(r'(_\d+xb\d+)-amp-')


def _rel(path):
    return osp.relpath(path, REPO)


def _pretrain_configs():
    found = sorted({_rel(p) for g in PRETRAIN_GLOBS
                    for p in glob.glob(osp.join(REPO, g))})
    return [p for p in found if not _is_twin(p)]


def _is_twin(path):
    # PAD's configs are AMP themselves (their names carry -amp- like mmpretrain's)
    return not path.startswith('configs/pad/') and bool(AMP_TAG.search(path))


def _amp_twins():
    return sorted({_rel(p) for g in PRETRAIN_GLOBS
                   for p in glob.glob(osp.join(REPO, g))
                   if _is_twin(_rel(p))})


def _twin_of(config):
    return re.sub(r'(_\d+xb\d+)-', r'\1-amp-', config, count=1)


def _parent_of(twin):
    return AMP_TAG.sub(r'\1-', twin, count=1)


_CFGS = {}


def _load(rel):
    if rel not in _CFGS:
        _CFGS[rel] = Config.fromfile(osp.join(REPO, rel))
    return _CFGS[rel]


def test_discovery_finds_every_family():
    configs = _pretrain_configs()
    for prefix, at_least in (('configs/pad/', 6), ('configs/aligndet/', 5),
                             ('configs/sop/', 8)):
        assert sum(c.startswith(prefix) for c in configs) >= at_least, prefix
    assert len(_amp_twins()) >= 13


@pytest.mark.parametrize('config', _pretrain_configs())
def test_every_pretraining_config_has_amp(config):
    """AMP itself, or an ``-amp-`` twin next to it."""
    if _load(config).optim_wrapper.type == 'AmpOptimWrapper':
        return
    twin = _twin_of(config)
    assert osp.exists(osp.join(REPO, twin)), (
        f'{config} trains without AMP and has no AMP twin {twin}')
    assert _load(twin).optim_wrapper.type == 'AmpOptimWrapper'


def _train_tool():
    return load_module('tools/train.py')


@pytest.mark.parametrize('twin', _amp_twins())
def test_amp_twin_is_its_parent_with_amp(twin):
    parent = _parent_of(twin)
    assert osp.exists(osp.join(REPO, parent)), f'{twin} has no parent {parent}'
    amp, ref = _load(twin).to_dict(), _load(parent).to_dict()
    assert ref['optim_wrapper']['type'] != 'AmpOptimWrapper', (
        f'{parent} is AMP already; {twin} is redundant')

    amp_wrapper, ref_wrapper = amp.pop('optim_wrapper'), ref.pop('optim_wrapper')
    assert amp == ref  # model, data, schedule, hooks, runtime: all the same
    assert amp_wrapper['type'] == 'AmpOptimWrapper'
    assert amp_wrapper['loss_scale'] == 'dynamic'
    # optimizer, clip_grad, paramwise_cfg, constructor, accumulation: unchanged
    assert {k: v for k, v in amp_wrapper.items()
            if k not in ('type', 'loss_scale')} == {
                k: v for k, v in ref_wrapper.items() if k != 'type'}
    assert amp_wrapper['optimizer'] == ref_wrapper['optimizer']

    # and it is what `tools/train.py PARENT --amp` trains
    train = _train_tool()
    args = train.parse_args([osp.join(REPO, parent), '--amp'])
    assert train.build_cfg(args).optim_wrapper.to_dict() == amp_wrapper


def test_detr_twin_keeps_adamw_and_gradient_clipping():
    """The DETR parent replaces the stock wrapper with `_delete_`; the twin's
    merge must keep its AdamW and clip_grad."""
    wrapper = _load(
        'configs/aligndet/aligndet_detr_r50_8xb2-amp-50e_coco-proposals.py'
    ).optim_wrapper.to_dict()
    assert wrapper == dict(
        type='AmpOptimWrapper', loss_scale='dynamic',
        optimizer=dict(type='AdamW', lr=5e-5, weight_decay=1e-4),
        clip_grad=dict(max_norm=0.1, norm_type=2))


# --------------------------------------------- one AMP step per family on CPU
DEMOS = {
    # family: (CPU demo config, AMP config whose wrapper it takes)
    'pad': ('configs/pad/demo/pad-mae_vit-tiny-p16_demo.py',
            'configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py'),
    'aligndet': ('configs/aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py',
                 'configs/aligndet/aligndet_retinanet_r50_fpn_8xb2-amp-12e_coco-proposals.py'),
    'sop': ('configs/sop/demo/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py',
            'configs/sop/sop_deeplabv3plus_r50-d8_1xb16-amp-40k_loveda-512x512.py'),
}


@pytest.mark.parametrize('family', sorted(DEMOS))
def test_amp_step_on_cpu(family, demo_data, tmp_path, monkeypatch):
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_wrapper
    from mmengine.optim import AmpOptimWrapper
    from mmengine.registry import RUNNERS

    import mmpad  # noqa: F401
    # the only CPU obstacle: the wrapper's GPU assertion
    monkeypatch.setattr(amp_wrapper, 'is_cuda_available', lambda: True)
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)

    demo, amp_config = DEMOS[family]
    cfg = Config.fromfile(osp.join(REPO, demo))
    amp = _load(amp_config).optim_wrapper
    cfg.optim_wrapper.type = amp.type
    cfg.optim_wrapper.loss_scale = amp.loss_scale
    cfg.work_dir = str(tmp_path / 'work')
    if family == 'aligndet':
        cfg.train_dataloader.dataset.ann_file = str(tmp_path / 'proposals.json')
        gt_boxes_as_proposals(demo_data, cfg.train_dataloader.dataset.ann_file)
    if cfg.train_cfg.get('max_iters'):
        cfg.train_cfg.max_iters = 1
        cfg.train_cfg.val_interval = 1000
    else:
        cfg.train_cfg.max_epochs = 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h.type != 'AdapterCheckpointHook']

    runner = RUNNERS.build(cfg)
    trainable = {name: p.detach().clone()
                 for name, p in runner.model.named_parameters()
                 if p.requires_grad}
    layers = [m for m in runner.model.modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
              and any(p.requires_grad for p in m.parameters())]
    dtypes = set()
    for layer in layers:
        layer.register_forward_hook(
            lambda module, args, out: dtypes.add(out.dtype))
    runner.train()

    assert isinstance(runner.optim_wrapper, AmpOptimWrapper)
    assert torch.bfloat16 in dtypes  # the forward ran under autocast
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert loss == loss and abs(loss) < float('inf'), loss
    after = dict(runner.model.named_parameters())
    assert all(torch.isfinite(after[n]).all() for n in trainable)
    assert after[next(iter(trainable))].dtype == torch.float32  # fp32 masters
    moved = [n for n in trainable if not torch.equal(trainable[n], after[n])]
    assert len(moved) > len(trainable) // 2, (len(moved), len(trainable))
