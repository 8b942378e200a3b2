"""``MMPadRunner``: mmengine's Runner plus the two things mmpad configs rely on.

* The config is checked (:func:`mmpad.utils.check_config`) before anything is built,
  so a misspelled ``type`` or a missing ``data_root`` fails with the field's name.
* ``--resume`` continues exactly: the checkpoint to resume is the newest complete
  one (:mod:`mmpad.engine.resume`), an unset seed is taken from it, and
  :class:`~mmpad.engine.hooks.random_state_hook.RandomStateHook` saves and
  restores the RNG states.
* Distributed runs work on CPU machines: the process group is created with ``gloo``
  (mmengine's launcher calls ``torch.cuda.set_device`` unconditionally) and DDP is
  built with ``device_ids=None``. GPU runs are untouched.

Configs select it with ``runner_type = 'MMPadRunner'``; ``tools/train.py`` uses it
for every config that does not name another runner.
"""
from __future__ import annotations

import os
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmpad.engine.hooks.random_state_hook import RandomStateHook
from mmpad.engine.resume import find_resume_checkpoint, pin_resume_seed
from mmpad.utils.config_check import check_config


def init_cpu_process_group_if_needed(launcher: str) -> None:
    """Create a gloo process group from torchrun's env vars on CPU-only hosts."""
    if launcher in (None, 'none') or torch.cuda.is_available():
        return
    if dist.is_available() and not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))


@RUNNERS.register_module()
class MMPadRunner(Runner):
    """Runner that validates its config and supports CPU (gloo) DDP."""

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'MMPadRunner':
        check_config(cfg)
        launcher = cfg.get('launcher', 'none')
        if launcher != 'none' and not torch.cuda.is_available():
            cfg.setdefault('env_cfg', ConfigDict())
            cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
            cfg.env_cfg.dist_cfg.backend = 'gloo'
            init_cpu_process_group_if_needed(launcher)
        if cfg.get('resume', False):
            if cfg.get('load_from') is None and cfg.get('work_dir'):
                cfg.load_from = find_resume_checkpoint(cfg.work_dir)
            if cfg.get('load_from'):
                pin_resume_seed(cfg, cfg.load_from)
        return super().from_cfg(cfg)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # RNG states travel with every checkpoint, so --resume is bit-identical
        if not any(isinstance(h, RandomStateHook) for h in self._hooks):
            self.register_hook(RandomStateHook())

    def wrap_model(self, model_wrapper_cfg: Optional[dict],
                   model: torch.nn.Module):
        if self.distributed and not torch.cuda.is_available():
            model_wrapper_cfg = dict(model_wrapper_cfg or dict(
                type='MMDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get(
                    'find_unused_parameters', False)))
            model_wrapper_cfg['device_ids'] = None
        return super().wrap_model(model_wrapper_cfg, model)
