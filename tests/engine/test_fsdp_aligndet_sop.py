"""AlignDet and SOP pre-training sharded with FSDP: 2 gloo processes on CPU via
tools/dist_train.sh, 4 iterations each, equal to the same runs under DDP.

The user's config inherits the tiny demo config and adds mmpad's FSDP wrapper
(``PADFullyShardedDataParallel``, ``pad_fsdp_wrap_policy``): every FSDP unit is
uniformly frozen or uniformly trainable, and modules whose parts the model calls
instead of their ``forward`` are split (``split_modules``).

* AlignDet: a frozen backbone beside a trainable neck and head in the online
  detector, and a frozen momentum target updated by ``AlignDetMomentumHook``
  (``target <- m target + (1 - m) online``, parameter by parameter). Both
  detectors are split into the same units, so that on every rank the target's
  shards line up with the online detector's and the update works shard by shard.
  Controls: stock ``MMFullyShardedDataParallel`` with the online detector (frozen
  beside trainable) in ``ignored_modules``, the usual way around FSDP's refusal of
  mixed units (never sharded, gradients never reduced), and the target sharded:
  the two no longer line up and the run stops before the first step; mmpad's
  wrapper without the detector split fails the same way.
* SOP: uniformly trainable, so the policy shards below the root; the recipe clips
  gradients by norm, which under FSDP must be the norm of the full gradients
  (``FullyShardedDataParallel.clip_grad_norm_``). Control: with mmengine's
  clipping each rank clips its shard by the shard's own norm; the ranks still
  agree (one sharded model), but the updates leave the DDP run's.
"""
import os
import os.path as osp
import re

import pytest
import torch

from mmpad_test_utils import REPO, free_port, gt_boxes_as_proposals, run_tool

ALIGNDET_CFG = osp.join(
    REPO, 'configs/aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py')
SOP_CFG = osp.join(
    REPO, 'configs/sop/demo/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py')
HELPERS = osp.join(REPO, 'tests', 'helpers')

# what a user adds to a config to shard it (on GPUs without device_id)
ALIGNDET_FSDP = (
    "model_wrapper_cfg = dict(type='PADFullyShardedDataParallel', device_id='cpu',\n"
    "    auto_wrap_policy=dict(type='pad_fsdp_wrap_policy',\n"
    "        split_modules=['FFN', 'RetinaNet', 'RetinaEmbedHead']))\n")
SOP_FSDP = (
    "model_wrapper_cfg = dict(type='PADFullyShardedDataParallel', device_id='cpu',\n"
    "    auto_wrap_policy=dict(type='pad_fsdp_wrap_policy',\n"
    "        split_modules=['FFN', 'DepthwiseSeparableASPPHead']))\n")


def _stock(extra=''):
    """Stock MMFullyShardedDataParallel made to run under the Runner
    (tests/helpers/fsdp_dump.py), every module with parameters a unit."""
    return ("model_wrapper_cfg = dict(type='InitFirstFSDP', use_orig_params=True,\n"
            f"    device_id='cpu', auto_wrap_policy='wrap_every_module'{extra})\n")


# clipping acts in every step at this size (the demo's max_norm 10 would not)
SOP_CLIP = 0.05


def _dist_train(cfg, work, data_root, check=True):
    env = {'PYTHON': os.sys.executable, 'PORT': free_port(), 'OMP_NUM_THREADS': '1',
           'PYTHONPATH': os.pathsep.join(
               [HELPERS] + [p for p in [os.environ.get('PYTHONPATH')] if p])}
    proc = run_tool(['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir',
                     str(work)], data_root=data_root, env=env, check=check,
                    hang_note='each run took about 30 s')
    return proc, proc.stdout + proc.stderr


def _load(out, tag, rank=0):
    return torch.load(str(out / f'{tag}_rank{rank}.pth'), weights_only=False)


def _aligndet_config(tmp_path, name, proposals, wrapper=''):
    out = tmp_path / f'{name}_weights'
    out.mkdir()
    cfg = tmp_path / f'{name}.py'
    cfg.write_text(
        f"_base_ = ['{ALIGNDET_CFG}']\n"
        "custom_imports = dict(imports=['mmpad', 'fsdp_dump'],\n"
        "                      allow_failed_imports=False)\n"
        "custom_hooks = _base_.custom_hooks + [dict(type='GradientSyncCheckHook'),\n"
        f"    dict(type='DumpFullWeightsHook', out='{out}')]\n"
        "train_cfg = dict(max_iters=4)\n"
        f"train_dataloader = dict(dataset=dict(ann_file='{proposals}'))\n"
        "default_hooks = dict(logger=dict(interval=1), checkpoint=None)\n"
        "randomness = dict(seed=5)\n" + wrapper)
    return cfg, out


def _sop_config(tmp_path, name, wrapper=''):
    out = tmp_path / f'{name}_weights'
    out.mkdir()
    cfg = tmp_path / f'{name}.py'
    cfg.write_text(
        f"_base_ = ['{SOP_CFG}']\n"
        "custom_imports = dict(imports=['mmpad', 'fsdp_dump'],\n"
        "                      allow_failed_imports=False)\n"
        # plain BN: running statistics are per rank under DDP and FSDP alike, so
        # only gradients and parameters are compared
        "custom_hooks = [dict(type='GradientSyncCheckHook', check_weights=False),\n"
        f"    dict(type='DumpFullWeightsHook', out='{out}')]\n"
        "train_cfg = dict(max_iters=4, val_interval=1000)\n"
        # SGD: AdamW normalises each gradient element by its own history, which
        # hides how much the clipping scaled the gradient
        "optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', lr=0.1,\n"
        f"    momentum=0.9), clip_grad=dict(max_norm={SOP_CLIP}))\n"
        "default_hooks = dict(logger=dict(interval=1), checkpoint=None)\n"
        "randomness = dict(seed=5)\n" + wrapper)
    return cfg, out


def _max_diff(a, b):
    return {k: float((a[k][0] - b[k][0]).abs().max()) for k in a}


def _update_gap(init, a, b):
    """|update_a - update_b| / |update_b| over all parameters."""
    da = torch.cat([(a[k][0] - init[k][0]).reshape(-1) for k in init])
    db = torch.cat([(b[k][0] - init[k][0]).reshape(-1) for k in init])
    return float((da - db).norm() / db.norm())


@pytest.fixture(scope='module')
def proposals(demo_data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('proposals') / 'proposals.json')
    gt_boxes_as_proposals(demo_data, out)
    return out


def test_aligndet_fsdp_matches_ddp(demo_data, tmp_path, proposals):
    cfg, out = _aligndet_config(tmp_path, 'aligndet_fsdp', proposals, ALIGNDET_FSDP)
    _, log = _dist_train(cfg, tmp_path / 'work_fsdp', demo_data)
    assert 'identical on all 2 ranks in 4 checked steps' in log
    # the momentum target included
    assert 'all weights identical after training' in log
    assert '(none mixed)' in log
    init, final, final1 = _load(out, 'init'), _load(out, 'final'), _load(out, 'final', 1)
    for k in final:
        assert torch.equal(final[k][0], final1[k][0]), k
    trainable = [k for k, (_, grad) in init.items() if grad]
    assert trainable and all(k.startswith(('online.neck.', 'online.bbox_head.'))
                             for k in trainable)
    moved = {k for k in init if not torch.equal(init[k][0], final[k][0])}
    assert any(k.startswith('online.bbox_head.') for k in moved)
    # the frozen backbones did not move; the target followed the online detector
    assert not any('.backbone.' in k for k in moved)
    assert any(k.startswith('target.neck.') for k in moved)

    ddp_cfg, ddp_out = _aligndet_config(tmp_path, 'aligndet_ddp', proposals)
    _, ddp_log = _dist_train(ddp_cfg, tmp_path / 'work_ddp', demo_data)
    assert 'identical on all 2 ranks in 4 checked steps' in ddp_log
    ddp_init, ddp = _load(ddp_out, 'init'), _load(ddp_out, 'final')
    assert ddp.keys() == final.keys()
    for k in final:
        assert torch.equal(ddp_init[k][0], init[k][0]), k
    diff = _max_diff(ddp, final)
    # float tolerance (reduction order); an update missing on one side moves a
    # weight by about lr = 1e-3
    assert max(diff.values()) < 1e-4, sorted(diff.items(), key=lambda kv: -kv[1])[:3]
    assert max(diff[k] for k in moved) < 1e-4


def test_aligndet_stock_fsdp_and_unsplit_detectors_fail(demo_data, tmp_path, proposals):
    # stock wrapping with the usual way around FSDP's refusal of units that mix
    # frozen and trainable parameters: the online detector in ignored_modules,
    # i.e. left whole on every rank with its gradients never reduced, while the
    # target is sharded
    cfg, _ = _aligndet_config(tmp_path, 'aligndet_stock', proposals,
                              _stock(", ignored_modules=['online']"))
    proc, log = _dist_train(cfg, tmp_path / 'work_stock', demo_data, check=False)
    assert proc.returncode != 0
    assert 'AlignDetPretrainer: online and target parameters are laid out' in log
    assert 'Iter(train)' not in log
    # mmpad's wrapper without the detector split: the online detector is split
    # (it mixes), the frozen target is one unit, so the shards do not line up
    cfg, _ = _aligndet_config(
        tmp_path, 'aligndet_unsplit', proposals,
        "model_wrapper_cfg = dict(type='PADFullyShardedDataParallel', "
        "device_id='cpu')\n")
    proc, log = _dist_train(cfg, tmp_path / 'work_unsplit', demo_data, check=False)
    assert proc.returncode != 0
    assert 'online and target parameters are laid out differently' in log
    assert "split_modules=[<detector class>, <head class>, ...]" in log
    assert 'Iter(train)' not in log


def _grad_norms(log):
    return [float(v) for v in re.findall(r'grad_norm: ([0-9.]+)', log)]


def test_sop_fsdp_matches_ddp_and_stock_clipping_does_not(demo_data, tmp_path):
    cfg, out = _sop_config(tmp_path, 'sop_fsdp', SOP_FSDP)
    _, log = _dist_train(cfg, tmp_path / 'work_fsdp', demo_data)
    assert 'identical on all 2 ranks in 4 checked steps' in log
    assert '(none mixed)' in log
    init, final, final1 = _load(out, 'init'), _load(out, 'final'), _load(out, 'final', 1)
    assert all(grad for _, grad in init.values())  # SOP trains everything
    for k in final:
        assert torch.equal(final[k][0], final1[k][0]), k

    ddp_cfg, ddp_out = _sop_config(tmp_path, 'sop_ddp')
    _, ddp_log = _dist_train(ddp_cfg, tmp_path / 'work_ddp', demo_data)
    # clipping acted in every step, and FSDP saw DDP's (full-gradient) norms
    ddp_norms, fsdp_norms = _grad_norms(ddp_log), _grad_norms(log)
    assert len(ddp_norms) == len(fsdp_norms) == 4
    assert min(ddp_norms) > SOP_CLIP
    assert fsdp_norms == pytest.approx(ddp_norms, rel=1e-3)
    ddp_init, ddp = _load(ddp_out, 'init'), _load(ddp_out, 'final')
    assert ddp.keys() == final.keys()
    for k in final:
        assert torch.equal(ddp_init[k][0], init[k][0]), k
    assert _update_gap(init, final, ddp) < 1e-3
    diff = _max_diff(ddp, final)
    assert max(diff.values()) < 1e-6, sorted(diff.items(), key=lambda kv: -kv[1])[:3]

    # control: mmpad's wrapper with mmengine's clipping runs and the ranks agree,
    # but each rank clipped its shard by the shard's own norm
    stock_cfg, stock_out = _sop_config(tmp_path, 'sop_stock', SOP_FSDP.replace(
        'PADFullyShardedDataParallel', 'PADFSDPWithStockClip'))
    _, stock_log = _dist_train(stock_cfg, tmp_path / 'work_stock', demo_data)
    assert 'identical on all 2 ranks in 4 checked steps' in stock_log
    stock, stock1 = _load(stock_out, 'final'), _load(stock_out, 'final', 1)
    assert all(torch.equal(stock[k][0], stock1[k][0]) for k in stock)
    stock_init = _load(stock_out, 'init')
    assert all(torch.equal(stock_init[k][0], init[k][0]) for k in init)
    # each shard norm is below the full norm, so each rank's update is too large
    assert _update_gap(init, stock, ddp) > 0.1


@pytest.mark.parametrize('config,split', [
    ('configs/aligndet/aligndet_retinanet_r50_fpn_8xb2-12e_coco-proposals.py',
     ['RetinaNet', 'RetinaEmbedHead']),
    ('configs/sop/sop_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py',
     ['DepthwiseSeparableASPPHead', 'FCNHead']),
], ids=['aligndet-retinanet', 'sop-deeplabv3plus'])
def test_full_size_recipes_split_modules_of_the_model(config, split):
    """The split_modules of docs/distributed.md's full-size recipes name classes
    of those models (a misspelt name would split nothing)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    import mmpad  # noqa: F401
    cfg = Config.fromfile(osp.join(REPO, config))
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    classes = {type(m).__name__ for m in model.modules()}
    assert set(split) <= classes, set(split) - classes
    docs = open(osp.join(REPO, 'docs', 'distributed.md')).read()
    assert repr(['FFN', *split]) in docs


def test_grad_clip_replacement_and_refusal():
    """Only clipping by norm is replaced; options FSDP's clip has not are refused
    (no process group needed: nothing is clipped here)."""
    from types import SimpleNamespace

    from mmpad.engine.fsdp_wrap import use_fsdp_grad_clip
    by_value = SimpleNamespace(clip_func=torch.nn.utils.clip_grad_value_,
                               clip_grad_kwargs=dict(clip_value=1.0))
    use_fsdp_grad_clip(None, by_value)
    assert by_value.clip_func is torch.nn.utils.clip_grad_value_
    by_norm = SimpleNamespace(clip_func=torch.nn.utils.clip_grad_norm_,
                              clip_grad_kwargs=dict(max_norm=1.0, norm_type=2))
    use_fsdp_grad_clip(None, by_norm)
    assert by_norm.clip_func.__name__ == 'clip_full_norm'
    bad = SimpleNamespace(clip_func=torch.nn.utils.clip_grad_norm_,
                          clip_grad_kwargs=dict(max_norm=1.0, foreach=True))
    with pytest.raises(ValueError, match=r"clip_grad \['foreach'\] are not supported"):
        use_fsdp_grad_clip(None, bad)
