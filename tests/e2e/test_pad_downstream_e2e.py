"""PAD end to end on generated infrared data, through the real tools:

PAD pre-training (configs/pad/demo, tools/train.py) -> tools/convert_pad_checkpoint.py
-> fine-tuning (configs/pad/downstream/demo, tools/train.py) -> evaluation
(tools/test.py, mmdet CocoMetric / mmseg IoUMetric). The fine-tuned model must beat
its own untrained initialisation (the converted backbone + freshly initialised
heads, built by the same Runner) on the generated validation split.

The tools run in this process (their ``main``) to save the ~6 s import of the
OpenMMLab stack per call; tests/tools cover the command-line behaviour.
"""
import json
import os.path as osp

import pytest
import torch

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
import mmpad  # noqa: F401,E402
from mmengine.registry import RUNNERS  # noqa: E402

from mmpad.datasets.synthetic import generate_all  # noqa: E402

from mmpad_test_utils import REPO, load_module  # noqa: E402
DEMO = osp.join(REPO, 'configs/pad/downstream/demo')
PAD_DEMO = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')


def _tool(name):
    return load_module(f'tools/{name}.py')


train_tool, test_tool, convert_tool = (
    _tool('train'), _tool('test'), _tool('convert_pad_checkpoint'))


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('pad_downstream_data'))
    generate_all(root, seed=0, preset='default')
    return root


@pytest.fixture(scope='module')
def converted(tmp_path_factory, data_root):
    """PAD demo pre-training (4 blocks, 2 epochs), converted for det and seg."""
    work = tmp_path_factory.mktemp('pad_pretrain')
    train_tool.main([
        PAD_DEMO, '--work-dir', str(work), '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}/msip',
        'model.algorithm.backbone.arch.num_layers=4', 'train_cfg.max_epochs=2',
        'default_hooks.checkpoint.interval=2'
    ])
    ckpt = str(work / 'epoch_2.pth')
    pre = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert pre['backbone.layers.3.adapter.up.weight'].any()  # adapters trained
    out = {}
    for target in ('det', 'seg'):
        out[target] = str(work / f'pad_{target}.pth')
        assert convert_tool.main([
            ckpt, out[target], '--target', target, '--num-heads', '2',
            '--bottleneck', '8'
        ]) == 0
    return out


def _evaluate(config, checkpoint, work_dir, options):
    metrics_file = osp.join(work_dir, 'metrics.json')
    test_tool.main([config, checkpoint, '--work-dir', work_dir,
                    '--metrics-out', metrics_file, '--cfg-options', *options])
    with open(metrics_file) as f:
        return json.load(f)


def _finetune_and_compare(config, pretrained, tmp_path, monkeypatch, data_root,
                          metric):
    monkeypatch.setenv('MMPAD_DATA_ROOT', data_root)
    config = osp.join(DEMO, config)
    options = [f'model.backbone.init_cfg.checkpoint={pretrained}']

    # the untrained initialisation, built and initialised by the Runner itself
    args = train_tool.parse_args([config, '--work-dir', str(tmp_path / 'init'),
                                  '--cfg-options', *options])
    runner = RUNNERS.build(train_tool.build_cfg(args))
    runner.model.init_weights()
    backbone = runner.model.backbone
    adapter = backbone.layers[0].adapter
    src = torch.load(pretrained, map_location='cpu')['state_dict']
    assert torch.equal(adapter.down.weight, src['layers.0.adapter.down.weight'])
    init_ckpt = str(tmp_path / 'init.pth')
    torch.save(dict(state_dict=runner.model.state_dict(), meta=dict()),
               init_ckpt)
    before = _evaluate(config, init_ckpt, str(tmp_path / 'init'), options)

    train_tool.main([config, '--work-dir', str(tmp_path / 'ft'),
                     '--no-validate', '--cfg-options', *options])
    with open(tmp_path / 'ft' / 'last_checkpoint') as f:
        final = f.read().strip()
    after = _evaluate(config, final, str(tmp_path / 'ft'), options)
    print(f'{osp.basename(config)}: {metric} {before[metric]:.4f} at '
          f'initialisation -> {after[metric]:.4f} fine-tuned')
    assert after[metric] > before[metric], (before, after)


def test_flir_detection(converted, data_root, tmp_path, monkeypatch):
    _finetune_and_compare('faster-rcnn_vit-tiny-pad_simplefpn_flir-demo.py',
                          converted['det'], tmp_path, monkeypatch, data_root,
                          'coco/bbox_mAP_50')


def test_soda_segmentation(converted, data_root, tmp_path, monkeypatch):
    _finetune_and_compare('upernet_mae-tiny-pad_soda-demo.py', converted['seg'],
                          tmp_path, monkeypatch, data_root, 'mIoU')


def test_mfnet_segmentation(converted, data_root, tmp_path, monkeypatch):
    _finetune_and_compare('upernet_mae-tiny-pad_mfnet-demo.py',
                          converted['seg'], tmp_path, monkeypatch, data_root,
                          'mIoU')
