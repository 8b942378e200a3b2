"""A PAD config built on a stock ``mmpretrain::`` config, as docs/pad.md shows it,
trains: the ``_scope_`` that mmengine's config adds to the inherited
``collate_fn=dict(type='default_collate')`` is dropped by MMPadRunner (mmengine's
Runner passes it to the function: ``default_collate() got an unexpected keyword
argument '_scope_'``), and the config check refuses it for mmengine's Runner,
naming the field and the fix."""
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmpad  # noqa: F401
from mmpad.core import ConfigError, check_config
from mmpad.engine.runner import MMPadRunner, resolve_function_scopes
from mmpad_test_utils import load_module, run_tool

STOCK = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'


def _user_configs(tmp_path, demo_data) -> str:
    """What a user writes: a tiny MAE on the stock config, and the PAD config of
    docs/pad.md on top of it, starting from a (tiny) MAE checkpoint."""
    (tmp_path / 'tiny_mae.py').write_text(textwrap.dedent(f"""
        _base_ = ['{STOCK}']
        custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
        model = dict(
            backbone=dict(arch=dict(_delete_=True, embed_dims=64, num_layers=2,
                                    num_heads=2, feedforward_channels=128),
                          img_size=64, patch_size=16),
            neck=dict(num_patches=16, embed_dim=64, decoder_embed_dim=32,
                      decoder_depth=1, decoder_num_heads=2, mlp_ratio=2.))
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            pin_memory=False, num_batch_per_epoch=2,
            dataset=dict(_delete_=True, type='MSIPDataset',
                         data_root='{demo_data}/msip/',
                         pipeline=[dict(type='LoadImageFromFile'),
                                   dict(type='RandomResizedCrop', scale=64,
                                        crop_ratio_range=(0.2, 1.0)),
                                   dict(type='PackInputs')]))
        optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                             optimizer=dict(type='AdamW', lr=1e-3))
        param_scheduler = []
        train_cfg = dict(max_epochs=1)
        """))
    (tmp_path / 'pad_user.py').write_text(textwrap.dedent("""
        _base_ = ['./tiny_mae.py']
        custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
        model = dict(
            _delete_=True,
            type='PAD',
            algorithm={{_base_.model}},
            adapter=dict(bottleneck=8, dropout=0.1, scale_mode='concat'))
        model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                 find_unused_parameters=True)
        custom_hooks = [
            dict(type='DelayedScaleHook', ratio=0.6),
            dict(type='AdapterCheckpointHook', interval=1, save_last=True),
        ]
        load_from = '{tmp_path}/mae_tiny.pth'
        resume = False  # the stock MAE config auto-resumes; start from load_from
        """).replace('{tmp_path}', str(tmp_path)))
    # the stand-in for the ImageNet MAE checkpoint: the tiny stock MAE's weights
    from mmpretrain.registry import MODELS
    tiny = Config.fromfile(str(tmp_path / 'tiny_mae.py'))
    torch.manual_seed(0)
    mae = MODELS.build(tiny.model)
    torch.save(dict(state_dict=mae.state_dict()), str(tmp_path / 'mae_tiny.pth'))
    return str(tmp_path / 'pad_user.py')


@pytest.fixture
def pad_cfg(tmp_path, demo_data):
    return _user_configs(tmp_path, demo_data)


def test_stock_base_adds_scope_and_stock_runner_would_fail(pad_cfg):
    """Control: the inherited collate_fn does carry `_scope_`, and mmengine's
    Runner.build_dataloader turns it into the reported TypeError."""
    cfg = Config.fromfile(pad_cfg)
    assert cfg.train_dataloader.collate_fn._scope_ == 'mmpretrain'
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    with pytest.raises(TypeError, match="unexpected keyword argument '_scope_'"):
        next(iter(loader))
    # MMPadRunner's dataloader: the same config gives a stacked batch
    batch = next(iter(MMPadRunner.build_dataloader(cfg.train_dataloader, seed=0)))
    assert batch['inputs'].shape == (2, 3, 64, 64)
    assert '_scope_' in cfg.train_dataloader.collate_fn  # the config is unchanged


def test_unknown_function_in_scope_names_the_field():
    loader = dict(collate_fn=dict(type='no_such_collate', _scope_='mmpretrain'))
    with pytest.raises(ConfigError, match=r'train_dataloader\.collate_fn\.type'):
        resolve_function_scopes(loader, 'train_dataloader')


def test_pad_on_stock_mmpretrain_config_trains_two_iterations(pad_cfg, tmp_path):
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', pad_cfg, '--work-dir', str(work)],
                    timeout=600, hang_note='measured: about 20 s')
    log = proc.stdout + proc.stderr
    assert 'Epoch(train) [1][2/2]' in log, log[-3000:]  # 2 iterations
    assert (work / 'epoch_1.pth').is_file()
    assert 'Load checkpoint from' in log  # the frozen encoder got the MAE weights


def test_stock_runner_is_refused_with_the_field_and_the_fix(pad_cfg, tmp_path,
                                                            capsys):
    cfg = Config.fromfile(pad_cfg)
    cfg.runner_type = 'Runner'
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    msg = str(err.value)
    assert 'train_dataloader.collate_fn' in msg and "_scope_='mmpretrain'" in msg
    assert "runner_type = 'MMPadRunner'" in msg and '_delete_=True' in msg
    # the same through tools/train.py's main (in this process; the subprocess run
    # of the tool is the training test above): one message, exit 2, nothing built
    train = load_module('tools/train.py')
    work = tmp_path / 'w'
    with pytest.raises(SystemExit) as code:
        train.main([pad_cfg, '--work-dir', str(work),
                    '--cfg-options', 'runner_type=Runner'])
    err = capsys.readouterr().err
    assert code.value.code == 2, err[-3000:]
    assert 'train_dataloader.collate_fn' in err and not work.exists()
    # control: MMPadRunner (the default of tools/train.py) is not refused
    cfg.runner_type = 'MMPadRunner'
    check_config(cfg)
