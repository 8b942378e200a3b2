"""RoICropStatsHook: the share of RoI crops that fell back to RandomResizedCrop is
counted across DataLoader workers and logged once per epoch, with a warning above
the threshold (issue #13: a crop that always falls back trained with no sign)."""
import os.path as osp
import types

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import HOOKS

import mmpad  # noqa: F401
from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop
from mmpad.pad.roi_crop_stats_hook import RoICropStatsHook

from bad_data import LogFile


@pytest.fixture(autouse=True)
def _fresh_stats():
    ObjectSensitiveRandomRoICrop.reset_stats()
    yield
    ObjectSensitiveRandomRoICrop.reset_stats()


class Crops(torch.utils.data.Dataset):
    """Samples whose RoIs are usable (even index) or all too small (odd index,
    so every RoI is rejected) or absent (every 4th)."""

    def __init__(self, n, min_roi_size=40):
        self.n = n
        self.crop = ObjectSensitiveRandomRoICrop(size=16, min_size=8,
                                                 min_roi_size=min_roi_size)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        img = np.zeros((120, 160, 3), np.uint8)
        if i % 4 == 3:
            rois = np.zeros((0, 4))
        elif i % 2:
            rois = np.array([[10, 10, 5, 5]])  # below min_roi_size
        else:
            rois = np.array([[20, 20, 80, 70]])
        return self.crop(dict(img=img, rois=rois))['roi_crop']


def _runner(epoch):
    return types.SimpleNamespace(epoch=epoch,
                                 message_hub=MessageHub.get_instance('roi_test'))


@pytest.mark.timeout(120)
def test_counts_from_two_workers_and_one_line_per_epoch(tmp_path):
    ds = Crops(40)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2,
                                         collate_fn=lambda b: b)
    hook = RoICropStatsHook(warn_threshold=0.4)
    with LogFile(str(tmp_path / 'log.txt')) as log:
        hook.before_train(_runner(0))
        for epoch in range(2):
            kinds = [k for batch in loader for k in batch]
            hook.after_train_epoch(_runner(epoch))
        text = log.text()
    assert len(kinds) == 40
    s = ObjectSensitiveRandomRoICrop.get_stats()
    # crops were made in the workers only, yet the main process sees them all
    assert s['total'] == 80 and s['fallback_no_roi'] == 20
    assert s['fallback_rejected'] >= 19  # odd, not 3 mod 4 (a large crop may fail)
    lines = [ln for ln in text.splitlines() if 'RoI crop, epoch' in ln]
    assert len(lines) == 2 and 'epoch 1:' in lines[0] and 'epoch 2:' in lines[1]
    assert 'of 40 crops' in lines[0] and 'no RoI 10' in lines[0]
    rate = hook.history[0][2]
    assert 0.5 <= rate <= 0.6  # 10 no RoI + 10 rejected (+ rare large misses)
    assert 'WARNING' in text and 'above warn_threshold 40%' in text
    assert MessageHub.get_instance('roi_test').get_scalar(
        'train/roi_crop_fallback_rate').current() == hook.history[-1][2]


def test_always_falling_back_warns_and_a_healthy_crop_does_not(tmp_path):
    always = Crops(8, min_roi_size=1000)  # every RoI rejected
    hook = RoICropStatsHook()
    with LogFile(str(tmp_path / 'log.txt')) as log:
        hook.before_train(_runner(0))
        [always[i] for i in range(8)]
        hook.after_train_epoch(_runner(0))
        assert '8 of 8 crops (100.0%) fell back' in log.text()
        assert log.count('above warn_threshold') == 1
        assert 'every RoI rejected: 6' in log.text()
    healthy = Crops(8)
    hook = RoICropStatsHook(warn_threshold=0.9)
    with LogFile(str(tmp_path / 'log2.txt')) as log:
        hook.before_train(_runner(0))
        [healthy[i] for i in range(8)]
        hook.after_train_epoch(_runner(0))
        hook.after_train_epoch(_runner(1))  # no crop in this epoch: no line
        assert log.count('RoI crop, epoch') == 1
        assert 'above warn_threshold' not in log.text()


def test_registered_and_in_the_pad_pretraining_configs(repo_root):
    assert isinstance(HOOKS.build(dict(type='RoICropStatsHook')), RoICropStatsHook)
    for name in ('configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py',
                 'configs/pad/mae_vit-base-p16_8xb512-amp-coslr-100e_msip-in1k-'
                 'full.py',
                 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py'):
        cfg = Config.fromfile(osp.join(repo_root, name))
        assert cfg.default_hooks.roi_crop_stats == dict(type='RoICropStatsHook',
                                                        warn_threshold=0.5), name
