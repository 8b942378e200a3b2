"""mmpad.pad.adapter_merge: the library behind tools/merge_adapter_checkpoint.py."""
import os.path as osp

import pytest
import torch

from mmpad.core.checkpoint import (CheckpointConversionError, CheckpointError,
                                   CheckpointLoadError,
                                   CheckpointMismatchError)
from mmpad.pad.adapter_merge import (extract_state, load_state, merge_states,
                                     save_atomic)


def _full():
    return {'backbone.layers.0.attn.w': torch.randn(4, 4),
            'backbone.layers.0.adapter.down.weight': torch.randn(2, 4),
            'neck.w': torch.randn(3)}


def test_extract_then_merge_round_trips():
    full = _full()
    ad = extract_state(full)
    assert list(ad) == ['backbone.layers.0.adapter.down.weight']
    base = {k: v for k, v in full.items() if '.adapter.' not in k}
    merged, report = merge_states(base, ad)
    assert report == dict(added=list(ad), replaced=[], kept=2)
    assert all(torch.equal(merged[k], v) for k, v in full.items())
    assert set(extract_state(full, ('neck.', ))) == {'neck.w'}


def test_refusals_are_one_family():
    full = _full()
    key = 'backbone.layers.0.adapter.down.weight'
    with pytest.raises(CheckpointMismatchError, match='has shape'):
        merge_states(full, {key: torch.zeros(8, 4)})
    with pytest.raises(CheckpointConversionError, match='no block'):
        merge_states({'neck.w': torch.zeros(3)}, {key: torch.zeros(2, 4)})
    with pytest.raises(CheckpointConversionError, match='empty'):
        merge_states(full, {})


def test_load_state_layouts_and_errors(tmp_path):
    full = _full()
    runner = str(tmp_path / 'runner.pth')
    save_atomic({'meta': {'epoch': 3}, 'state_dict': full}, runner)
    ckpt, state = load_state(runner)
    assert ckpt['meta'] == {'epoch': 3} and set(state) == set(full)
    bare = str(tmp_path / 'bare.pth')
    save_atomic(full, bare)
    ckpt, state = load_state(bare)
    assert list(ckpt) == ['state_dict'] and set(state) == set(full)
    assert not [p for p in tmp_path.iterdir() if '.tmp.' in p.name]
    with pytest.raises(CheckpointError, match='nope.pth: no such file'):
        load_state(str(tmp_path / 'nope.pth'))
    junk = tmp_path / 'junk.pth'
    junk.write_bytes(b'not a checkpoint')
    with pytest.raises(CheckpointLoadError, match='junk.pth'):
        load_state(str(junk))
    empty = str(tmp_path / 'empty.pth')
    torch.save({'meta': {}}, empty)
    with pytest.raises(CheckpointConversionError, match='holds no tensors'):
        load_state(empty)
    assert osp.isfile(runner)
