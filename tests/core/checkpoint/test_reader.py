"""The one checkpoint reader, the one error family, the one report type."""
import os.path as osp
from collections import OrderedDict

import pytest
import torch

import mmpad  # noqa: F401
from mmpad.core.checkpoint import (CheckpointContentError,
                                   CheckpointConversionError, CheckpointError,
                                   CheckpointLoadError,
                                   CheckpointMismatchError, CheckpointReport,
                                   CorruptCheckpointError,
                                   UnsafeCheckpointError, read_checkpoint,
                                   read_state_dict)
from mmpad_test_utils import REPO


def _save(obj, path):
    torch.save(obj, str(path))
    return str(path)


def test_layouts_unwrap_to_the_same_tensors(tmp_path):
    state = OrderedDict(a=torch.ones(2), b=torch.zeros(3))
    for name, ckpt in [('runner', {'meta': {}, 'state_dict': state}),
                       ('timm', {'model': state, 'epoch': 3}),
                       ('bare', dict(state)),
                       ('ddp', {'state_dict': {'module.' + k: v
                                               for k, v in state.items()}})]:
        got = read_state_dict(_save(ckpt, tmp_path / f'{name}.pth'))
        assert list(got) == ['a', 'b'], name
        assert torch.equal(got['a'], state['a'])
    # a checkpoint already read, non-tensors dropped, a prefix kept without it
    got = read_state_dict({'state_dict': {'backbone.x': torch.ones(1),
                                          'neck.y': torch.ones(1), 'n': 3}},
                          'backbone.')
    assert list(got) == ['x']


def test_one_error_naming_the_file(tmp_path):
    path = _save({'meta': {}, 'optimizer': {}}, tmp_path / 'meta_only.pth')
    with pytest.raises(CheckpointContentError,
                       match=r'meta_only.pth: holds no tensors'):
        read_state_dict(path)
    with pytest.raises(CheckpointMismatchError,
                       match=r"meta_only.pth: no key starts with 'x.'"):
        read_state_dict({'state_dict': {'a': torch.ones(1)}}, 'x.',
                        filename=path, error=CheckpointMismatchError)
    listed = _save([torch.ones(1)], tmp_path / 'list.pth')
    with pytest.raises(CheckpointConversionError,
                       match=r'list.pth: not a checkpoint dict \(list\)'):
        read_checkpoint(listed, error=CheckpointConversionError)
    assert read_state_dict({}, allow_empty=True) == {}
    with pytest.raises(FileNotFoundError):
        read_checkpoint(str(tmp_path / 'missing.pth'))


def test_reads_are_verified(tmp_path):
    path = tmp_path / 'truncated.pth'
    _save({'state_dict': {'a': torch.ones(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CorruptCheckpointError, match='truncated.pth'):
        read_state_dict(str(path))


def test_metadata_of_versioned_modules_is_kept():
    bn = torch.nn.BatchNorm1d(2)
    state = bn.state_dict()
    got = read_state_dict({'state_dict': state})
    assert got._metadata == state._metadata


def test_the_error_family():
    for cls in (CheckpointLoadError, CorruptCheckpointError,
                UnsafeCheckpointError, CheckpointContentError,
                CheckpointMismatchError, CheckpointConversionError):
        assert issubclass(cls, CheckpointError), cls
    # the built-in bases callers catch (tools: RuntimeError / ValueError)
    assert issubclass(CheckpointLoadError, RuntimeError)
    for cls in (CheckpointMismatchError, CheckpointConversionError):
        assert issubclass(cls, ValueError)
    # every older name is one of them
    from mmpad.core import CheckpointMismatchError as from_core
    from mmpad.core.checkpoint.compat import CheckpointMismatchError as compat
    from mmpad.core.checkpoint.loading import CheckpointLoadError as loading
    from mmpad.pad.checkpoint_conversion import CheckpointConversionError as pad
    from mmpad.sop.convert import ConversionError
    assert from_core is compat is CheckpointMismatchError
    assert loading is CheckpointLoadError
    assert pad is ConversionError is CheckpointConversionError


def test_one_report_type():
    from mmpad.core.checkpoint.compat import CompatReport
    from mmpad.core.checkpoint.pretrained import LoadReport
    from mmpad.pad.checkpoint_conversion import ConversionReport as pad
    from mmpad.sop.convert import ConversionReport as sop
    assert CompatReport is LoadReport is pad is sop is CheckpointReport
    report = CheckpointReport(kind='sop', title='fusion: early',
                              matched=['a', 'b'], dropped=['c'],
                              sliced={'a': ((2, 6), (2, 3))})
    assert report.kept == 2
    assert report.summary() == ('fusion: early\nkept: 2 tensors\n'
                                'sliced: a [2, 6] -> [2, 3]\ndropped: c')
    with pytest.raises(ValueError, match='kind'):
        CheckpointReport(kind='other')


def test_adapter_key_is_defined_once():
    from mmpad.core.adapters.freezing import ADAPTER_KEY
    from mmpad.core.checkpoint import compat
    from mmpad.pad import adapter_merge
    assert compat.ADAPTER_KEY is ADAPTER_KEY
    assert adapter_merge.ADAPTER_KEY is ADAPTER_KEY
    text = ''
    for path in ('mmpad/core/checkpoint/compat.py', 'mmpad/pad/adapter_merge.py',
                 'tools/merge_adapter_checkpoint.py'):
        with open(osp.join(REPO, path)) as f:
            text += f.read()
    assert "ADAPTER_KEY = '" not in text


def test_safe_loading_is_installed_once_by_the_checkpoint_package():
    """mmpad, mmpad.pretrain / det / seg reach it through mmpad.core.checkpoint;
    none of them installs it again."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmpad.core.checkpoint import loading
    assert CheckpointLoader._schemes[''] is loading._load_from_local
    calls = []
    for path in ('mmpad/__init__.py', 'mmpad/pretrain/__init__.py',
                 'mmpad/det/__init__.py', 'mmpad/seg/__init__.py'):
        with open(osp.join(REPO, path)) as f:
            calls += [path for line in f
                      if 'install_safe_checkpoint_loading()' in line]
    assert calls == []
    loading.install_safe_checkpoint_loading()  # idempotent
    assert CheckpointLoader._schemes[''] is loading._load_from_local


def test_check_against_config_leaves_the_default_scope(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmpad.core.checkpoint import check_against_config
    config = str(tmp_path / 'linear.py')
    Config(dict(model=dict(type='Linear', in_features=2, out_features=3))
           ).dump(config)
    def scope():
        current = DefaultScope.get_current_instance()
        return current and current.scope_name

    before = scope()
    with DefaultScope.overwrite_default_scope('mmengine'):
        report = check_against_config(
            {'weight': torch.zeros(3, 2), 'bias': torch.zeros(4),
             'extra': torch.zeros(1)}, config, default_scope='mmdet')
        assert scope() == 'mmengine'  # not left at 'mmdet'
    assert scope() == before
    assert report.matched == ['weight'] and report.unexpected == ['extra']
    assert report.shape_mismatch == [('bias', (4, ), (3, ))]
