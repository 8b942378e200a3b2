"""Configs that would run but silently do the wrong thing, or fail late: the config
check refuses them before the model is built, naming the field and the fix.

* a ``type='PAD'`` model with neither ``load_from`` nor a Pretrained ``init_cfg``
  (adapters around a random frozen encoder);
* ``FLIRDataset(split=...)`` under an ``ann_file`` / ``data_prefix`` inherited from
  mmdet's stock COCO dataset config;
* a ``load_from`` / ``--resume`` / ``init_cfg.checkpoint`` file that does not exist.
"""
import os.path as osp
import textwrap

import pytest
import torch
from mmengine.config import Config

import mmpad  # noqa: F401
from mmpad.core import ConfigError, check_config
from mmpad_test_utils import REPO, load_module, run_tool

PAD_FULL = osp.join(REPO, 'configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py')
PAD_DEMO = 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py'
DET_DEMO = 'configs/pad/downstream/demo/faster-rcnn_vit-tiny-pad_simplefpn_flir-demo.py'


def _write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def _errors(cfg, **kw) -> str:
    with pytest.raises(ConfigError) as err:
        check_config(cfg, **kw)
    return str(err.value)


# ------------------------------------------------------ PAD needs start weights
def test_pad_without_start_weights_is_refused(tmp_path):
    """A user's PAD config on the shipped one, with the ImageNet checkpoint left
    out (load_from = None)."""
    cfg = Config.fromfile(_write(tmp_path, 'my_pad.py', f"""
        _base_ = ['{PAD_FULL}']
        load_from = None
        """))
    msg = _errors(cfg, data=False)
    assert 'load_from' in msg and 'model.algorithm.backbone.init_cfg' in msg
    assert 'random' in msg and 'allow_random_frozen_encoder = True' in msg
    # controls: each way of giving the encoder its weights is accepted
    ckpt = str(tmp_path / 'mae.pth')
    torch.save(dict(state_dict={}), ckpt)
    cfg.load_from = ckpt
    check_config(cfg, data=False)
    cfg.load_from = None
    cfg.model.algorithm.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=ckpt, prefix='backbone.')
    check_config(cfg, data=False, training=True)
    cfg.model.algorithm.backbone.init_cfg = None
    cfg.allow_random_frozen_encoder = True
    check_config(cfg, data=False)
    # resume = True (the stock MAE configs set it) in a new work dir starts from
    # random weights too; with a checkpoint there it continues that run
    cfg.allow_random_frozen_encoder = False
    cfg.resume = True
    cfg.work_dir = str(tmp_path / 'work')
    assert 'model.algorithm.backbone.init_cfg' in _errors(cfg, data=False)
    (tmp_path / 'work').mkdir()
    torch.save(dict(state_dict={}), str(tmp_path / 'work' / 'epoch_3.pth'))
    check_config(cfg, data=False)
    cfg.resume = False
    # nothing frozen (frozen=[]): a random start is an ordinary from-scratch run
    cfg.allow_random_frozen_encoder = False
    cfg.model.frozen = []
    check_config(cfg, data=False)


def test_train_tool_refuses_the_demo_without_its_opt_out(demo_data, tmp_path):
    """The demo config opts out (its hook tests train from random weights);
    switched back on, tools/train.py stops before building anything."""
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', PAD_DEMO, '--work-dir', str(work),
                     '--cfg-options', 'allow_random_frozen_encoder=False'],
                    data_root=demo_data, check=False, timeout=300,
                    hang_note='measured: about 8 s')
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'model.algorithm.backbone.init_cfg' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not work.exists() or not any(work.iterdir())  # no Runner was built


# --------------------------------------------------------- FLIR split vs COCO
def _flir_on_coco(tmp_path, demo_data, extra: str = '') -> Config:
    root = osp.join(demo_data, 'flir')
    return Config.fromfile(_write(tmp_path, 'my_flir.py', f"""
        _base_ = ['mmdet::_base_/datasets/coco_detection.py',
                  'mmdet::_base_/default_runtime.py']
        custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
        train_dataloader = dict(
            dataset=dict(type='FLIRDataset', data_root='{root}/', split='train'
                         {extra}))
        val_dataloader = None
        val_evaluator = None
        test_dataloader = None
        test_evaluator = None
        """))


def test_flir_split_under_inherited_coco_ann_file_is_refused(tmp_path, demo_data):
    cfg = _flir_on_coco(tmp_path, demo_data)
    # what the user did not see: the stock COCO paths are inherited
    assert cfg.train_dataloader.dataset.ann_file.endswith('instances_train2017.json')
    msg = _errors(cfg)
    assert 'train_dataloader.dataset.split' in msg and 'ann_file' in msg
    assert 'instances_train2017.json' in msg and 'data_prefix' in msg
    assert 'train/thermal_annotations.json' in msg and 'ann_file=None' in msg
    # the dataset itself refuses too (a config built without the check)
    from mmdet.registry import DATASETS
    ds = cfg.train_dataloader.dataset.to_dict()
    ds.pop('_scope_', None)
    with pytest.raises(ValueError, match=r"split.*ann_file"):
        DATASETS.build(dict(ds, ann_file=ds['ann_file']))


def test_flir_split_drives_the_paths_when_they_are_cleared(tmp_path, demo_data):
    """Control: ann_file=None, data_prefix=None let split fill both; the FLIR
    train annotations are loaded."""
    cfg = _flir_on_coco(tmp_path, demo_data, ', ann_file=None, data_prefix=None')
    check_config(cfg)
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    ds = cfg.train_dataloader.dataset.to_dict()
    ds.pop('_scope_', None)
    dataset = DATASETS.build(ds)
    assert dataset.ann_file.endswith(osp.join('train', 'thermal_annotations.json'))
    assert len(dataset) > 0
    assert dataset[0]['data_samples'].img_path.startswith(
        osp.join(demo_data, 'flir', 'train'))


# ------------------------------------------------- missing checkpoint files
def _train_tool():
    return load_module('tools/train.py')


@pytest.mark.parametrize('option', ['load_from', 'resume', 'init_cfg'])
def test_missing_checkpoint_is_named_before_the_model_is_built(
        option, demo_data, tmp_path, monkeypatch, capsys):
    missing = str(tmp_path / 'no_such_dir' / 'weights.pth')
    work = tmp_path / 'work'
    if option == 'load_from':
        args = [PAD_DEMO, '--cfg-options', f'load_from={missing}']
        field = 'load_from'
    elif option == 'resume':
        args = [PAD_DEMO, '--resume', missing]
        field = 'load_from: the checkpoint to resume'
    else:
        args = [DET_DEMO, '--cfg-options',
                f'model.backbone.init_cfg.checkpoint={missing}']
        field = 'model.backbone.init_cfg.checkpoint'
    # tools/train.py's main, in this process (the subprocess run of the same
    # entry point is test_train_tool_refuses_the_demo_without_its_opt_out)
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)
    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit) as code:
        _train_tool().main(args + ['--work-dir', str(work)])
    err = capsys.readouterr().err
    assert code.value.code == 2, err[-3000:]
    assert field in err and missing in err and 'does not exist' in err
    assert not work.exists() or not any(work.iterdir())  # no Runner was built


def test_existing_checkpoints_and_urls_pass(tmp_path, demo_data, monkeypatch):
    """Control: the same fields with an existing file, or a URL (downloaded by
    mmengine later), are not refused."""
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)
    ckpt = str(tmp_path / 'w.pth')
    torch.save(dict(state_dict={}), ckpt)
    cfg = Config.fromfile(osp.join(REPO, DET_DEMO))
    for value in (ckpt, 'https://download.openmmlab.com/x.pth'):
        cfg.load_from = value
        cfg.model.backbone.init_cfg.checkpoint = value
        check_config(cfg, training=True)
    gone = str(tmp_path / 'gone.pth')
    cfg.model.backbone.init_cfg.checkpoint = gone
    check_config(cfg)  # testing (tools/test.py): init_cfg is not read
    check_config(cfg, data=False, training=True)  # nothing on disk checked
    msg = _errors(cfg, training=True)
    assert 'model.backbone.init_cfg.checkpoint' in msg and gone in msg
