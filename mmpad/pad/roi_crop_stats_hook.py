"""Log, once per training epoch, how many of the epoch's RoI crops fell back to a
random crop (``ObjectSensitiveRandomRoICrop``), and warn when that share is high.

    default_hooks = dict(roi_crop_stats=dict(type='RoICropStatsHook'))

A RoI crop whose RoIs are all rejected (``min_roi_size`` / ``min_size`` /
``large_area_ratio`` too strict for the data, RoI files missing or empty, a wrong
``roi`` folder) trains on plain ``RandomResizedCrop`` crops, which looks exactly
like a working run. This hook makes it visible::

    RoI crop, epoch 3: 88 of 1000 crops (8.8%) fell back to RandomResizedCrop
    (no RoI 80, every RoI rejected 8; 150 large crops requested)

and, above ``warn_threshold``, logs a WARNING that says what to check. The counts
come from :meth:`ObjectSensitiveRandomRoICrop.get_stats`, which is shared with
DataLoader workers forked from the main process (the default on Linux); with the
``spawn`` / ``forkserver`` start methods the main process does not see the
workers' crops and the hook logs nothing.
"""
from __future__ import annotations

from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from mmpad.core.arg_check import check_float, check_int

_KEYS = ('roi', 'fallback_no_roi', 'fallback_rejected', 'large_requested',
         'missing_roi_file', 'empty_roi_file', 'unreadable_roi_file')


def _stats() -> Dict[str, int]:
    from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop
    s = ObjectSensitiveRandomRoICrop.get_stats()
    return {k: int(s.get(k, 0)) for k in _KEYS}


@HOOKS.register_module()
class RoICropStatsHook(Hook):
    """One log line per training epoch with the RoI crop's fallback rate.

    The rate of an epoch is ``(fallback_no_roi + fallback_rejected) / crops`` over
    the crops made between the end of the previous epoch and the end of this one
    (DataLoader workers prefetch, so a few crops may be counted in the
    neighbouring epoch). The line is also put into the message hub as
    ``train/roi_crop_fallback_rate`` (``scalars.json``). Epochs without a RoI
    crop log nothing.

    Args:
        warn_threshold: log a WARNING when an epoch's fallback rate is above
            this share, in [0, 1]. Defaults to 0.5.
        min_crops: rates of epochs with fewer crops are logged but never warned
            about (too few to tell). Defaults to 1.
    """
    priority = 'NORMAL'

    def __init__(self, warn_threshold: float = 0.5, min_crops: int = 1) -> None:
        owner = type(self).__name__
        self.warn_threshold = check_float(owner, 'warn_threshold', warn_threshold,
                                          0.0, 1.0)
        self.min_crops = check_int(owner, 'min_crops', min_crops, 1)
        self._start: Optional[Dict[str, int]] = None
        self.history = []  # (epoch, crops, fallback_rate) per logged epoch

    def before_train(self, runner) -> None:
        self._start = _stats()

    def after_train_epoch(self, runner) -> None:
        now = _stats()
        start = self._start or {k: 0 for k in _KEYS}
        self._start = now
        d = {k: now[k] - start.get(k, 0) for k in _KEYS}
        fallback = d['fallback_no_roi'] + d['fallback_rejected']
        total = d['roi'] + fallback
        if total <= 0:
            return
        rate = fallback / total
        epoch = runner.epoch + 1 if hasattr(runner, 'epoch') else None
        self.history.append((epoch, total, rate))
        runner.message_hub.update_scalar('train/roi_crop_fallback_rate', rate)
        files = ', '.join(f'{k.replace("_", " ")} {d[k]}'
                          for k in ('missing_roi_file', 'empty_roi_file',
                                    'unreadable_roi_file') if d[k])
        line = (f'RoI crop, epoch {epoch}: {fallback} of {total} crops '
                f'({100 * rate:.1f}%) fell back to RandomResizedCrop (no RoI '
                f'{d["fallback_no_roi"]}, every RoI rejected '
                f'{d["fallback_rejected"]}; {d["large_requested"]} large crops '
                f'requested{"; " + files if files else ""})')
        print_log(line, logger='current')
        if rate > self.warn_threshold and total >= self.min_crops:
            print_log(
                f'RoI crop fallback rate {100 * rate:.1f}% in epoch {epoch} is '
                f'above warn_threshold {100 * self.warn_threshold:.0f}%: most '
                f'crops are plain RandomResizedCrop crops, not object-sensitive '
                f'ones. Check that the RoI files exist (no RoI: '
                f'{d["fallback_no_roi"]}) and that min_roi_size / min_size / '
                f'large_area_ratio of ObjectSensitiveRandomRoICrop suit the RoIs '
                f'(every RoI rejected: {d["fallback_rejected"]}).',
                logger='current', level=30)
