"""The shipped configs log to TensorBoard (configs/_base_/vis_backends.py): a short
demo training run, as a user starts it, writes a tfevents file holding the losses
next to the stock local ``vis_data`` files."""
import glob
import os.path as osp

import pytest

from mmpad_test_utils import REPO, run_tool

pytest.importorskip(
    'tensorboard', reason='tensorboard is not installed (requirements/runtime.txt '
    'lists it; TensorboardVisBackend in the shipped configs needs it)')

DEMO = 'configs/foundation/retinanet_r18-tiny_flir-demo.py'
SHORT = ['train_cfg.max_iters=2', 'train_cfg.val_interval=100',
         'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=100']


def _train(work_dir, demo_data, config=DEMO):
    run_tool(['tools/train.py', config, '--work-dir', str(work_dir),
              '--cfg-options', *SHORT], data_root=demo_data,
             hang_note='measured: about 15 s')
    return glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'events.out.tfevents.*'))


def test_demo_training_writes_tensorboard_events(tmp_path, demo_data):
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    events = _train(tmp_path / 'tb', demo_data)
    assert len(events) == 1
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert {'loss', 'loss_cls', 'loss_bbox', 'lr'} <= set(tags)
    assert [e.step for e in acc.Scalars('loss')] == [1, 2]
    assert glob.glob(str(tmp_path / 'tb' / '*' / 'vis_data' / 'scalars.json'))

    # control: a user's config that keeps only the local backend writes no events
    mine = tmp_path / 'my_retinanet.py'
    mine.write_text(f"_base_ = [{osp.join(REPO, DEMO)!r}]\n"
                    "visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])\n")
    assert _train(tmp_path / 'local', demo_data, str(mine)) == []
    assert glob.glob(str(tmp_path / 'local' / '*' / 'vis_data' / 'scalars.json'))
