"""The launchers users run: dist_train.sh (2 gloo processes), mim train, a stock mmdet
config with `custom_imports=['mmpad']`, and tools/test.py."""
import glob
import json
import os
import os.path as osp


from mmpad_test_utils import REPO, free_port, run_tool

DEMO_CFG = osp.join(REPO, 'configs/foundation/retinanet_r18-tiny_flir-demo.py')
HELPERS = osp.join(REPO, 'tests', 'helpers')


def test_dist_train_two_gloo_processes(demo_data, tmp_path):
    cfg = tmp_path / 'dist_cfg.py'
    marks = tmp_path / 'marks'
    cfg.write_text(
        f"_base_ = ['{DEMO_CFG}']\n"
        "custom_imports = dict(imports=['mmpad', 'rank_marker'], "
        "allow_failed_imports=False)\n"
        f"custom_hooks = [dict(type='RankMarkerHook', out_dir='{marks}')]\n"
        "train_cfg = dict(max_iters=4, val_interval=1000)\n"
        "default_hooks = dict(checkpoint=dict(interval=4))\n")
    work = tmp_path / 'work'
    run_tool(['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir', str(work)],
             data_root=demo_data,
             env={'PYTHON': os.sys.executable, 'PORT': free_port(),
                  'PYTHONPATH': HELPERS})
    ranks = [json.load(open(marks / f'rank{r}.json')) for r in (0, 1)]
    for r, mark in enumerate(ranks):
        assert mark['rank'] == r and mark['world_size'] == 2
        assert mark['iters'] == 4
    # in the first epoch (8 images, 2 ranks x batch 2 x 2 iters) the distributed
    # sampler gave each rank its own shard of the data
    first = [set(m['samples'][:4]) for m in ranks]
    assert len(first[0]) == len(first[1]) == 4 and first[0].isdisjoint(first[1])
    # exactly one set of checkpoints, written by rank 0
    assert sorted(osp.basename(p) for p in glob.glob(str(work / '*.pth'))) == \
        ['iter_4.pth']
    logs = glob.glob(str(work / '*' / '*.log'))
    assert len(logs) == 1
    assert 'Distributed training: True' in open(logs[0]).read()


def test_mim_train_mmdet(demo_data, tmp_path):
    run_tool(['mim', 'train', 'mmdet', DEMO_CFG, '--gpus', '0',
              '--work-dir', str(tmp_path), '--cfg-options',
              'train_cfg.max_iters=2', 'train_cfg.val_interval=1000',
              'default_hooks.checkpoint.interval=2'], data_root=demo_data)
    assert osp.isfile(tmp_path / 'iter_2.pth')


def _stock(name):
    import mmdet
    return osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', name)


def test_stock_mmdet_config_with_custom_imports(demo_data, tmp_path):
    """A stock mmdet config + custom_imports trains 1 iteration through mmdet's own
    train script, then resumes (which needs mmpad's checkpoint loading)."""
    import mmdet
    stock = _stock('retinanet/retinanet_r18_fpn_1x_coco.py')
    assert osp.isfile(stock)
    flir = osp.join(demo_data, 'flir')
    cfg = tmp_path / 'stock_plus_mmpad.py'
    cfg.write_text(
        f"_base_ = ['{stock}']\n"
        "custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)\n"
        "model = dict(backbone=dict(init_cfg=None), bbox_head=dict(num_classes=3))\n"
        "train_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,\n"
        f"    dataset=dict(data_root='{flir}/', ann_file='train/thermal_annotations.json',\n"
        "        data_prefix=dict(img='train/'),\n"
        "        metainfo=dict(classes=('person', 'bicycle', 'car'))))\n"
        "train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=1)\n"
        "val_cfg = None\nval_dataloader = None\nval_evaluator = None\n"
        "test_cfg = None\ntest_dataloader = None\ntest_evaluator = None\n"
        "param_scheduler = []\n"
        "default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1))\n"
        "log_processor = dict(by_epoch=False)\n")
    train_py = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py')
    run_tool([train_py, str(cfg), '--work-dir', str(tmp_path / 'w')])
    assert osp.isfile(tmp_path / 'w' / 'iter_1.pth')
    # resume with mmdet's own script: torch 2.14 loads the checkpoint via mmpad
    proc = run_tool([train_py, str(cfg), '--work-dir', str(tmp_path / 'w'),
                     '--resume', '--cfg-options', 'train_cfg.max_iters=2'])
    out = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 1' in out
    assert osp.isfile(tmp_path / 'w' / 'iter_2.pth')


def test_tools_test_evaluates_a_checkpoint(demo_data, tmp_path):
    run_tool(['tools/train.py', DEMO_CFG, '--work-dir', str(tmp_path),
              '--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=1000',
              'default_hooks.checkpoint.interval=2'], data_root=demo_data)
    metrics = tmp_path / 'metrics.json'
    # score_thr 0: a 2-iteration model's scores are low, but COCO eval must still run
    run_tool(['tools/test.py', DEMO_CFG, str(tmp_path / 'iter_2.pth'),
              '--work-dir', str(tmp_path), '--metrics-out', str(metrics),
              '--cfg-options', 'model.test_cfg.score_thr=0.0'], data_root=demo_data)
    values = json.load(open(metrics))
    assert 0.0 <= values['coco/bbox_mAP'] <= 1.0 and 'coco/bbox_mAP_50' in values
    proc = run_tool(['tools/test.py', DEMO_CFG, str(tmp_path / 'missing.pth')],
                    data_root=demo_data, check=False)
    assert proc.returncode == 2 and 'missing.pth' in proc.stderr
