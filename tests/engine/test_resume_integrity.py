"""``--resume`` skips a checkpoint whose bytes were damaged after it was written
(CRC-32 mismatch), says so naming the file and the damaged record, resumes from
the newest one that verifies, and ends with exactly the weights of a run that was
never interrupted. Control: with the verification switched off the same resume
loads the damaged file silently and ends elsewhere."""
import os.path as osp
import shutil

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS

import mmpad  # noqa: F401
import mmpad.core.checkpoint.resume as resume
import mmpad.core.checkpoint.loading as checkpoint
from tests.core.checkpoint.checkpoint_attacks import flip_bytes, toy_cfg


class _Killed(Exception):
    pass


class _KillAfterEpoch(Hook):
    """Stops the run right after epoch ``n``'s checkpoint was written."""
    priority = 'LOWEST'  # after CheckpointHook

    def __init__(self, n):
        self.n = n

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.n:
            raise _Killed


def _weights(path):
    return torch.load(path, weights_only=False)['state_dict']


def _run(work, **extra):
    runner = RUNNERS.build(toy_cfg(work, max_epochs=4, **extra))
    runner.train()
    return runner


@pytest.fixture
def damaged_work_dir(tmp_path):
    """An uninterrupted run, and a run killed after epoch 2 whose epoch_2.pth
    then had bytes of its tensor data flipped."""
    _run(tmp_path / 'full')
    killed = tmp_path / 'killed'
    runner = RUNNERS.build(toy_cfg(killed, max_epochs=4,
                                   custom_hooks=[]))
    runner.register_hook(_KillAfterEpoch(2))
    with pytest.raises(_Killed):
        runner.train()
    newest = str(killed / 'epoch_2.pth')
    assert open(killed / 'last_checkpoint').read().strip() == newest
    before = _weights(newest)
    flip_bytes(newest, '/data/0', count=8)
    after = _weights(newest)  # plain torch.load: no error, other weights
    assert any(not torch.equal(before[k], after[k]) for k in before)
    return tmp_path, newest


def _logged(monkeypatch):
    messages = []
    real = resume.print_log

    def record(msg, *args, **kwargs):
        messages.append(msg)
        return real(msg, *args, **kwargs)

    monkeypatch.setattr(resume, 'print_log', record)
    return messages


def test_damaged_newest_checkpoint_is_skipped(damaged_work_dir, monkeypatch):
    root, newest = damaged_work_dir
    control = root / 'control'
    shutil.copytree(root / 'killed', control)
    (control / 'last_checkpoint').write_text(str(control / 'epoch_2.pth'))
    messages = _logged(monkeypatch)

    runner = _run(root / 'killed', resume=True)
    assert runner.epoch == 4
    skipped = [m for m in messages if m.startswith(f'resume: skipping {newest}')]
    assert len(skipped) == 1, messages
    assert 'checksum mismatch' in skipped[0] and '(tensor data)' in skipped[0]
    assert any('resuming from ' + str(root / 'killed' / 'epoch_1.pth') in m
               for m in messages), messages
    full = _weights(root / 'full' / 'epoch_4.pth')
    resumed = _weights(root / 'killed' / 'epoch_4.pth')
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full)

    # control: without the CRC check the damaged epoch_2 resumes silently
    monkeypatch.setattr(checkpoint, 'verify_checkpoint', lambda path: 'zip')
    checkpoint._verified.clear()
    _run(control, resume=True)
    silent = _weights(control / 'epoch_4.pth')
    assert any(not torch.equal(full[k], silent[k]) for k in full)


def test_explicit_resume_of_a_damaged_file_names_it(damaged_work_dir):
    """--resume PATH (no choice to make): one error naming the file."""
    root, newest = damaged_work_dir
    with pytest.raises(checkpoint.CorruptCheckpointError) as err:
        _run(root / 'killed', resume=True, load_from=newest)
    assert newest in str(err.value) and 'checksum mismatch' in str(err.value)


def test_a_runner_built_directly_also_skips_it(damaged_work_dir, monkeypatch):
    """mmengine's own auto-resume lookup (a Runner not built by from_cfg)
    makes the same choice."""
    from mmengine.runner import Runner
    root, newest = damaged_work_dir
    messages = _logged(monkeypatch)
    cfg = toy_cfg(root / 'killed', max_epochs=4, resume=True)
    cfg.pop('runner_type')
    runner = Runner(**{k: v for k, v in cfg.items()
                       if k in ('model', 'work_dir', 'train_dataloader',
                                'optim_wrapper', 'train_cfg', 'default_hooks',
                                'randomness', 'resume', 'default_scope',
                                'log_level')})
    runner.train()
    assert any(m.startswith(f'resume: skipping {newest}') for m in messages)
    assert osp.isfile(root / 'killed' / 'epoch_4.pth')


def test_damaged_pickle_falls_back_too(tmp_path, monkeypatch):
    """Flipped bytes in the pickle (plain torch.load: a bare UnicodeDecodeError
    or similar) are skipped the same way; so is a truncated file."""
    for n in (1, 2, 3):
        torch.save({'meta': {'epoch': n, 'note': 'x' * 200},
                    'state_dict': {'w': torch.ones(8)}},
                   str(tmp_path / f'epoch_{n}.pth'))
    flip_bytes(str(tmp_path / 'epoch_3.pth'), '/data.pkl', count=2, at=0.6)
    data = open(tmp_path / 'epoch_2.pth', 'rb').read()
    open(tmp_path / 'epoch_2.pth', 'wb').write(data[:len(data) // 2])
    messages = _logged(monkeypatch)
    assert resume.find_resume_checkpoint(str(tmp_path)) == \
        str(tmp_path / 'epoch_1.pth')
    assert len(messages) == 2
    assert messages[0].startswith(
        f'resume: skipping {tmp_path / "epoch_3.pth"}: ')
    assert messages[1].startswith(
        f'resume: skipping {tmp_path / "epoch_2.pth"}: ')
    assert '(the pickle)' in messages[0] and 'truncated' in messages[1]
