"""tools/sop_to_seg.py: SOP checkpoint -> file that the stock config loads."""
import os.path as osp
import sys

import torch

import mmpad  # noqa: F401
from tests.sop.tiny_sop import build, deeplab_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
import sop_to_seg  # noqa: E402

DEMO_FT = osp.join(REPO, 'configs/sop/demo/finetune_deeplabv3plus-r18-tiny_soda-demo.py')


def _sop_checkpoint(path):
    """A runner-style checkpoint of the demo SOP model (same architecture)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/sop/demo/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py'))
    model = build(cfg.model)
    torch.save(dict(meta=dict(iter=5), state_dict=model.state_dict(),
                    optimizer=dict()), path)
    return model.state_dict()


def test_cli_converts_and_checks_against_stock_config(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('MMPAD_DATA_ROOT', str(tmp_path))
    src, dst = str(tmp_path / 'sop.pth'), str(tmp_path / 'out' / 'seg.pth')
    state = _sop_checkpoint(src)
    assert sop_to_seg.main([src, dst, '--check-config', DEMO_FT]) == 0
    out = capsys.readouterr().out
    assert 'only conv_seg missing' in out and 'sliced: backbone.stem.0.weight' in out
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['sop_to_seg']['fusion'] == 'early'
    conv = ckpt['state_dict']['backbone.stem.0.weight']
    torch.testing.assert_close(conv, 2 * state['backbone.stem.0.weight'][:, :3])
    assert not any('conv_seg' in k for k in ckpt['state_dict'])


def test_cli_rejects_bad_inputs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('MMPAD_DATA_ROOT', str(tmp_path))
    assert sop_to_seg.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'o.pth')]) == 2
    assert 'missing.pth' in capsys.readouterr().err
    junk = tmp_path / 'junk.pth'
    junk.write_bytes(b'not a checkpoint')
    assert sop_to_seg.main([str(junk), str(tmp_path / 'o.pth')]) == 2
    assert 'junk.pth' in capsys.readouterr().err
    stock = tmp_path / 'stock.pth'
    torch.save(dict(state_dict=build(deeplab_cfg(sop=False)).state_dict()), stock)
    assert sop_to_seg.main([str(stock), str(tmp_path / 'o.pth')]) == 2
    assert 'not an SOP checkpoint' in capsys.readouterr().err
    # converted weights that do not fit the config are refused (exit 3)
    src = str(tmp_path / 'sop.pth')
    torch.save(dict(state_dict=build(deeplab_cfg()).state_dict()), src)
    assert sop_to_seg.main([src, str(tmp_path / 'o.pth'), '--check-config', DEMO_FT]) == 3
    assert 'do not fit' in capsys.readouterr().err
    assert not (tmp_path / 'o.pth').exists()
