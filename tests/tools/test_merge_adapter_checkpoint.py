"""tools/merge_adapter_checkpoint.py: extract + merge round-trip bit-exactly,
and refuse checkpoints that do not fit."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmpad_test_utils import REPO, load_module, run_tool

DEMO_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')
TOOL = 'tools/merge_adapter_checkpoint.py'


def _tool():
    return load_module(TOOL, 'merge_adapter_checkpoint')


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    """base = a stock ImageNet-style MAE checkpoint (no adapters);
    full = the PAD model trained from it: same encoder, new adapters, new
    decoder (every trained tensor perturbed)."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import save_checkpoint
    from mmpretrain.registry import MODELS
    d = tmp_path_factory.mktemp('merge')
    cfg = Config.fromfile(DEMO_CFG)
    torch.manual_seed(0)
    # in mmpretrain's scope whatever another test module left set (importing
    # tests/aligndet/aligndet_tiny_detectors.py sets 'mmdet' for the process)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return _build_ckpts(d, cfg, MODELS, save_checkpoint)


def _build_ckpts(d, cfg, MODELS, save_checkpoint):
    stock = MODELS.build(cfg.model.algorithm.to_dict())
    stock.init_weights()
    save_checkpoint({'meta': {'epoch': 1600}, 'state_dict': stock.state_dict(),
                     'optimizer': {'state': {}, 'param_groups': []}},
                    str(d / 'base.pth'))
    pad = MODELS.build(cfg.model.to_dict())
    pad.init_weights()
    pad.load_state_dict(stock.state_dict(), strict=False)
    with torch.no_grad():
        for p in pad.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p))
    full = pad.state_dict()
    save_checkpoint({'meta': {'epoch': 100, 'iter': 4300}, 'state_dict': full,
                     'optimizer': {'state': {}, 'param_groups': []}},
                    str(d / 'full.pth'))
    return d, full


def _load(path):
    from mmpad.core.checkpoint.loading import torch_load_checked
    return torch_load_checked(str(path))


def _assert_same(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


def test_adapter_only_round_trip_restores_the_pad_encoder(ckpts):
    d, full = ckpts
    run_tool([TOOL, 'extract', str(d / 'full.pth'), str(d / 'ad.pth')])
    ad = _load(d / 'ad.pth')
    assert ad['meta']['adapter_only'] and ad['meta']['epoch'] == 100
    assert set(ad['state_dict']) == {k for k in full if '.adapter.' in k}
    out = run_tool([TOOL, 'merge', str(d / 'base.pth'), str(d / 'ad.pth'),
                    str(d / 'merged.pth')]).stdout
    assert 'added' in out and 'kept' in out
    merged = _load(d / 'merged.pth')['state_dict']
    # the whole encoder (what goes downstream) is bit-identical to the PAD one
    _assert_same({k: v for k, v in merged.items() if k.startswith('backbone.')},
                 {k: v for k, v in full.items() if k.startswith('backbone.')})
    assert set(merged) == set(full)


def test_round_trip_with_decoder_is_bit_exact(ckpts):
    d, full = ckpts
    run_tool([TOOL, 'extract', str(d / 'full.pth'), str(d / 'ad_dec.pth'),
              '--key', '.adapter.', '--key', 'neck.'])
    run_tool([TOOL, 'merge', str(d / 'base.pth'), str(d / 'ad_dec.pth'),
              str(d / 'merged_dec.pth')])
    merged = _load(d / 'merged_dec.pth')
    assert 'optimizer' not in merged  # the base's training state is dropped
    got = merged['state_dict']
    _assert_same(got, full)
    # and the result loads strictly into the PAD model
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pad = MODELS.build(Config.fromfile(DEMO_CFG).model.to_dict())
    pad.load_state_dict(got, strict=True)


def test_merge_refuses_what_does_not_fit(ckpts, tmp_path):
    d, full = ckpts
    tool = _tool()
    ad = {k: v for k, v in full.items() if '.adapter.' in k}
    # an adapter of another bottleneck
    bigger = {k: torch.zeros(*(s * 2 if s == 8 else s for s in v.shape))
              for k, v in ad.items()}
    base_with_adapters = dict(full)
    with pytest.raises(tool.CheckpointError, match='shape'):
        tool.merge_states(base_with_adapters, bigger)
    # keys without the 'backbone.' prefix have nowhere to go
    stripped = {k[len('backbone.'):]: v for k, v in ad.items()}
    base = {k: v for k, v in full.items() if '.adapter.' not in k}
    with pytest.raises(tool.CheckpointError, match='no block'):
        tool.merge_states(base, stripped)
    with pytest.raises(tool.CheckpointError, match='empty'):
        tool.merge_states(base, {})


def test_cli_errors_name_the_file(ckpts, tmp_path, capsys):
    d, _ = ckpts
    tool = _tool()
    (tmp_path / 'junk.pth').write_bytes(b'not a checkpoint')
    cases = [
        (['merge', str(d / 'base.pth'), str(d / 'full.pth'),
          str(tmp_path / 'x.pth')], 'full.pth: meta.adapter_only is not set'),
        (['merge', str(tmp_path / 'nope.pth'), str(d / 'full.pth'),
          str(tmp_path / 'x.pth')], 'nope.pth: no such file'),
        (['extract', str(tmp_path / 'junk.pth'), str(tmp_path / 'y.pth')],
         'junk.pth'),
        (['extract', str(d / 'base.pth'), str(tmp_path / 'y.pth')],
         'base.pth: no key matches'),
    ]
    for argv, message in cases:
        assert tool.main(argv) == 2, argv
        assert message in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'x.pth')
    assert not osp.exists(tmp_path / 'y.pth')
    # --force merges a non-adapter-only file (here: the whole PAD model)
    assert tool.main(['merge', str(d / 'base.pth'), str(d / 'full.pth'),
                      str(tmp_path / 'x.pth'), '--force']) == 0


def test_help():
    out = run_tool([TOOL, '--help']).stdout
    assert 'merge' in out and 'extract' in out
