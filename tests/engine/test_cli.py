"""mmpad.engine.cli: the arguments and config shared by tools/train.py and
tools/test.py."""
import argparse
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmpad.engine.cli import add_runner_args, parse_runner_args, runner_config


def _parser():
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('--work-dir')
    return add_runner_args(parser)


@pytest.fixture
def config(tmp_path):
    path = str(tmp_path / 'my_config.py')
    Config(dict(a=1, nested=dict(b=2))).dump(path)
    return path


def test_runner_args_and_local_rank(monkeypatch, config):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_runner_args(_parser(), [config, '--local-rank', '3',
                                         '--launcher', 'pytorch',
                                         '--cfg-options', 'nested.b=5'])
    assert (args.local_rank, args.launcher) == (3, 'pytorch')
    assert args.cfg_options == {'nested.b': 5}
    assert os.environ['LOCAL_RANK'] == '3'
    # a launcher's LOCAL_RANK wins over the flag
    monkeypatch.setenv('LOCAL_RANK', '1')
    parse_runner_args(_parser(), [config, '--local_rank', '2'])
    assert os.environ['LOCAL_RANK'] == '1'
    with pytest.raises(SystemExit):
        parse_runner_args(_parser(), [config, '--launcher', 'ssh'])


def test_runner_config(monkeypatch, config, tmp_path):
    monkeypatch.setenv('LOCAL_RANK', '0')
    cfg = runner_config(parse_runner_args(_parser(), [
        config, '--cfg-options', 'nested.b=5', 'runner_type=Runner']))
    assert cfg.nested.b == 5 and cfg.launcher == 'none'
    assert cfg.work_dir == osp.join('./work_dirs', 'my_config')
    assert cfg.runner_type == 'Runner'  # --cfg-options set it: kept
    cfg = runner_config(parse_runner_args(_parser(), [
        config, '--work-dir', str(tmp_path / 'w')]))
    assert cfg.work_dir == str(tmp_path / 'w')
    assert cfg.runner_type == 'MMPadRunner'
    # a work_dir in the config is kept when --work-dir is not given
    cfg = runner_config(parse_runner_args(_parser(), [
        config, '--cfg-options', 'work_dir=/elsewhere']))
    assert cfg.work_dir == '/elsewhere'
