"""AlignDet end to end on the generated FLIR-style images: selective-search
proposals -> box-domain pre-training (tools/train.py, and mmdet's own train script
through `mim train mmdet`) -> conversion -> fine-tuning with CocoMetric."""
import glob
import json
import os.path as osp
import re

import torch

from mmpad_test_utils import REPO, run_tool, selective_search_proposals

PRETRAIN_CFG = osp.join(
    REPO, 'configs/aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py')
FINETUNE_CFG = osp.join(
    REPO, 'configs/aligndet/demo/retinanet_r18-tiny_flir-demo_aligndet.py')


def _log(work_dir):
    (path, ) = glob.glob(osp.join(work_dir, '*', '*.log'))
    return open(path).read()


def _logged(text, key):
    """Values of ``key`` in the runner's log lines, in order."""
    return [float(v) for v in re.findall(re.escape(key) + r': ([-0-9.e]+)', text)]


def _proposals(demo_data, out):
    selective_search_proposals(demo_data, out)
    data = json.load(open(out))
    assert [c['name'] for c in data['categories']] == ['selective_search']
    assert len(data['images']) == 8 and len(data['annotations']) > 8
    return out


def test_proposals_pretrain_convert_finetune(demo_data, tmp_path, monkeypatch,
                                            capsys):
    from tools import aligndet_to_mmdet
    from tools.train import main as train
    monkeypatch.setenv('MMPAD_DATA_ROOT', demo_data)
    proposals = _proposals(demo_data, str(tmp_path / 'proposals.json'))

    pre = str(tmp_path / 'pretrain')
    train([PRETRAIN_CFG, '--work-dir', pre, '--cfg-options',
           'train_cfg.max_iters=8', 'default_hooks.checkpoint.interval=8',
           'default_hooks.logger.interval=2',
           f'train_dataloader.dataset.ann_file={proposals}'])
    text = _log(pre)
    momenta = _logged(text, 'target_momentum')
    assert len(momenta) == 4
    assert momenta == sorted(momenta) and 0.996 <= momenta[0] < momenta[-1] <= 1
    assert all(loss > 0 for loss in _logged(text, 'loss_contrast'))
    ckpt = torch.load(osp.join(pre, 'iter_8.pth'), map_location='cpu',
                      weights_only=False)['state_dict']
    neck = 'neck.fpn_convs.0.conv.weight'
    assert not torch.equal(ckpt['online.' + neck], ckpt['target.' + neck])
    backbone = [k for k in ckpt if k.startswith('online.backbone.')]
    assert backbone and all(torch.equal(
        ckpt[k], ckpt[k.replace('online.', 'target.', 1)]) for k in backbone)

    converted = str(tmp_path / 'aligndet_mmdet.pth')
    assert aligndet_to_mmdet.main([osp.join(pre, 'iter_8.pth'), converted,
                                   '--config', FINETUNE_CFG]) == 0

    fine = str(tmp_path / 'finetune')
    capsys.readouterr()
    train([FINETUNE_CFG, '--work-dir', fine, '--cfg-options',
           f'load_from={converted}', 'train_cfg.max_iters=6',
           'train_cfg.val_interval=6', 'default_hooks.checkpoint.interval=6',
           'model.test_cfg.score_thr=0.0'])
    text = _log(fine)
    assert f'Load checkpoint from {converted}' in text
    (mean_ap, ) = _logged(text, 'coco/bbox_mAP')
    assert 0.0 <= mean_ap <= 1.0
    # only the dropped classifier / regressor start from scratch (mmengine
    # prints the non-strict load's report)
    printed = capsys.readouterr().out
    (missing, ) = [line for line in printed.splitlines()
                   if line.startswith('missing keys in source state_dict')]
    assert sorted(missing.split(': ', 1)[1].split(', ')) == [
        'bbox_head.retina_cls.bias', 'bbox_head.retina_cls.weight',
        'bbox_head.retina_reg.bias', 'bbox_head.retina_reg.weight']
    assert 'unexpected key' not in printed


def test_pretrain_through_mim_train_mmdet(demo_data, tmp_path):
    proposals = _proposals(demo_data, str(tmp_path / 'proposals.json'))
    run_tool(['mim', 'train', 'mmdet', PRETRAIN_CFG, '--gpus', '0',
              '--work-dir', str(tmp_path / 'w'), '--cfg-options',
              'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2',
              f'train_dataloader.dataset.ann_file={proposals}'],
             data_root=demo_data)
    state = torch.load(tmp_path / 'w' / 'iter_2.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert any(k.startswith('online.neck.') for k in state)
    assert any(k.startswith('target.bbox_head.retina_cls.') for k in state)
