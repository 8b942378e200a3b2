"""tools/test.py as users run it, with the flags of mmdet's / mmseg's tools/test.py:
--show-dir, --out, --tta, --show / --wait-time (no display here) and dist_test.sh.

The checkpoints come from 2-iteration ``tools/train.py`` runs of the demo configs;
the test commands then run side by side (one module fixture) to keep the file short.
"""
import codecs
import collections
import io
import json
import os
import os.path as osp
import pickle
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

from mmpad_test_utils import REPO, free_port, run_tool

DET_DEMO = osp.join(REPO, 'configs/foundation/retinanet_r18-tiny_flir-demo.py')
SEG_DEMO = osp.join(
    REPO, 'configs/sop/demo/finetune_deeplabv3plus-r18-tiny_soda-demo.py')
DET_CLASSES = ('person', 'bicycle', 'car')
# a 2-iteration RetinaNet's scores are low: keep every box so COCO eval has input
LOW_THR = ['--cfg-options', 'model.test_cfg.score_thr=0.0']
# measured: each command below 15-35 s on a quiet 2-core machine; the limit only
# catches a hang
TIMEOUT = 600


# ---------------------------------------------------------------------------
# loading the --out pickle without running code from it
# ---------------------------------------------------------------------------
def _latin1(text, encoding='latin1'):
    if encoding != 'latin1':
        raise pickle.UnpicklingError(f'_codecs.encode with {encoding!r}')
    return codecs.encode(text, 'latin1')


def _storage(data: bytes):
    # the tensor storages of a plain pickle are torch.save blobs: weights only
    return torch.load(io.BytesIO(data), weights_only=True)


_ALLOWED = {('_codecs', 'encode'): _latin1,
            ('torch.storage', '_load_from_bytes'): _storage,
            ('torch._utils', '_rebuild_tensor_v2'): torch._utils._rebuild_tensor_v2,
            ('collections', 'OrderedDict'): collections.OrderedDict}


class _ResultsUnpickler(pickle.Unpickler):
    """Unpickles lists / dicts / tensors / numbers only (what DumpDetResults
    writes); any other global is refused."""

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f'refused global {module}.{name}') from None


def load_results(path):
    with open(path, 'rb') as f:
        return _ResultsUnpickler(f).load()


def test_results_unpickler_refuses_code(tmp_path):
    """The control of the loader above: a pickle that would run code is refused."""
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps(os.system))
    with pytest.raises(pickle.UnpicklingError, match='posix.system|os.system'):
        load_results(path)


# ---------------------------------------------------------------------------
# fixtures: checkpoints, user configs, the commands
# ---------------------------------------------------------------------------
def _train(cfg, work, data_root):
    run_tool(['tools/train.py', cfg, '--work-dir', str(work), '--cfg-options',
              'train_cfg.max_iters=2', 'train_cfg.val_interval=1000',
              'default_hooks.checkpoint.interval=2'], data_root=data_root,
             timeout=TIMEOUT)
    return str(work / 'iter_2.pth')


def _write_user_configs(root):
    """What a user writes: their own config inheriting the demo one, with TTA."""
    det_tta = root / 'my_retinanet_tta.py'
    det_tta.write_text(
        f"_base_ = ['{DET_DEMO}']\n"
        "tta_model = dict(type='DetTTAModel', tta_cfg=dict(\n"
        "    nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))\n"
        "tta_pipeline = [\n"
        "    dict(type='LoadImageFromFile'),\n"
        "    dict(type='TestTimeAug', transforms=[\n"
        "        [dict(type='Resize', scale=(320, 256), keep_ratio=True)],\n"
        "        [dict(type='RandomFlip', prob=1.),\n"
        "         dict(type='RandomFlip', prob=0.)],\n"
        "        [dict(type='LoadAnnotations', with_bbox=True)],\n"
        "        [dict(type='PackDetInputs', meta_keys=('img_id', 'img_path',\n"
        "              'ori_shape', 'img_shape', 'scale_factor', 'flip',\n"
        "              'flip_direction'))]])]\n")
    return dict(det_tta=str(det_tta))


@pytest.fixture(scope='module')
def runs(demo_data, tmp_path_factory):
    """Train both demo models (2 iterations, in parallel), then run every test
    command of this file side by side; returns name -> (process, paths)."""
    root = tmp_path_factory.mktemp('test_tool')
    with ThreadPoolExecutor(2) as pool:
        det_ckpt, seg_ckpt = pool.map(
            lambda a: _train(*a, demo_data),
            [(DET_DEMO, root / 'det_train'), (SEG_DEMO, root / 'seg_train')])
    cfgs = _write_user_configs(root)
    paths = {
        'det': dict(work=root / 'det', vis=root / 'det_vis', out=root / 'det.pkl',
                    metrics=root / 'det_metrics.json'),
        'det_tta': dict(work=root / 'det_tta', out=root / 'det_tta.pkl',
                        metrics=root / 'det_tta_metrics.json'),
        'seg': dict(work=root / 'seg', vis=root / 'seg_vis', out=root / 'seg_pred',
                    metrics=root / 'seg_metrics.json'),
        'dist': dict(work=root / 'dist', metrics=root / 'dist_metrics.json'),
    }
    p = paths
    commands = {
        'det': ['tools/test.py', DET_DEMO, det_ckpt,
                '--work-dir', str(p['det']['work']),
                '--show-dir', str(p['det']['vis']), '--out', str(p['det']['out']),
                '--metrics-out', str(p['det']['metrics'])] + LOW_THR,
        'det_tta': ['tools/test.py', cfgs['det_tta'], det_ckpt, '--tta',
                    '--work-dir', str(p['det_tta']['work']),
                    '--out', str(p['det_tta']['out']),
                    '--metrics-out', str(p['det_tta']['metrics'])] + LOW_THR,
        'seg': ['tools/test.py', SEG_DEMO, seg_ckpt,
                '--work-dir', str(p['seg']['work']),
                '--show-dir', str(p['seg']['vis']), '--out', str(p['seg']['out']),
                '--metrics-out', str(p['seg']['metrics'])],
        'dist': ['bash', 'tools/dist_test.sh', DET_DEMO, det_ckpt, '2',
                 '--work-dir', str(p['dist']['work']),
                 '--metrics-out', str(p['dist']['metrics'])] + LOW_THR,
    }
    envs = {'dist': {'PYTHON': os.sys.executable, 'PORT': free_port()}}
    with ThreadPoolExecutor(len(commands)) as pool:
        futures = {name: pool.submit(run_tool, cmd, data_root=demo_data,
                                     env=envs.get(name), check=False,
                                     timeout=TIMEOUT)
                   for name, cmd in commands.items()}
        procs = {name: f.result() for name, f in futures.items()}
    found = {name: (procs[name], paths[name]) for name in commands}
    found['ckpt'] = dict(det=det_ckpt, seg=seg_ckpt)
    return found


def _tool_error(argv, demo_data):
    """``python tools/test.py ARGV`` as the user runs it; it must stop with exit 2
    before building a model; returns its stderr. (A subprocess, not ``main`` in this
    process: loggers left by earlier tests in the same process would write
    "--- Logging error ---" tracebacks into the captured stderr.)"""
    proc = run_tool(['tools/test.py', *argv], data_root=demo_data, check=False,
                    env={'LOCAL_RANK': '0'}, timeout=300,
                    hang_note='an argument error takes ~10 s (the imports)')
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    return proc.stderr


def _ok(proc):
    assert proc.returncode == 0, \
        f'exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}'


def _test_images(demo_data, subdir):
    return sorted(os.listdir(osp.join(demo_data, subdir)))


# ---------------------------------------------------------------------------
# detection: --show-dir, --out
# ---------------------------------------------------------------------------
def test_det_show_dir_writes_one_painted_image_per_test_image(runs, demo_data):
    proc, p = runs['det']
    _ok(proc)
    names = _test_images(demo_data, 'flir/val/thermal_8_bit')
    assert sorted(os.listdir(p['vis'])) == names
    for name in names:
        painted = np.asarray(Image.open(p['vis'] / name).convert('RGB'))
        source = np.asarray(Image.open(
            osp.join(demo_data, 'flir/val/thermal_8_bit', name)).convert('RGB'))
        # mmdet's visualizer: ground truth and prediction side by side, each the
        # original image with boxes drawn on it (coloured lines, not JPEG noise)
        h, w = source.shape[:2]
        assert painted.shape in ((h, w, 3), (h, 2 * w, 3))
        tiled = np.concatenate([source] * (painted.shape[1] // w), axis=1)
        assert (np.abs(painted.astype(int) - tiled).max(axis=2) > 100).sum() > 50
    assert f'painted images: {p["vis"]}' in proc.stdout


def test_det_out_pickle_matches_the_printed_metric(runs, demo_data):
    from mmdet.evaluation import CocoMetric
    proc, p = runs['det']
    _ok(proc)
    printed = json.load(open(p['metrics']))
    # what the tool printed is what it wrote
    assert f"'coco/bbox_mAP': {printed['coco/bbox_mAP']}" in proc.stdout
    results = load_results(p['out'])
    names = _test_images(demo_data, 'flir/val/thermal_8_bit')
    assert sorted(osp.basename(r['img_path']) for r in results) == names
    assert all('gt_instances' not in r for r in results)  # predictions only

    def offline(results):
        metric = CocoMetric(ann_file=osp.join(
            demo_data, 'flir/val/thermal_annotations.json'), metric='bbox')
        metric.dataset_meta = dict(classes=DET_CLASSES)
        metric.process({}, results)
        return metric.evaluate(len(results))

    offline_metrics = offline(results)
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_l'):
        assert offline_metrics[key] == pytest.approx(printed[key], abs=1e-9), key
    # control: the comparison sees a change of the predictions
    moved = load_results(p['out'])
    for r in moved:
        r['pred_instances']['labels'] = (r['pred_instances']['labels'] + 1) % 3
    assert offline(moved)['coco/bbox_mAP_50'] != printed['coco/bbox_mAP_50']


def test_det_out_must_be_a_pickle_name(runs, demo_data, tmp_path):
    err = _tool_error([DET_DEMO, runs['ckpt']['det'], '--out',
                       str(tmp_path / 'results.json'), '--work-dir', str(tmp_path)], demo_data)
    assert 'results.json' in err and '.pkl' in err
    assert not os.listdir(tmp_path)  # stopped before anything ran


# ---------------------------------------------------------------------------
# segmentation: --show-dir, --out DIR
# ---------------------------------------------------------------------------
def _seg_names(demo_data):
    split = osp.join(demo_data, 'soda/ImageSets/Segmentation/test_infrared.txt')
    with open(split) as f:
        return sorted(line.strip() for line in f if line.strip())


def test_seg_show_dir_writes_one_painted_image_per_test_image(runs, demo_data):
    proc, p = runs['seg']
    _ok(proc)
    vis = p['vis'] / 'vis_data' / 'vis_image'  # mmseg's visualizer layout
    names = _seg_names(demo_data)
    assert sorted(os.listdir(vis)) == [f'test_{n}.jpg_0.png' for n in names]
    for n in names:
        painted = Image.open(vis / f'test_{n}.jpg_0.png')
        painted.verify()
        source = Image.open(osp.join(demo_data, 'soda/JPEGImages', f'{n}.jpg'))
        # ground truth and prediction side by side, at the image's height
        assert painted.size[1] == source.size[1]
        assert painted.size[0] in (source.size[0], 2 * source.size[0])
    assert f'painted images: {vis}' in proc.stdout


def _iou_metrics(preds, gts, num_classes=21, ignore_index=255):
    """mmseg IoUMetric's aAcc and mIoU (in %) of label maps."""
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    label = np.zeros(num_classes)
    for pred, gt in zip(preds, gts):
        keep = gt != ignore_index
        pred, gt = pred[keep], gt[keep]
        hit = pred[pred == gt]
        i = np.bincount(hit, minlength=num_classes)[:num_classes]
        a_p = np.bincount(pred, minlength=num_classes)[:num_classes]
        a_g = np.bincount(gt, minlength=num_classes)[:num_classes]
        inter += i
        union += a_p + a_g - i
        label += a_g
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = inter / union
    return dict(aAcc=round(float(inter.sum() / label.sum()) * 100, 2),
                mIoU=round(float(np.nanmean(iou)) * 100, 2))


def test_seg_out_dir_matches_the_printed_metric(runs, demo_data):
    proc, p = runs['seg']
    _ok(proc)
    printed = json.load(open(p['metrics']))
    assert f"'mIoU': {printed['mIoU']}" in proc.stdout
    names = _seg_names(demo_data)
    assert sorted(os.listdir(p['out'])) == [f'{n}.png' for n in names]
    preds = [np.asarray(Image.open(p['out'] / f'{n}.png')).astype(np.int64)
             for n in names]
    gts = [np.asarray(Image.open(osp.join(
        demo_data, 'soda/SegmentationClass', f'{n}.png'))).astype(np.int64)
        for n in names]
    assert all(pr.shape == gt.shape for pr, gt in zip(preds, gts))
    recomputed = _iou_metrics(preds, gts)
    assert recomputed == dict(aAcc=printed['aAcc'], mIoU=printed['mIoU'])
    # control: other label maps give other numbers
    assert _iou_metrics([(pr + 1) % 21 for pr in preds], gts)['aAcc'] != \
        printed['aAcc']


# ---------------------------------------------------------------------------
# --tta
# ---------------------------------------------------------------------------
def test_tta_without_tta_pipeline_is_an_error(runs, demo_data, tmp_path):
    # the stock seg demo has mmseg's tta_model (default_runtime.py), no tta_pipeline
    err = _tool_error([SEG_DEMO, runs['ckpt']['seg'], '--tta', '--work-dir',
                       str(tmp_path)], demo_data)
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'Traceback' not in err
    assert errors[0].startswith('error: --tta needs tta_pipeline in the config')
    assert SEG_DEMO in errors[0] and 'TestTimeAug' in errors[0]


def test_tta_with_a_user_tta_config(runs):
    proc, p = runs['det_tta']
    _ok(proc)
    plain_proc, plain = runs['det']
    _ok(plain_proc)
    tta_results, plain_results = load_results(p['out']), load_results(plain['out'])
    assert len(tta_results) == len(plain_results)
    # flip TTA merged by DetTTAModel: the predictions are not the plain ones (the
    # control: with --tta ignored they would be identical)
    tta_boxes = {r['img_path']: r['pred_instances']['bboxes'] for r in tta_results}
    plain_boxes = {r['img_path']: r['pred_instances']['bboxes']
                   for r in plain_results}
    assert tta_boxes.keys() == plain_boxes.keys()
    assert any(tta_boxes[k].shape != plain_boxes[k].shape
               or not torch.allclose(tta_boxes[k], plain_boxes[k])
               for k in tta_boxes)
    assert 'fits the model' in proc.stdout  # the checkpoint check saw the detector
    metrics = json.load(open(p['metrics']))
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0


# ---------------------------------------------------------------------------
# --show / --wait-time without a display
# ---------------------------------------------------------------------------
def test_show_without_a_display_is_a_clear_error(runs, demo_data, tmp_path):
    """Stock tools/test.py with --show on a headless machine runs to the end and
    shows nothing (matplotlib's Agg backend); mmpad says so and exits 2."""
    ckpt = runs['ckpt']['det']
    env = {'MPLBACKEND': 'agg', 'DISPLAY': ''}
    proc = run_tool(['tools/test.py', DET_DEMO, ckpt, '--show', '--wait-time',
                     '0.5', '--work-dir', str(tmp_path)], data_root=demo_data,
                    env=env, check=False)
    assert proc.returncode == 2
    assert "--show needs a display" in proc.stderr and "'agg'" in proc.stderr
    assert '--show-dir' in proc.stderr and 'Traceback' not in proc.stderr
    assert not os.listdir(tmp_path)  # nothing ran


def test_negative_wait_time_is_an_error(runs, demo_data):
    err = _tool_error([DET_DEMO, runs['ckpt']['det'], '--show-dir', 'v',
                       '--wait-time', '-1'], demo_data)
    assert err == 'error: --wait-time must be >= 0 seconds, got -1.0\n'


# ---------------------------------------------------------------------------
# dist_test.sh: one report
# ---------------------------------------------------------------------------
def test_dist_test_prints_the_metrics_once(runs):
    proc, p = runs['dist']
    _ok(proc)
    out = proc.stdout + proc.stderr
    assert 'Distributed training: True' in out and 'GPU number: 2' in out
    # the metrics dict, the summary log line and pycocotools' table: once each
    assert out.count("{'coco/bbox_mAP'") == 1
    assert len(re.findall(r'Iter\(test\) \[\d+/\d+\]\s+coco/bbox_mAP', out)) == 1
    assert out.count('Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all') == 1
    assert json.load(open(p['metrics']))['coco/bbox_mAP'] >= 0.0


# ---------------------------------------------------------------------------
# --help: the stock flags, each with a description
# ---------------------------------------------------------------------------
def test_help_lists_the_stock_flags_each_described(monkeypatch, capsys):
    import importlib.util
    from tools.test import build_parser, main
    monkeypatch.setenv('LOCAL_RANK', '0')
    with pytest.raises(SystemExit) as exit_info:
        main(['--help'])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    stock = set()
    for lib in ('mmdet', 'mmseg'):
        root = importlib.util.find_spec(lib).submodule_search_locations[0]
        src = open(osp.join(root, '.mim', 'tools', 'test.py')).read()
        stock |= set(re.findall(r"add_argument\(\s*'(--[\w-]+)'", src))
    assert {'--show', '--show-dir', '--wait-time', '--out', '--tta'} <= stock
    for flag in stock:
        assert re.search(rf'^\s+{re.escape(flag)}\b', text, re.M), flag
    for action in build_parser()._actions:
        assert action.help, action.option_strings
