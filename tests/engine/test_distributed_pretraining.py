"""PAD and AlignDet pre-training through ``tools/dist_train.sh`` with 2 gloo processes.

PAD: frozen encoder, adapters + decoder trained, the delayed scale switching on in
the middle of the run (a parameter that gets gradients only from then on). AlignDet:
frozen backbone, momentum target updated by a hook. In both, GradientSyncCheckHook
compares the gradients of every trainable tensor across the ranks before each
optimizer step and all weights after training; the run fails if any differ or if
DDP meets an unused parameter. Only rank 0 writes checkpoints and logs.
"""
import glob
import os
import os.path as osp
import shutil

import pytest
import torch

from mmpad.engine.hooks.gradient_sync_check_hook import (GradientMismatchError,
                                                         GradientSyncCheckHook,
                                                         fingerprint)
from mmpad_test_utils import (REPO, free_port, run_tool,
                              selective_search_proposals)

PAD_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')
ALIGNDET_CFG = osp.join(
    REPO, 'configs/aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py')


def _dist_train(cfg, work, data_root, *extra):
    return run_tool(['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir',
                     str(work), *extra], data_root=data_root,
                    env={'PYTHON': os.sys.executable, 'PORT': free_port(),
                         'OMP_NUM_THREADS': '1'})


def _only_rank0_outputs(work, checkpoints):
    assert sorted(osp.basename(p) for p in glob.glob(str(work / '*.pth'))) == \
        sorted(checkpoints)
    runs = [d for d in glob.glob(str(work / '*')) if osp.isdir(d)]
    assert len(runs) == 1, runs
    logs = glob.glob(osp.join(runs[0], '*.log'))
    assert len(logs) == 1, logs
    assert len(glob.glob(osp.join(runs[0], 'vis_data', 'scalars.json'))) == 1
    text = open(logs[0]).read()
    assert 'Distributed training: True' in text
    return text


def test_pad_mae_two_ranks(demo_data, tmp_path):
    cfg = tmp_path / 'pad_dist.py'
    cfg.write_text(
        f"_base_ = ['{PAD_CFG}']\n"
        "custom_hooks = [dict(type='DelayedScaleHook', ratio=0.6),\n"
        "    dict(type='AdapterCheckpointHook', interval=5, save_last=True),\n"
        "    dict(type='GradientSyncCheckHook')]\n"
        "train_cfg = dict(max_epochs=5)\n"
        "randomness = dict(seed=11)\n"
        "default_hooks = dict(checkpoint=dict(interval=3))\n")
    work = tmp_path / 'work'
    _dist_train(cfg, work, demo_data)
    text = _only_rank0_outputs(
        work, ['epoch_3.pth', 'epoch_5.pth', 'adapter_only_epoch_5.pth'])
    # held in epochs 0-3 (round(0.6 * 5) = 3), learning in epoch 4
    assert 'adapter scales learn from epoch 4' in text
    # 10 images / 2 ranks / batch 4 -> 2 steps per epoch, every one checked
    assert 'identical on all 2 ranks in 10 checked steps' in text
    assert 'all weights identical after training' in text
    # the scale predictors did learn after the switch (so they were in the
    # checked set of the last steps)
    ckpt = torch.load(str(work / 'epoch_5.pth'), map_location='cpu',
                      weights_only=False)
    assert len(ckpt['rng_states']) == 2  # both ranks' generators, for --resume
    sd = ckpt['state_dict']
    scale = [k for k in sd if k.endswith('adapter.scale_pred.weight')]
    assert scale and all(torch.count_nonzero(sd[k]) > 0 for k in scale)

    # both ranks resume from epoch 3 (as after a crash) and end bit-identical to
    # the uninterrupted run, the scale release at epoch 4 included
    resumed = tmp_path / 'resumed'
    resumed.mkdir()
    shutil.copy(work / 'epoch_3.pth', resumed / 'epoch_3.pth')
    (resumed / 'last_checkpoint').write_text(str(resumed / 'epoch_3.pth'))
    proc = _dist_train(cfg, resumed, demo_data, '--resume')
    assert 'RNG states restored' in proc.stdout + proc.stderr
    again = torch.load(str(resumed / 'epoch_5.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    diff = [k for k in sd if not torch.equal(sd[k], again[k])]
    assert not diff, diff[:5]


@pytest.fixture(scope='module')
def proposals(demo_data, tmp_path_factory):
    return selective_search_proposals(
        demo_data, str(tmp_path_factory.mktemp('proposals') / 'proposals.json'))


def test_aligndet_two_ranks(demo_data, tmp_path, proposals):
    cfg = tmp_path / 'aligndet_dist.py'
    cfg.write_text(
        f"_base_ = ['{ALIGNDET_CFG}']\n"
        "custom_hooks = _base_.custom_hooks + [dict(type='GradientSyncCheckHook')]\n"
        "train_cfg = dict(max_iters=6)\n"
        f"train_dataloader = dict(dataset=dict(ann_file='{proposals}'))\n"
        "default_hooks = dict(logger=dict(interval=2), "
        "checkpoint=dict(interval=6))\n")
    work = tmp_path / 'work'
    _dist_train(cfg, work, demo_data)
    text = _only_rank0_outputs(work, ['iter_6.pth'])
    assert 'identical on all 2 ranks in 6 checked steps' in text
    # includes the momentum target, updated by AlignDetMomentumHook on each rank
    assert 'all weights identical after training' in text
    sd = torch.load(str(work / 'iter_6.pth'), map_location='cpu',
                    weights_only=False)['state_dict']
    # the frozen backbone did not move: online and target backbones agree
    backbone = [k for k in sd if k.startswith('online.backbone.')
                and k.endswith('conv1.weight')]
    assert backbone and all(
        torch.equal(sd[k], sd[k.replace('online.', 'target.', 1)])
        for k in backbone)


# ------------------------------------------------------- the check can fail
def _hook_with(monkeypatch, gathered):
    import mmpad.engine.hooks.gradient_sync_check_hook as mod
    monkeypatch.setattr(mod, 'all_gather_object', lambda local: gathered)
    return GradientSyncCheckHook()


def test_fingerprint_separates_close_and_permuted_tensors():
    a = torch.tensor([1.0, 2.0, 3.0])
    assert fingerprint(a) == fingerprint(a.clone())
    assert fingerprint(a) != fingerprint(a.flip(0))
    assert fingerprint(a) != fingerprint(a + 1e-6)


def test_mismatch_is_reported_with_names(monkeypatch):
    same = {'w': (1.0, 2.0, 3.0), 'b': None}
    hook = _hook_with(monkeypatch, [same, dict(same)])
    hook._compare(same, 'gradients at iteration 3')  # no error

    hook = _hook_with(monkeypatch, [same, {'w': (1.0, 2.0, 3.5), 'b': None}])
    with pytest.raises(GradientMismatchError,
                       match=r"iteration 3: 1 tensors differ .*rank 1.*\['w'\]"):
        hook._compare(same, 'gradients at iteration 3')

    hook = _hook_with(monkeypatch, [same, {'w': (1.0, 2.0, 3.0),
                                           'b': (0.0, 0.0, 0.0)}])
    with pytest.raises(GradientMismatchError, match='on one rank only'):
        hook._compare(same, 'gradients at iteration 0')

    hook = _hook_with(monkeypatch, [same, {'w': (1.0, 2.0, 3.0)}])
    with pytest.raises(GradientMismatchError, match='different tensor sets'):
        hook._compare(same, 'gradients at iteration 0')


def test_step_pre_hook_sees_the_gradients(monkeypatch):
    """The hook fingerprints exactly what the optimizer is about to use."""
    seen = []

    def fake_gather(local):
        seen.append(local)
        return [local, local]

    import mmpad.engine.hooks.gradient_sync_check_hook as mod
    monkeypatch.setattr(mod, 'all_gather_object', fake_gather)
    monkeypatch.setattr(mod, 'get_world_size', lambda: 2)
    model = torch.nn.Linear(3, 1)
    model.bias.requires_grad_(False)
    optim = torch.optim.SGD(model.parameters(), lr=0.1)

    class Runner:
        iter = 0
        logger = type('L', (), {'info': staticmethod(lambda *a: None)})()

    runner = Runner()
    runner.model = model
    runner.optim_wrapper = type('W', (), {'optimizer': optim})()
    hook = GradientSyncCheckHook(interval=2)
    hook.before_train(runner)
    for _ in range(3):
        optim.zero_grad()
        model(torch.ones(2, 3)).sum().backward()
        optim.step()
    assert len(seen) == 2  # steps 1 and 3
    assert list(seen[0]) == ['weight']  # frozen bias not compared
    assert seen[0]['weight'] == fingerprint(torch.full((1, 3), 2.0))
    hook.after_train(runner)
    assert hook.checked_steps == 2
