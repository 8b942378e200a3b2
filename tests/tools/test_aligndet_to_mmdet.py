"""tools/aligndet_to_mmdet.py: pre-training checkpoint -> weights a stock mmdet
detector of the same family loads, with only classifier / regressor layers (and
heads that are not pre-trained, e.g. the mask head) missing."""
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmdet.registry import MODELS
from tools import aligndet_to_mmdet as converter

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'aligndet'))
from aligndet_tiny_detectors import (FAMILIES, pretrainer_cfg,  # noqa: E402
                                     stock_detector)

DROPPED_LAYERS = ('retina_cls', 'retina_reg', 'conv_cls', 'conv_reg',
                  'conv_centerness', 'fc_cls', 'fc_reg')


@pytest.fixture(autouse=True)
def _mmdet_scope():
    """The pre-trainer builds its data preprocessor through the default scope."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def _pretrain_checkpoint(family, path):
    torch.manual_seed(0)
    model = MODELS.build(pretrainer_cfg(FAMILIES[family]()))
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=3)), path)
    return model


def _config_file(family, tmp_path):
    path = osp.join(tmp_path, f'{family}_finetune.py')
    Config(dict(model=stock_detector(family), default_scope='mmdet')).dump(path)
    return path


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_converted_weights_load_into_stock_detector(family, tmp_path, capsys):
    src, dst = str(tmp_path / 'pre.pth'), str(tmp_path / 'det.pth')
    pretrainer = _pretrain_checkpoint(family, src)
    config = _config_file(family, tmp_path)

    assert converter.main([src, dst, '--config', config]) == 0
    out = capsys.readouterr().out
    assert 'dropped target (momentum detector)' in out and 'missing' in out

    converted = torch.load(dst, weights_only=True)['state_dict']
    assert not any(k.startswith(('online.', 'target.')) for k in converted)
    assert not any('projector' in k for k in converted)
    check = converter.check_against_config(converted, config)
    not_pretrained = ('mask_head', )  # trained from scratch at fine-tuning
    assert [k for k in check['missing']
            if not any(d in k.split('.') for d in DROPPED_LAYERS + not_pretrained)
            ] == []
    assert check['unexpected'] == [] and check['shape_mismatch'] == []

    stock = MODELS.build(Config.fromfile(config).model)
    load_checkpoint(stock, dst, map_location='cpu', strict=False)
    online = pretrainer.online.state_dict()
    loaded = stock.state_dict()
    neck_and_heads = [k for k in converted if not k.startswith('backbone.')]
    assert len(neck_and_heads) > 0
    for key in converted:
        assert torch.equal(loaded[key], online[key]), key


def test_rejects_non_aligndet_checkpoint(tmp_path, capsys):
    src = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.ones(1)}), src)
    assert converter.main([src, str(tmp_path / 'out.pth')]) == 2
    assert "no key starts with 'online.'" in capsys.readouterr().err
    assert converter.main([str(tmp_path / 'missing.pth'), 'x.pth']) == 2
