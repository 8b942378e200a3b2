"""Every load verifies the CRC-32 of every record of the checkpoint zip: flipped
bytes in tensor data or in the pickle, truncation and garbage each give one error
naming the file (and the damaged record), on every loading path. Controls: plain
``torch.load`` loads the tensor-corrupted file silently, and fails on the
pickle-corrupted one without naming the file."""
import os.path as osp

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

import mmpad  # noqa: F401
from mmpad.core.checkpoint.loading import (CheckpointLoadError,
                                    CorruptCheckpointError, torch_load_checked,
                                    verify_checkpoint)
from mmpad_test_utils import run_tool
from tests.core.checkpoint.checkpoint_attacks import flip_bytes, tiny_pad_backbone, toy_cfg


def _ckpt(path):
    torch.save({'meta': {'epoch': 1, 'note': 'x' * 64},
                'state_dict': {'w': torch.arange(4096, dtype=torch.float32)}},
               str(path))
    return str(path)


@pytest.fixture
def tensor_flipped(tmp_path):
    path = _ckpt(tmp_path / 'tensor_flipped.pth')
    flip_bytes(path, '/data/0')
    return path


@pytest.fixture
def pickle_flipped(tmp_path):
    path = _ckpt(tmp_path / 'pickle_flipped.pth')
    flip_bytes(path, '/data.pkl', count=2, at=0.6)
    return path


def test_tensor_bytes(tensor_flipped):
    # control: torch.load does not look at the CRC-32s: wrong values, no error
    plain = torch.load(tensor_flipped, weights_only=True)['state_dict']['w']
    assert not torch.equal(plain, torch.arange(4096, dtype=torch.float32))
    with pytest.raises(CorruptCheckpointError) as err:
        torch_load_checked(tensor_flipped)
    text = str(err.value)
    assert tensor_flipped in text and 'checksum mismatch' in text
    assert "'tensor_flipped/data/0' (tensor data)" in text


def test_pickle_bytes(pickle_flipped):
    # control: torch.load fails somewhere inside the unpickler, file unnamed
    with pytest.raises(Exception) as plain:
        torch.load(pickle_flipped, weights_only=True)
    assert pickle_flipped not in str(plain.value)
    with pytest.raises(CorruptCheckpointError) as err:
        torch_load_checked(pickle_flipped)
    assert pickle_flipped in str(err.value)
    assert '(the pickle)' in str(err.value)


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'garbage',
                                    'zip_of_something_else', 'no_pickle'])
def test_other_damage_is_one_named_error(damage, tmp_path):
    import zipfile
    path = _ckpt(tmp_path / f'{damage}.pth')
    data = open(path, 'rb').read()
    if damage == 'truncated':
        open(path, 'wb').write(data[:len(data) // 2])
    elif damage == 'empty':
        open(path, 'wb').write(b'')
    elif damage == 'garbage':
        open(path, 'wb').write(b'\x00\x01 not a checkpoint' * 10)
    elif damage == 'zip_of_something_else':
        with zipfile.ZipFile(path, 'w') as zf:
            zf.writestr('readme.txt', 'hello')
    else:
        with zipfile.ZipFile(path, 'w') as zf:
            zf.writestr('archive/version', '3\n')
    with pytest.raises(CheckpointLoadError) as err:
        torch_load_checked(path)
    assert path in str(err.value) and '\n' not in str(err.value)


def test_verify_reports_each_format(tmp_path):
    path = _ckpt(tmp_path / 'ok.pth')
    assert verify_checkpoint(path) == 'zip'
    legacy = str(tmp_path / 'legacy.pth')
    torch.save({'w': torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    assert verify_checkpoint(legacy) == 'legacy'  # no checksums to check


def test_loading_paths(tensor_flipped, pickle_flipped, tmp_path):
    """CheckpointLoader (load_from, init_cfg) and a Runner's load_from."""
    from mmengine.registry import RUNNERS
    for path in (tensor_flipped, pickle_flipped):
        with pytest.raises(CorruptCheckpointError, match=path):
            CheckpointLoader.load_checkpoint(path, map_location='cpu')
        runner = RUNNERS.build(toy_cfg(tmp_path / ('w_' + osp.basename(path)),
                                       max_epochs=1, load_from=path))
        with pytest.raises(CorruptCheckpointError, match=path):
            runner.train()


def test_init_cfg_pretrained(tensor_flipped):
    pytest.importorskip('mmdet')
    backbone = tiny_pad_backbone(tensor_flipped)
    with pytest.raises(CorruptCheckpointError, match='checksum mismatch'):
        backbone.init_weights()


@pytest.mark.parametrize('tool', ['convert_pad_checkpoint', 'aligndet_to_mmdet',
                                  'sop_to_seg', 'merge_adapter_checkpoint'])
def test_converters(tool, tensor_flipped, tmp_path):
    out = str(tmp_path / 'out.pth')
    args = {'convert_pad_checkpoint': [tensor_flipped, out, '--target', 'det'],
            'merge_adapter_checkpoint': ['extract', tensor_flipped, out]}.get(
                tool, [tensor_flipped, out])
    proc = run_tool([f'tools/{tool}.py'] + args, check=False, timeout=300,
                    hang_note='each takes under 20 s')
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: ')]
    assert len(errors) == 1 and 'Traceback' not in proc.stderr
    assert tensor_flipped in errors[0] and 'checksum mismatch' in errors[0]
    assert not osp.exists(out)


def test_what_mmpad_writes_verifies(tmp_path):
    """Runner checkpoints and converter outputs are zip checkpoints with
    CRC-32s the loader checks."""
    from mmengine.registry import RUNNERS
    RUNNERS.build(toy_cfg(tmp_path / 'w', max_epochs=1)).train()
    ckpt = str(tmp_path / 'w' / 'epoch_1.pth')
    assert verify_checkpoint(ckpt) == 'zip'
    out = str(tmp_path / 'adapters.pth')
    run_tool(['tools/merge_adapter_checkpoint.py', 'extract', ckpt, out,
              '--key', 'linear.'])
    assert verify_checkpoint(out) == 'zip'
    flip_bytes(out, '/data/0', count=1)
    with pytest.raises(CorruptCheckpointError, match='checksum mismatch'):
        verify_checkpoint(out)
