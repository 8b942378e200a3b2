"""PAD pre-training sharded with FSDP: 2 gloo processes on CPU via tools/dist_train.sh.

A PAD block mixes a frozen attention / MLP with a trainable adapter. The user's
config inherits mmpad's FSDP recipe (configs/pad/demo/pad-mae_vit-tiny-p16_demo_fsdp.py:
``PADFullyShardedDataParallel`` with ``pad_fsdp_wrap_policy``); the tiny PAD-MAE
trains 4 iterations, GradientSyncCheckHook compares the full (gathered) gradients
of all ranks before every step, and the final weights equal those of the same run
under DDP. The control wraps with stock ``MMFullyShardedDataParallel`` (made to run
under the Runner: initialised before sharding, root fixed) and the mixed blocks in
``ignored_modules`` (the usual way around FSDP's refusal of mixed
``requires_grad``): FSDP never reduces the adapter gradients of those blocks, and
the hook must stop the run naming them.
"""
import os
import os.path as osp

import pytest
import torch

from mmpad_test_utils import REPO, free_port, run_tool

FSDP_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo_fsdp.py')
DDP_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')

# test instrumentation, imported by the configs below (tests/helpers/fsdp_dump.py):
# a hook saving every rank's full weights before and after training, and for the
# control the stock wrapper made to run under mmengine's Runner
HELPERS = osp.join(REPO, 'tests', 'helpers')


def _user_config(tmp_path, name, base, extra=''):
    out = tmp_path / f'{name}_weights'
    out.mkdir()
    cfg = tmp_path / f'{name}.py'
    cfg.write_text(
        f"_base_ = ['{base}']\n"
        "custom_imports = dict(imports=['fsdp_dump'],\n"
        "                      allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DelayedScaleHook', ratio=0.6),\n"
        "    dict(type='GradientSyncCheckHook'),\n"
        f"    dict(type='DumpFullWeightsHook', out='{out}')]\n"
        "default_hooks = dict(checkpoint=None)\n"
        "train_cfg = dict(max_epochs=2)\n"
        "randomness = dict(seed=11)\n" + extra)
    return cfg, out


def _dist_train(cfg, work, data_root, check=True):
    env = {'PYTHON': os.sys.executable, 'PORT': free_port(), 'OMP_NUM_THREADS': '1',
           'PYTHONPATH': os.pathsep.join(
               [str(cfg.parent), HELPERS]
               + [p for p in [os.environ.get('PYTHONPATH')] if p])}
    return run_tool(['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir',
                     str(work)], data_root=data_root, env=env, check=check,
                    hang_note='each run took about 20 s')


def _paramwise(log):
    """The per-parameter optimizer settings that mmengine's constructor logs
    (``paramwise_options -- name:weight_decay=0.0``), by unwrapped name."""
    return {line.split('paramwise_options -- ')[1].strip().replace(
        '_fsdp_wrapped_module.', '') for line in log.splitlines()
        if 'paramwise_options -- ' in line}


def _load(out, tag, rank):
    return torch.load(str(out / f'{tag}_rank{rank}.pth'), weights_only=False)


def test_pad_fsdp_matches_ddp(demo_data, tmp_path):
    cfg, out = _user_config(tmp_path, 'pad_fsdp', FSDP_CFG)
    proc = _dist_train(cfg, tmp_path / 'work_fsdp', demo_data)
    log = proc.stdout + proc.stderr
    # 10 images / 2 ranks / batch 4 -> 2 steps per epoch, every one checked
    assert 'identical on all 2 ranks in 4 checked steps' in log
    assert 'all weights identical after training' in log
    assert 'trainable and' in log and '(none mixed)' in log
    # MAE's fixed decoder position table sits beside the trainable mask token
    assert "frozen parameters kept out of FSDP: ['neck.decoder_pos_embed']" in log

    init, final = _load(out, 'init', 0), _load(out, 'final', 0)
    final1 = _load(out, 'final', 1)
    trainable = [k for k, (_, grad) in init.items() if grad]
    frozen = [k for k, (_, grad) in init.items() if not grad]
    assert any('.adapter.' in k for k in trainable)
    assert any(k.startswith('neck.decoder_blocks.') for k in trainable)
    assert any(k.startswith('backbone.layers.') for k in frozen)
    # frozen parameters are not in the optimizer (one line with the count)
    assert f'{len(frozen)} frozen tensors (requires_grad=False) left out' in log
    for k in init:  # the ranks hold one model (checked here, not by the hook)
        assert torch.equal(final[k][0], final1[k][0]), k
    # the adapters and the decoder trained; the frozen encoder did not move
    moved = [k for k in trainable if not torch.equal(init[k][0], final[k][0])]
    assert any('.adapter.' in k for k in moved)
    assert any(k.startswith('neck.decoder_blocks.') for k in moved)
    assert all(torch.equal(init[k][0], final[k][0]) for k in frozen)

    # the same run under DDP: same start, same optimizer settings per parameter,
    # same end
    ddp_cfg, ddp_out = _user_config(tmp_path, 'pad_ddp', DDP_CFG)
    ddp_log = _dist_train(ddp_cfg, tmp_path / 'work_ddp', demo_data).stdout
    assert _paramwise(log) == _paramwise(ddp_log) != set()
    ddp_init, ddp = _load(ddp_out, 'init', 0), _load(ddp_out, 'final', 0)
    assert ddp.keys() == final.keys()
    for k in final:
        assert torch.equal(ddp_init[k][0], init[k][0]), k
        # float tolerance: the reduction order differs, and AdamW turns the
        # rounding noise of a zero gradient (an attention key bias) into steps of
        # up to 3e-5 here; an update missing on one side differs by ~lr = 2e-3
        assert torch.allclose(ddp[k][0], final[k][0], rtol=0, atol=1e-4), (
            k, (ddp[k][0] - final[k][0]).abs().max())


def test_ignored_mixed_blocks_are_caught(demo_data, tmp_path):
    # the trap: stock FSDP wrapping with the mixed PAD blocks ignored
    blocks = [f'backbone.layers.{i}' for i in range(4)]
    cfg, _ = _user_config(
        tmp_path, 'pad_fsdp_ignored', FSDP_CFG,
        "model_wrapper_cfg = dict(_delete_=True, type='InitFirstFSDP',\n"
        "    use_orig_params=True, device_id='cpu',\n"
        "    auto_wrap_policy='wrap_every_module',\n"
        f"    ignored_modules={blocks!r})\n")
    proc = _dist_train(cfg, tmp_path / 'work', demo_data, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'GradientMismatchError' in log
    assert 'gradients at iteration 0' in log
    assert 'backbone.layers.0.adapter.' in log
    # mmpad's wrapper refuses the same setting before training
    cfg2, _ = _user_config(
        tmp_path, 'pad_fsdp_ignored2', FSDP_CFG,
        f"model_wrapper_cfg = dict(ignored_modules={blocks!r})\n")
    proc = _dist_train(cfg2, tmp_path / 'work2', demo_data, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'trainable parameters may not be ignored by FSDP' in log
    assert 'backbone.layers.0.adapter.' in log
    assert 'Epoch(train)' not in log


def test_recipe_names_registered():
    import mmpad.pretrain  # noqa: F401
    from mmengine.registry import FUNCTIONS, MODEL_WRAPPERS
    assert FUNCTIONS.get('pad_fsdp_wrap_policy') is not None
    assert MODEL_WRAPPERS.get('PADFullyShardedDataParallel') is not None


class _Decoder(torch.nn.Module):
    """MAE-decoder-like: a trainable token beside a fixed table, a trainable
    block and a frozen projection."""

    def __init__(self):
        super().__init__()
        self.mask_token = torch.nn.Parameter(torch.zeros(1, 1, 4))
        self.pos_embed = torch.nn.Parameter(torch.zeros(1, 3, 4),
                                            requires_grad=False)
        self.block = torch.nn.Linear(4, 4)
        self.embed = torch.nn.Linear(4, 4).requires_grad_(False)


def test_wrapper_refuses_bad_settings_before_sharding():
    # the checks come before any collective: no process group needed
    from mmpad.engine.fsdp_wrap import (PADFullyShardedDataParallel,
                                        frozen_params_beside_trainable)
    model = _Decoder()
    assert list(frozen_params_beside_trainable(model)) == ['pos_embed']
    with pytest.raises(ValueError, match='use_orig_params must be True'):
        PADFullyShardedDataParallel(model, use_orig_params=False)
    with pytest.raises(ValueError, match="ignored module 'blok' is not a submodule"):
        PADFullyShardedDataParallel(model, ignored_modules=['blok'])
    with pytest.raises(ValueError, match=r"may not be ignored.*'block\.weight'"):
        PADFullyShardedDataParallel(model, ignored_modules=['block'])
    with pytest.raises(ValueError, match=r"may not be ignored.*'mask_token'"):
        PADFullyShardedDataParallel(model, ignored_states=[model.mask_token])
