"""mmengine checkpoints load under torch >= 2.6 through mmpad's safe loader."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

import mmpad  # noqa: F401  (installs the loader)
from mmpad.core.checkpoint.loading import TRUST_ENV, torch_load_checked


class NotAllowed:
    """A class no checkpoint should smuggle in."""


def _mmengine_like_checkpoint(path):
    hub = MessageHub.get_instance('test_ckpt_hub')
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('iter', 3)
    ckpt = dict(
        meta=dict(iter=3, epoch=0, seed=np.int64(7), mean=np.float64(0.25),
                  arr=np.arange(3, dtype=np.float32),
                  message_hub=hub.state_dict()),
        state_dict={'w': torch.ones(2, 2)},
        optimizer={'state': {}, 'param_groups': [{'lr': 0.1, 'params': [0]}]})
    torch.save(ckpt, path)
    return ckpt


def test_plain_torch_load_rejects_mmengine_checkpoint(tmp_path):
    """The problem being fixed: torch's default weights_only=True load fails."""
    path = tmp_path / 'ckpt.pth'
    _mmengine_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_mmengine_loader_reads_it(tmp_path):
    path = tmp_path / 'ckpt.pth'
    ref = _mmengine_like_checkpoint(path)
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert ckpt['meta']['iter'] == 3
    assert ckpt['meta']['seed'] == 7
    np.testing.assert_array_equal(ckpt['meta']['arr'], ref['meta']['arr'])
    buf = ckpt['meta']['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.current() == 0.5
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2, 2))


def test_unknown_globals_are_refused_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': {'obj': NotAllowed()}}, path)
    with pytest.raises(RuntimeError) as err:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert 'evil.pth' in str(err.value) and 'NotAllowed' in str(err.value)
    assert TRUST_ENV in str(err.value)
    monkeypatch.setenv(TRUST_ENV, '1')
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert isinstance(ckpt['meta']['obj'], NotAllowed)


def test_truncated_checkpoint_names_the_file(tmp_path):
    path = tmp_path / 'cut.pth'
    _mmengine_like_checkpoint(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match='cut.pth'):
        torch_load_checked(str(path))


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nope.pth'))
