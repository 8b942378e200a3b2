"""Tiny PAD-MAE configs for the selfsup tests, taken from the demo config."""
import copy
import os.path as osp

import pytest

from mmpad_test_utils import REPO

DEMO_CFG = osp.join(REPO, 'configs', 'pad', 'demo', 'pad-mae_vit-tiny-p16_demo.py')

TINY_ARCH = dict(embed_dims=64, num_layers=3, num_heads=2,
                 feedforward_channels=128)
IMG = 64


@pytest.fixture(scope='session')
def demo_cfg():
    from mmengine.config import Config
    return Config.fromfile(DEMO_CFG)


@pytest.fixture
def tiny_mae(demo_cfg):
    """Stock tiny MAE algorithm config (the demo's wrapped algorithm, with the
    demo's MSIP data preprocessor as the Runner would pass it)."""
    cfg = copy.deepcopy(demo_cfg.model.algorithm.to_dict())
    cfg['data_preprocessor'] = demo_cfg.data_preprocessor.to_dict()
    return cfg


@pytest.fixture
def tiny_pad(demo_cfg):
    """The demo's ``type='PAD'`` model config."""
    cfg = copy.deepcopy(demo_cfg.model.to_dict())
    cfg['data_preprocessor'] = demo_cfg.data_preprocessor.to_dict()
    return cfg
