"""mmpad.engine.inference.init_model: config -> model -> checkpoint, outside a
Runner (tools/visualize_mae.py, tools/visualize_sop.py)."""
import pytest
import torch
from mmengine.config import Config

import mmpad  # noqa: F401
from mmpad.engine.inference import init_model, load_config

TINY = dict(
    default_scope='mmpretrain',
    model=dict(type='ImageClassifier', backbone=dict(type='LeNet5', num_classes=3)),
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=[1., 2., 3.],
                           std=[4., 5., 6.]))


def test_load_config_merges_options_into_a_copy(tmp_path):
    cfg = Config(TINY)
    merged = load_config(cfg, {'model.backbone.num_classes': 5})
    assert merged.model.backbone.num_classes == 5
    assert cfg.model.backbone.num_classes == 3
    path = str(tmp_path / 'tiny.py')
    cfg.dump(path)
    assert load_config(path).model.backbone.num_classes == 3


def test_init_model_loads_the_weights_in_eval_mode(tmp_path):
    reference = init_model(Config(TINY))
    for p in reference.parameters():
        p.data.normal_()
    ckpt = str(tmp_path / 'w.pth')
    torch.save(dict(state_dict=reference.state_dict()), ckpt)
    model = init_model(Config(TINY), ckpt)
    assert not model.training
    for name, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    # the config's top-level data_preprocessor, as the Runner does
    assert model.data_preprocessor.mean.view(-1).tolist() == [1., 2., 3.]
    assert model.cfg.model.backbone.num_classes == 3


def test_init_model_options_and_explicit_scope():
    model = init_model(Config(TINY), cfg_options={'model.backbone.num_classes': 7},
                       scope='mmpretrain')
    assert model.backbone.classifier[-1].out_features == 7
    assert model.cfg.model.backbone.num_classes == 7


def test_missing_checkpoint_fails_before_building(tmp_path):
    broken = Config(dict(TINY, model=dict(type='NoSuchModel')))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_model(broken, str(tmp_path / 'nope.pth'))
