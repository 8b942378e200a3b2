"""MMPadRunner checks ``load_from`` / ``resume`` checkpoints before loading them:
the wrong architecture or other adapter sizes stop training with one
CheckpointMismatchError (tools/train.py: one line, exit 2) instead of mmengine's
warning and a randomly initialised model. The legitimate partial loads train."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import save_checkpoint

import mmpad  # noqa: F401
from mmpad.core import CheckpointMismatchError
from mmpad_test_utils import REPO, run_tool

PAD_DEMO = 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py'
DET_DEMO = 'configs/foundation/retinanet_r18-tiny_flir-demo.py'


def _pad_cfg(demo_data, work_dir, monkeypatch, **options):
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)
    cfg = Config.fromfile(osp.join(REPO, PAD_DEMO))  # adapters: bottleneck 8
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.custom_hooks = []
    cfg.merge_from_dict(options)
    return cfg


def _save(state_dict, path, epoch=0):
    save_checkpoint({'meta': dict(epoch=epoch, iter=0),
                     'state_dict': state_dict}, str(path))
    return str(path)


def _model(cfg_model):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg_model.to_dict())


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    """Checkpoints for the demo's tiny PAD-MAE (bottleneck 8)."""
    from mmdet.models.backbones import ResNet
    d = tmp_path_factory.mktemp('ckpts')
    model_cfg = Config.fromfile(osp.join(REPO, PAD_DEMO)).model
    other = copy.deepcopy(model_cfg)
    other.adapter.bottleneck = 4
    return dict(
        stock=_save(_model(model_cfg.algorithm).state_dict(), d / 'mae_in1k.pth'),
        bottleneck4=_save(_model(other).state_dict(), d / 'pad_r4.pth'),
        resnet=_save(ResNet(depth=18).state_dict(), d / 'resnet18.pth'))


def _train_fails(cfg, match):
    runner = RUNNERS.build(cfg)
    with pytest.raises(CheckpointMismatchError, match=match) as err:
        runner.train()
    assert runner.iter == 0
    return str(err.value)


def test_load_from_with_other_adapter_bottleneck(ckpts, demo_data, tmp_path,
                                                 monkeypatch):
    message = _train_fails(
        _pad_cfg(demo_data, tmp_path, monkeypatch,
                 load_from=ckpts['bottleneck4']),
        'adapter bottleneck in checkpoint is 4, config has 8')
    assert ckpts['bottleneck4'] in message


def test_load_from_resnet_checkpoint_into_vit(ckpts, demo_data, tmp_path,
                                              monkeypatch):
    _train_fails(
        _pad_cfg(demo_data, tmp_path, monkeypatch, load_from=ckpts['resnet']),
        "no tensor name matches the model: this looks like a checkpoint of a "
        "different architecture \\(checkpoint keys look like 'conv1.weight'")


def test_stock_checkpoint_trains_and_opt_out_loads_anything(
        ckpts, demo_data, tmp_path, monkeypatch):
    runner = RUNNERS.build(_pad_cfg(demo_data, tmp_path / 'stock', monkeypatch,
                                    load_from=ckpts['stock']))
    runner.train()  # adapters keep their init (PAD)
    assert runner.iter == 3
    runner = RUNNERS.build(_pad_cfg(
        demo_data, tmp_path / 'forced', monkeypatch,
        load_from=ckpts['bottleneck4'], checkpoint_compat_check=False))
    runner.train()  # mmengine skips the adapters with a warning, as before
    assert runner.iter == 3


def test_resume(ckpts, demo_data, tmp_path, monkeypatch):
    # resuming from a checkpoint of another model (the stock MAE) fails ...
    _train_fails(
        _pad_cfg(demo_data, tmp_path / 'other', monkeypatch, resume=True,
                 load_from=ckpts['stock']),
        'resuming needs a checkpoint of this very model')
    # ... while a run's own checkpoint resumes
    work = tmp_path / 'own'
    RUNNERS.build(_pad_cfg(demo_data, work, monkeypatch)).train()
    runner = RUNNERS.build(_pad_cfg(
        demo_data, work, monkeypatch, resume=True,
        load_from=str(work / 'epoch_1.pth'), train_cfg=dict(max_epochs=2)))
    runner.train()
    assert runner.epoch == 2 and runner.iter == 6


def test_coco_detector_checkpoint_fine_tunes_three_classes(demo_data, tmp_path,
                                                           monkeypatch):
    """An 80-class detector checkpoint starting the 3-class FLIR detector:
    only the classifier differs; allowed."""
    from mmengine.registry import DefaultScope
    from mmdet.registry import MODELS
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)
    cfg = Config.fromfile(osp.join(REPO, DET_DEMO))
    coco = copy.deepcopy(cfg.model)
    coco.bbox_head.num_classes = 80
    with DefaultScope.overwrite_default_scope('mmdet'):
        state = MODELS.build(coco.to_dict()).state_dict()
    cfg.load_from = _save(state, tmp_path / 'retinanet_coco.pth')
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_cfg.max_iters = 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.optim_wrapper.optimizer.lr = 0.  # the step keeps the loaded weights
    runner = RUNNERS.build(cfg)
    runner.train()
    assert runner.iter == 1
    loaded = runner.model.state_dict()
    assert torch.equal(loaded['backbone.conv1.weight'],
                       state['backbone.conv1.weight'])


def test_train_tool_prints_one_line_and_exits_2(ckpts, demo_data, tmp_path):
    proc = run_tool(['tools/train.py', PAD_DEMO, '--work-dir', str(tmp_path),
                     '--cfg-options', f'load_from={ckpts["bottleneck4"]}'],
                    data_root=demo_data, check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: ')]
    assert len(errors) == 1
    assert errors[0].startswith(
        f'error: checkpoint {ckpts["bottleneck4"]} does not fit MAE: adapter '
        'bottleneck in checkpoint is 4, config has 8')


def test_test_tool_prints_one_line_and_exits_2(ckpts, demo_data, tmp_path):
    proc = run_tool(['tools/test.py', DET_DEMO, ckpts['resnet'], '--work-dir',
                     str(tmp_path)], data_root=demo_data, check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: ')]
    assert len(errors) == 1 and ckpts['resnet'] in errors[0]
    assert 'different architecture' in errors[0]


def test_runner_reads_through_the_one_reader():
    """MMPadRunner.load_checkpoint reads with mmpad's reader and loads with
    mmengine's public load_state_dict, not its private helpers."""
    from mmpad.core.checkpoint import reader
    from mmpad.engine import runner
    assert runner.read_checkpoint is reader.read_checkpoint
    assert runner.read_state_dict is reader.read_state_dict
    assert not hasattr(runner, '_load_checkpoint_to_model')
    assert not hasattr(runner, '_load_checkpoint')
