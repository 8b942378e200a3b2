"""Every checkpoint tool, given another kind of checkpoint (PAD pre-training,
AlignDet pre-training, SOP pre-training, a plain detector), exits 2 with one
``error:`` line that names the file and says what it expected; nothing is written."""
import os.path as osp

import pytest
import torch

from mmpad_test_utils import load_module


def _load(path, name):
    return load_module(path, name)


def _tool(name):
    return _load(f'tools/{name}.py', f'_wrong_kind_{name}')


@pytest.fixture(scope='module')
def kinds(tmp_path_factory):
    """One small checkpoint of each kind, in the layout its trainer saves."""
    factory = _load('tests/pad/pad_ckpt_factory.py',
                    '_wrong_kind_factory')
    zeros = torch.zeros
    detector = {'backbone.conv1.weight': zeros(8, 3, 7, 7),
                'neck.fpn_convs.0.conv.weight': zeros(8, 8, 3, 3),
                'bbox_head.retina_cls.weight': zeros(27, 8, 3, 3)}
    states = dict(
        pad=factory.build_mae_state_dict(bottleneck=16),
        aligndet={f'{side}.{k}': v for side in ('online', 'target')
                  for k, v in detector.items()},
        sop={'backbone.stem.0.weight': zeros(16, 6, 3, 3),  # early fusion
             'backbone.layer1.0.conv1.weight': zeros(16, 16, 3, 3),
             'decode_head.conv_seg.weight': zeros(1, 8, 1, 1)},
        detector=detector)
    d = tmp_path_factory.mktemp('kinds')
    paths = {}
    for kind, state in states.items():
        paths[kind] = str(d / f'{kind}.pth')
        torch.save({'meta': {}, 'state_dict': state}, paths[kind])
    return paths


# tool, argv builder, the kind it converts, what the message says
CASES = {
    'convert_pad_checkpoint': (
        lambda src, dst, kinds: [src, dst, '--target', 'det'], 'pad',
        'not an mmpretrain MAE / MILAN / PAD pre-training checkpoint'),
    'aligndet_to_mmdet': (
        lambda src, dst, kinds: [src, dst], 'aligndet',
        "not an AlignDet pre-training checkpoint: no key starts with 'online.'"),
    'sop_to_seg': (
        lambda src, dst, kinds: [src, dst], 'sop', 'not an SOP checkpoint'),
    'merge_adapter_checkpoint merge': (
        lambda src, dst, kinds: ['merge', kinds['pad'], src, dst], None,
        'meta.adapter_only is not set; this does not look like an '
        'adapter-only checkpoint'),
    'merge_adapter_checkpoint extract': (
        lambda src, dst, kinds: ['extract', src, dst], 'pad',
        "no key matches ['.adapter.']; is it a PAD checkpoint?"),
}
PARAMS = [(tool, kind) for tool, (_, own, _) in CASES.items()
          for kind in ('pad', 'aligndet', 'sop', 'detector') if kind != own]


@pytest.mark.parametrize('tool, kind', PARAMS)
def test_wrong_kind_is_refused_in_one_line(tool, kind, kinds, tmp_path, capsys):
    argv, _, expected = CASES[tool]
    dst = str(tmp_path / 'out.pth')
    src = kinds[kind]
    capsys.readouterr()
    assert _tool(tool.split()[0]).main(argv(src, dst, kinds)) == 2
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith('error: ')]
    assert len(errors) == 1, errors
    assert src in errors[0] and expected in errors[0], errors[0]
    assert not osp.exists(dst)
