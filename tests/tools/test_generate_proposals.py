"""tools/generate_proposals.py: outputs, unreadable images, kill + resume, COCO json."""
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from mmpad.core.proposals import generate_proposals, read_roi_file

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))), 'tools'))
import generate_proposals as tool  # noqa: E402
from mmpad_test_utils import REPO  # noqa: E402

TOOL = osp.join(REPO, 'tools', 'generate_proposals.py')


def _msip_copy(demo_data, tmp_path):
    root = tmp_path / 'msip'
    shutil.copytree(osp.join(demo_data, 'msip'), root)
    return root


def test_roi_files_unreadable_images_and_summary(demo_data, tmp_path, capsys):
    root = _msip_copy(demo_data, tmp_path)
    (root / 'aerial' / 'thermal' / '0000099.jpg').write_bytes(b'not an image')
    (root / 'aerial' / 'thermal' / '0000098.jpg').write_bytes(b'')
    assert tool.main(['--msip', str(root), '--workers', '2']) == 0
    out = capsys.readouterr().out
    assert '10 done now, 2 skipped (unreadable)' in out
    assert 'aerial/thermal/0000099.jpg' in out and 'proposals per image' in out
    roi = root / 'street' / 'roi' / '0000003.txt'
    rois, problems = read_roi_file(str(roi))
    img = cv2.imread(str(root / 'street' / 'thermal' / '0000003.jpg'))
    np.testing.assert_array_equal(rois, generate_proposals(img, 'pad'))
    assert problems == [] and not (root / 'aerial' / 'roi' / '0000099.txt').exists()


def test_resume_after_kill_processes_only_the_rest(demo_data, tmp_path, capsys):
    # 40 FLIR-size images (~0.1 s each), so the kill lands mid-run
    root = tmp_path / 'msip'
    t = root / 'street' / 'thermal'
    t.mkdir(parents=True)
    src = sorted(os.listdir(osp.join(demo_data, 'msip/street/thermal')))
    for i in range(40):
        img = cv2.imread(osp.join(demo_data, 'msip/street/thermal', src[i % len(src)]))
        cv2.imwrite(str(t / f'{i:07d}.jpg'), cv2.resize(img, (640, 512)))
    argv = ['--msip', str(root), '--workers', '1']
    # the command a user runs, in its own process (a fork of this one could
    # inherit OpenCV's thread pool mid-use and hang in cv2.setNumThreads)
    child = subprocess.Popen([sys.executable, TOOL] + argv, cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    roi_dir = root / 'street' / 'roi'
    deadline = time.time() + 120
    while time.time() < deadline:
        if roi_dir.exists() and len(os.listdir(roi_dir)) >= 2:
            break
        time.sleep(0.01)
    assert child.poll() is None, child.stderr.read().decode()[-2000:]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    # a write cut by the kill leaves at most a hidden .tmp_*.part file
    done = sorted(n for n in os.listdir(roi_dir) if n.endswith('.txt'))
    assert not [n for n in done if n.startswith('.')], done
    assert 2 <= len(done) < 40, 'the kill should interrupt the run'
    mtimes = {n: os.stat(roi_dir / n).st_mtime_ns for n in done}
    capsys.readouterr()
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    assert f'{len(done)} already done, {40 - len(done)} done now' in out
    assert all(os.stat(roi_dir / n).st_mtime_ns == t for n, t in mtimes.items())
    assert len([n for n in os.listdir(roi_dir) if n.endswith('.txt')]) == 40


def test_coco_json_with_ann_file_nms_metadata_and_resume(demo_data, tmp_path, capsys):
    img_dir = osp.join(demo_data, 'flir/val')
    ann = osp.join(demo_data, 'flir/val/thermal_annotations.json')
    out = str(tmp_path / 'props' / 'val_ratio3size0008@0.5.json')
    argv = ['--img-dir', img_dir, '--ann-file', ann, '--out-json', out,
            '--workers', '1']
    assert tool.main(argv + ['--limit', '2']) == 0          # stops early: no json
    assert not osp.exists(out) and osp.exists(out + '.progress.jsonl')
    assert tool.main(argv) == 0
    text = capsys.readouterr().out
    assert '2 already done, 2 done now' in text
    with open(out) as f:
        d = json.load(f)
    assert d['categories'] == [dict(id=1, name='selective_search',
                                    supercategory='selective_search')]
    assert d['info']['preset'] == 'aligndet' and d['info']['nms_iou'] == 0.5
    with open(ann) as f:
        ids = {im['file_name']: im['id'] for im in json.load(f)['images']}
    assert {im['file_name']: im['id'] for im in d['images']}.items() <= ids.items()
    first = d['images'][0]
    img = cv2.imread(osp.join(img_dir, first['file_name']))
    boxes = [a['bbox'] for a in d['annotations'] if a['image_id'] == first['id']]
    np.testing.assert_array_equal(boxes, generate_proposals(img, 'aligndet'))
    assert {a['category_id'] for a in d['annotations']} == {1}
    # different settings with the same progress file are refused
    with pytest.raises(ValueError, match='different settings'):
        tool.main(argv + ['--nms', 'none'])
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": ')
    with pytest.raises(ValueError, match='bad.json'):
        tool.main(['--img-dir', img_dir, '--ann-file', str(bad), '--out-json', out])


def test_tool_imports_neither_torch_nor_the_hosts():
    """The proposal tool is numpy-only: importing it (and mmpad through it) pulls
    in no torch, mmengine, mmcv or host library."""
    code = (f'import runpy, sys; runpy.run_path({TOOL!r}, run_name="not_main"); '
            "print(sorted(m for m in ('torch', 'mmengine', 'mmcv', 'mmpretrain', "
            "'mmdet', 'mmseg') if m in sys.modules))")
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith('[]'), proc.stdout
