"""SOP end to end on generated infrared images, through the user's tools:
pre-train (tools/train.py, demo config) -> the pretext IoU beats box-prior baselines
computed here -> convert (tools/sop_to_seg.py) -> fine-tune the stock segmentor
(tools/train.py, load_from) -> mmseg IoUMetric better than the converted model's
before fine-tuning."""
import glob
import json
import os
import os.path as osp
import sys

import numpy as np
import torch

import mmpad  # noqa: F401
from mmpad.sop.metric import foreground_counts
from tests.helpers.mmpad_test_utils import REPO, run_tool

PRETRAIN = 'configs/sop/demo/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py'
FINETUNE = 'configs/sop/demo/finetune_deeplabv3plus-r18-tiny_soda-demo.py'


def _scalars(work_dir, key):
    path = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0]
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(r['step'], r[key]) for r in rows if key in r]


def _val_targets(demo_data):
    """The (seeded) pretext targets the validation of the pre-training saw."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    os.environ['MMPAD_DATA_ROOT'] = demo_data
    try:
        cfg = Config.fromfile(osp.join(REPO, PRETRAIN))
    finally:
        os.environ.pop('MMPAD_DATA_ROOT')
    init_default_scope('mmseg')
    ds = DATASETS.build(cfg.val_dataloader.dataset)
    return torch.stack([ds[i]['data_samples'].gt_sem_seg.data[0] for i in range(len(ds))])


def _iou_percent(pred, gts):
    """Data-set IoU (%) of a fixed (H, W) prediction, as SOPIoUMetric computes it."""
    counts = np.array([foreground_counts(pred, g) for g in gts]).sum(0)
    return 100 * counts[0] / counts[1]


def _centred_box(side, size):
    box = torch.zeros(size, size, dtype=torch.long)
    a = (size - side) // 2
    box[a:a + side, a:a + side] = 1
    return box


def _miou_of_checkpoint(ckpt, demo_data):
    """mmseg IoUMetric of FINETUNE's model with ``ckpt`` loaded, on its val set."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmseg.registry import DATASETS, METRICS, MODELS
    os.environ['MMPAD_DATA_ROOT'] = demo_data
    try:
        cfg = Config.fromfile(osp.join(REPO, FINETUNE))
    finally:
        os.environ.pop('MMPAD_DATA_ROOT')
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    load_checkpoint(model, ckpt, map_location='cpu', strict=False)
    model.eval()
    ds = DATASETS.build(cfg.val_dataloader.dataset)
    metric = METRICS.build(cfg.val_evaluator)
    metric.dataset_meta = ds.metainfo
    with torch.no_grad():
        for i in range(len(ds)):
            batch = pseudo_collate([ds[i]])
            metric.process(batch, [s.to_dict() for s in model.test_step(batch)])
    return metric.evaluate(len(ds))['mIoU']


def test_pretrain_convert_finetune(demo_data, tmp_path):
    pre_dir, ft_dir = str(tmp_path / 'pre'), str(tmp_path / 'ft')
    run_tool(['tools/train.py', PRETRAIN, '--work-dir', pre_dir], data_root=demo_data)

    # pretext IoU vs predictors that know only the box statistics
    pretext = _scalars(pre_dir, 'sop/IoU')
    assert [s for s, _ in pretext] == [200]
    iou = pretext[-1][1]
    gts = _val_targets(demo_data)
    size = gts.shape[-1]
    assert tuple(gts.shape) == (16, 64, 64)  # 4 held-out parents x 4 seeded boxes
    all_ones = _iou_percent(torch.ones(size, size, dtype=torch.long), gts)
    mean_side = int(round(0.325 * size))  # mean of the sampled side fraction
    centred = _iou_percent(_centred_box(mean_side, size), gts)
    best_centred = max(_iou_percent(_centred_box(s, size), gts)
                       for s in range(4, size + 1, 2))
    print(f'pretext IoU {iou:.1f} | all-ones {all_ones:.1f} | centred box '
          f'{centred:.1f} | best centred box {best_centred:.1f}')
    assert iou > max(all_ones, centred, best_centred) + 2

    # convert: the stock config's model accepts it with only conv_seg missing
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import sop_to_seg
    converted = str(tmp_path / 'sop_to_seg.pth')
    os.environ['MMPAD_DATA_ROOT'] = demo_data
    try:
        rc = sop_to_seg.main([osp.join(pre_dir, 'iter_200.pth'), converted,
                              '--check-config', osp.join(REPO, FINETUNE)])
    finally:
        os.environ.pop('MMPAD_DATA_ROOT')
    assert rc == 0

    # fine-tune the stock segmentor from it
    before = _miou_of_checkpoint(converted, demo_data)
    proc = run_tool(['tools/train.py', FINETUNE, '--work-dir', ft_dir,
                     '--cfg-options', f'load_from={converted}'], data_root=demo_data)
    assert 'missing keys in source state_dict: decode_head.conv_seg.weight, ' \
           'decode_head.conv_seg.bias' in proc.stdout + proc.stderr
    curve = _scalars(ft_dir, 'mIoU')
    assert [s for s, _ in curve] == [20, 40, 60]
    after = curve[-1][1]
    print(f'downstream mIoU before fine-tuning {before:.2f}, after {after:.2f}')
    assert np.isfinite(after) and after > before + 2
