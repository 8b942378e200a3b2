"""Which checkpoint ``--resume`` picks (mmpad.core.checkpoint.resume), the seed it pins, and
the RNG state round trip of RandomStateHook."""
import os.path as osp
import random

import numpy as np
import torch
from mmengine.config import Config

from mmpad.engine.hooks.random_state_hook import (_RNGNeutralIterator,
                                                  get_rng_states, set_rng_states)
from mmpad.core.checkpoint.resume import find_resume_checkpoint, pin_resume_seed


def _ckpt(path, seed=7):
    torch.save({'meta': {'seed': seed, 'iter': 1}, 'state_dict': {}}, str(path))
    return str(path)


def test_last_checkpoint_is_used_when_complete(tmp_path):
    _ckpt(tmp_path / 'iter_4.pth')
    named = _ckpt(tmp_path / 'iter_2.pth')
    (tmp_path / 'last_checkpoint').write_text(named)
    assert find_resume_checkpoint(str(tmp_path)) == named


def test_falls_back_when_pointer_empty_or_file_truncated(tmp_path):
    good = _ckpt(tmp_path / 'iter_4.pth')
    newest = _ckpt(tmp_path / 'iter_8.pth')
    data = open(newest, 'rb').read()
    open(newest, 'wb').write(data[:len(data) // 2])  # killed while writing
    (tmp_path / 'last_checkpoint').write_text('')  # killed while rewriting it
    assert find_resume_checkpoint(str(tmp_path)) == good
    (tmp_path / 'last_checkpoint').write_text(newest)
    assert find_resume_checkpoint(str(tmp_path)) == good
    # numeric, not lexical order: iter_10 is newer than iter_4
    ten = _ckpt(tmp_path / 'iter_10.pth')
    (tmp_path / 'last_checkpoint').unlink()
    assert find_resume_checkpoint(str(tmp_path)) == ten


def test_nothing_to_resume(tmp_path):
    assert find_resume_checkpoint(str(tmp_path)) is None
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    assert find_resume_checkpoint(str(tmp_path)) is None


def test_seed_pinned_only_when_unset(tmp_path):
    path = _ckpt(tmp_path / 'epoch_1.pth', seed=1234)
    cfg = Config(dict(randomness=dict(seed=None, deterministic=False)))
    pin_resume_seed(cfg, path)
    assert cfg.randomness.seed == 1234 and cfg.randomness.deterministic is False
    cfg = Config(dict(randomness=dict(seed=5)))
    pin_resume_seed(cfg, path)
    assert cfg.randomness.seed == 5


def test_rng_states_round_trip_through_a_checkpoint(tmp_path):
    from mmpad.core.checkpoint.loading import torch_load_checked
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    states = get_rng_states()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    torch.save({'rng_states': [states]}, str(tmp_path / 'c.pth'))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    loaded = torch_load_checked(str(tmp_path / 'c.pth'))['rng_states'][0]
    set_rng_states(loaded)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_skipped_draws_leave_the_generators_untouched():
    def draws():
        while True:
            yield np.random.rand() + torch.rand(1).item() + random.random()

    np.random.seed(0), torch.manual_seed(0), random.seed(0)
    it = _RNGNeutralIterator(draws(), 3)
    for _ in range(3):
        next(it)
    after_skip = (np.random.rand(), torch.rand(1).item(), random.random())
    np.random.seed(0), torch.manual_seed(0), random.seed(0)
    assert after_skip == (np.random.rand(), torch.rand(1).item(), random.random())
    # from the 4th draw on the wrapper is transparent
    state = np.random.get_state()[2]
    next(it)
    assert np.random.get_state()[2] != state


def test_mmpad_runner_registers_the_hook(demo_data, tmp_path, monkeypatch):
    from mmpad.engine import MMPadRunner, RandomStateHook
    from mmpad_test_utils import REPO
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/foundation/retinanet_r18-tiny_flir-demo.py'))
    cfg.work_dir = str(tmp_path)
    runner = MMPadRunner.from_cfg(cfg)
    assert sum(isinstance(h, RandomStateHook) for h in runner.hooks) == 1
    # and the NaN/inf guard, unless the config brings its own
    from mmpad.engine import NonFiniteLossHook
    (guard, ) = [h for h in runner.hooks if isinstance(h, NonFiniteLossHook)]
    assert guard.action == 'raise'
    cfg.custom_hooks = [dict(type='NonFiniteLossHook', action='skip')]
    cfg.work_dir = str(tmp_path / 'skip')
    runner = MMPadRunner.from_cfg(cfg)
    (guard, ) = [h for h in runner.hooks if isinstance(h, NonFiniteLossHook)]
    assert guard.action == 'skip'


def test_train_tool_resume_without_checkpoint_keeps_the_pretrained_weights(
        tmp_path, capsys):
    """A job script that always passes --resume: the first launch starts from the
    config's load_from, later launches resume the newest checkpoint."""
    from tools.train import build_cfg, parse_args
    from mmpad_test_utils import REPO
    cfg_file = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')
    args = parse_args([cfg_file, '--work-dir', str(tmp_path), '--resume',
                       '--cfg-options', 'load_from=base_mae.pth'])
    cfg = build_cfg(args)
    assert cfg.resume is False and cfg.load_from == 'base_mae.pth'
    assert 'no checkpoint in' in capsys.readouterr().err
    latest = _ckpt(tmp_path / 'epoch_3.pth')
    cfg = build_cfg(args)
    assert cfg.resume is True and cfg.load_from == latest
