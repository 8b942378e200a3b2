"""Config mistakes fail early with the field's name, not deep in a worker."""
import os.path as osp

import pytest
from mmengine.config import Config

import mmpad  # noqa: F401
from mmpad.core import ConfigError, check_config
from mmpad_test_utils import REPO, run_tool

DEMO_CFG = osp.join(REPO, 'configs/foundation/retinanet_r18-tiny_flir-demo.py')


@pytest.fixture
def demo_cfg(demo_data, monkeypatch):
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)
    return Config.fromfile(DEMO_CFG)


def test_valid_config_passes(demo_cfg):
    check_config(demo_cfg)


def test_misspelled_type_names_the_field(demo_cfg):
    demo_cfg.model.backbone.type = 'ResNett'
    with pytest.raises(ConfigError) as err:
        check_config(demo_cfg)
    msg = str(err.value)
    assert 'model.backbone.type' in msg and "'ResNett'" in msg
    assert "Did you mean 'ResNet'" in msg


def test_misspelled_transform_names_its_index(demo_cfg):
    demo_cfg.train_dataloader.dataset.pipeline[2].type = 'Resise'
    with pytest.raises(ConfigError, match=r'train_dataloader\.dataset\.pipeline\[2\]\.type'):
        check_config(demo_cfg)


def test_missing_data_root_names_the_path(demo_cfg, tmp_path):
    missing = str(tmp_path / 'no_such_flir')
    demo_cfg.train_dataloader.dataset.data_root = missing
    with pytest.raises(ConfigError) as err:
        check_config(demo_cfg)
    assert 'train_dataloader.dataset.data_root' in str(err.value)
    assert missing in str(err.value)


def test_train_tool_reports_config_errors_briefly(demo_data, tmp_path):
    proc = run_tool(['tools/train.py', DEMO_CFG, '--work-dir', str(tmp_path),
                     '--cfg-options', 'model.neck.type=FPNN'],
                    data_root=demo_data, check=False)
    assert proc.returncode == 2
    assert 'model.neck.type' in proc.stderr and "'FPN'" in proc.stderr
    assert 'Traceback' not in proc.stderr
    proc = run_tool(['tools/train.py', DEMO_CFG, '--work-dir', str(tmp_path)],
                    data_root=str(tmp_path / 'nowhere'), check=False)
    assert proc.returncode == 2
    assert 'data_root' in proc.stderr and 'nowhere' in proc.stderr
    assert 'Traceback' not in proc.stderr
