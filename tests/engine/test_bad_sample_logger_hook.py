"""BadSampleLoggerHook: bad-data counts in the message hub and the log; a real PAD
demo training run (tools/train.py, 2 DataLoader workers) on MSIP data with bad files
injected completes and logs them."""
import glob
import json
import os
import os.path as osp
from types import SimpleNamespace

import pytest
from mmengine.logging import MessageHub

import mmpad  # noqa: F401
from mmpad.core import bad_samples
from mmpad.engine.hooks.bad_sample_logger_hook import BadSampleLoggerHook

from bad_data import BAD_IMAGES, BAD_ROI_TEXT, DEEP_PNG, LogFile, write_bad_images
from mmpad_test_utils import run_tool


def test_hook_updates_the_message_hub_and_logs_changes(tmp_path):
    hub = MessageHub.get_instance('test_bad_sample_logger_hook')
    runner = SimpleNamespace(message_hub=hub, hooks=[], iter=0,
                             train_dataloader=list(range(100)))
    hook = BadSampleLoggerHook(interval=2)
    with LogFile(str(tmp_path / 'log.txt')) as log:
        hook.before_train(runner)
        assert hub.get_scalar('train/bad_samples').current() == 0
        bad_samples.report('/d/a.jpg', 'empty', kind='empty_file')
        bad_samples.report('/d/deep.png', '16-bit', kind='high_bit_depth')
        for it in range(4):
            runner.iter = it
            hook.after_train_iter(runner, it)
        assert hub.get_scalar('train/bad_samples').current() == 1  # converted: not bad
        assert log.count('bad data: 1 file skipped') == 1          # logged once
        bad_samples.report('/d/b.jpg', 'truncated', kind='truncated')
        runner.iter = 4
        hook.after_train_iter(runner, 4)        # not a logging iteration
        assert log.count('bad data: 2 files skipped') == 0
        runner.iter = 5
        hook.after_train_iter(runner, 5)
        assert log.count('bad data: 2 files skipped') == 1
        hook.after_train(runner)                # always at the end
        assert log.count('bad data: 2 files skipped') == 2
    assert hub.get_scalar('train/bad_samples').current() == 2


@pytest.mark.timeout(300)
def test_pad_demo_training_with_bad_files_completes_and_logs_them(demo_data,
                                                                 tmp_path):
    """tools/train.py, tiny MAE demo config, 2 workers, 2 epochs."""
    root = tmp_path / 'data'
    for subset in ('street', 'aerial'):
        src = osp.join(demo_data, 'msip', subset, 'thermal')
        dst = root / 'msip' / subset / 'thermal'
        dst.mkdir(parents=True)
        for name in sorted(os.listdir(src)):
            os.symlink(osp.join(src, name), dst / name)
    write_bad_images(str(root / 'msip' / 'street' / 'thermal'), size=(96, 128))
    (root / 'msip' / 'street' / 'roi').mkdir()
    (root / 'msip' / 'street' / 'roi' / '0000000.txt').write_text(BAD_ROI_TEXT)

    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', 'configs/pad/demo/mae_vit-tiny-p16_demo.py',
                     '--work-dir', str(work), '--cfg-options',
                     'train_cfg.max_epochs=2', 'train_dataloader.num_workers=2',
                     'default_hooks.checkpoint.interval=2'],
                    data_root=str(root), timeout=280)
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    for name in list(BAD_IMAGES) + [DEEP_PNG, 'street/roi/0000000.txt']:
        lines = [ln for ln in log.splitlines() if name in ln]
        assert len(lines) == 1, (name, lines)   # once, although 2 epochs x 2 workers
    iter_lines = [ln for ln in log.splitlines() if 'Epoch(train)' in ln]
    assert iter_lines and 'bad_samples: 6' in iter_lines[-1]  # 5 skipped + RoI file
    assert ('bad data: 5 files skipped (empty_file 1, not_an_image 1, truncated 2, '
            'too_small 1;') in log
    assert '1 file converted (high_bit_depth 1), 1 file cleaned (bad_roi_lines 1' in log
    rows = [json.loads(ln) for ln in open(
        glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))[0])]
    assert [r['bad_samples'] for r in rows if 'loss' in r][-1] == 6
    # 10 good + 1 converted + 5 skipped = 16 samples: 4 iterations per epoch
    assert len([r for r in rows if 'loss' in r]) == 2 * 4
    assert osp.isfile(work / 'epoch_2.pth')
    assert 'Traceback' not in proc.stdout + proc.stderr
