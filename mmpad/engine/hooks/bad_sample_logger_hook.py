"""Log the bad-data totals of :mod:`mmpad.core.bad_samples` during training.

    default_hooks = dict(bad_samples=dict(type='BadSampleLoggerHook'))

(``default_hooks`` is a dict that child configs merge into, so the hook survives
configs that replace ``custom_hooks``.)
"""
from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from mmpad.core import bad_samples
from mmpad.core.arg_check import check_int


@HOOKS.register_module()
class BadSampleLoggerHook(Hook):
    """Put the number of bad files into the message hub as ``train/bad_samples``
    (so it appears in every training log line and in ``scalars.json``) and log the
    :func:`~mmpad.core.bad_samples.summary` (skipped / converted / cleaned,
    per kind) at each logging interval where a new bad file was met, and always at
    the end of training.

    ``bad_samples`` counts distinct files skipped or cleaned (a 16-bit image that
    was converted is not bad); the totals are those of the whole process, including
    DataLoader workers forked from it (see :mod:`mmpad.core.bad_samples`) and
    files read when the datasets were built (proposal files).

    Args:
        interval: iterations between checks; ``None`` uses the ``LoggerHook``'s.
    """
    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL) in after_train_iter

    def __init__(self, interval: Optional[int] = None) -> None:
        self.interval = check_int(type(self).__name__, 'interval', interval, 1,
                                  allow_none=True)
        self._last: Optional[tuple] = None

    def before_train(self, runner) -> None:
        if self.interval is None:
            self.interval = next((getattr(h, 'interval', None) for h in runner.hooks
                                  if type(h).__name__ == 'LoggerHook'), None) or 50
        self._update(runner)

    def _update(self, runner) -> int:
        n = int(bad_samples.counts()['bad_files'])
        runner.message_hub.update_scalar('train/bad_samples', n)
        return n

    def _log_if_changed(self, runner, force: bool = False) -> None:
        # changed = a new bad file (not: a known one met again in a later epoch)
        files = tuple(sorted(bad_samples.counts()['files'].items()))
        if force or (files and files != self._last):
            print_log(bad_samples.summary(), logger='current')
        self._last = files

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._update(runner)
        if self.every_n_train_iters(runner, self.interval) or \
                self.end_of_epoch(runner.train_dataloader, batch_idx):
            self._log_if_changed(runner)

    def after_train(self, runner) -> None:
        self._update(runner)
        self._log_if_changed(runner, force=True)
