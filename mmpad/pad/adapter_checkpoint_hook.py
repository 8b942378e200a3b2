"""Adapter-only checkpoints: save only what PAD trained (a few MB for ViT-B).

Writes ``adapter_only_epoch_N.pth`` / ``adapter_only_iter_N.pth`` into the work
dir (next to ``CheckpointHook``'s checkpoints), atomically (tmp file +
``os.replace``), on the main process only. ``tools/merge_adapter_checkpoint.py``
merges one back into a full checkpoint (e.g. the ImageNet one it started from).

File format: ``{'meta': {'adapter_only': True, 'epoch', 'iter', 'keys',
'include_trainable', ...}, 'state_dict': {name: tensor}}``; it loads with
mmengine's ``load_checkpoint(..., strict=False)`` too.

Under FSDP (:class:`~mmpad.engine.fsdp_wrap.PADFullyShardedDataParallel`) the
entries are taken from the unsharded state dict gathered to the main process
(every rank takes part), so the file is the same as under DDP.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from mmpad.core.adapters import ADAPTER_KEY
from mmpad.core.atomic_file import save_atomic  # noqa: F401 (exported)
from mmpad.core.arg_check import (check_bool, check_int, check_str,
                                   check_str_list)
from mmpad.engine.fsdp_wrap import PADFullyShardedDataParallel, clean_name

ADAPTER_ONLY_PREFIX = 'adapter_only_'


def select_keys(model: torch.nn.Module, names: Iterable[str],
                keys: Sequence[str] = (ADAPTER_KEY, ),
                include_trainable: bool = False) -> List[str]:
    """The ``names`` (of ``model``'s state dict) to save: those containing one of
    ``keys`` (parameters and buffers), plus every trainable parameter when
    ``include_trainable`` (e.g. the SSL decoder, to resume PAD training). Names
    are those of the unwrapped model (FSDP's ``_fsdp_wrapped_module.`` segments
    removed)."""
    trainable = {clean_name(n) for n, p in model.named_parameters()
                 if p.requires_grad} if include_trainable else set()
    return [name for name in names
            if name in trainable or any(k in '.' + name for k in keys)]


def select_state(model: torch.nn.Module,
                 keys: Sequence[str] = (ADAPTER_KEY, ),
                 include_trainable: bool = False,
                 state: Optional[Dict[str, torch.Tensor]] = None
                 ) -> Dict[str, torch.Tensor]:
    """The entries of ``model.state_dict()`` (or of ``state``, e.g. the model's
    unsharded state dict under FSDP) that :func:`select_keys` selects, copied to
    the CPU."""
    state = model.state_dict() if state is None else state
    return {name: state[name].detach().cpu().clone()
            for name in select_keys(model, state, keys, include_trainable)}


@HOOKS.register_module()
class AdapterCheckpointHook(Hook):
    """Save adapter-only checkpoints during PAD pre-training.

    Args:
        interval: save every ``interval`` epochs / iterations (-1: only the
            last). Defaults to 1.
        by_epoch: count epochs or iterations; ``None`` follows the train loop.
        keys: substrings selecting the saved entries. Defaults to
            ``('.adapter.',)``: adapters and scale predictors only.
        include_trainable: also save every trainable parameter (the decoder).
        save_last: save after the last epoch / iteration. Defaults to True.
        out_dir: directory; defaults to the runner's work dir.
        max_keep_ckpts: keep only the newest N files (-1: keep all).
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 1,
                 by_epoch: Optional[bool] = None,
                 keys: Sequence[str] = (ADAPTER_KEY, ),
                 include_trainable: bool = False,
                 save_last: bool = True,
                 out_dir: Optional[str] = None,
                 max_keep_ckpts: int = -1) -> None:
        owner = type(self).__name__
        self.interval = check_int(owner, 'interval', interval, 1)
        self.by_epoch = None if by_epoch is None else check_bool(owner, 'by_epoch',
                                                                 by_epoch)
        self.keys = tuple(check_str_list(owner, 'keys', keys))
        self.include_trainable = check_bool(owner, 'include_trainable',
                                            include_trainable)
        self.save_last = check_bool(owner, 'save_last', save_last)
        self.out_dir = check_str(owner, 'out_dir', out_dir, allow_none=True)
        self.max_keep_ckpts = check_int(owner, 'max_keep_ckpts', max_keep_ckpts, -1)
        self.saved: List[str] = []

    def before_train(self, runner) -> None:
        if self.by_epoch is None:
            self.by_epoch = isinstance(runner.train_loop, EpochBasedTrainLoop)
        self.out_dir = self.out_dir or runner.work_dir
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        # under FSDP: the names of the unsharded model (no gathering)
        full = getattr(runner.model, 'full_state_meta', None)
        names = model.state_dict() if full is None else full
        if not select_keys(model, names, self.keys, self.include_trainable):
            raise RuntimeError(
                f'AdapterCheckpointHook: no state_dict entry of '
                f'{type(model).__name__} matches {list(self.keys)}; is this a '
                'PAD model?')

    def _due(self, runner, by_epoch: bool) -> bool:
        if by_epoch:
            regular = self.interval > 0 and self.every_n_epochs(
                runner, self.interval)
            return regular or (self.save_last
                               and self.is_last_train_epoch(runner))
        regular = self.interval > 0 and self.every_n_train_iters(
            runner, self.interval)
        return regular or (self.save_last and self.is_last_train_iter(runner))

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and self._due(runner, True):
            self.save(runner, f'epoch_{runner.epoch + 1}',
                      epoch=runner.epoch + 1, it=runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self.by_epoch and self._due(runner, False):
            self.save(runner, f'iter_{runner.iter + 1}',
                      epoch=runner.epoch, it=runner.iter + 1)

    def save(self, runner, tag: str, epoch: int, it: int) -> Optional[str]:
        """Write ``adapter_only_<tag>.pth``; returns its path (main process).

        ``epoch`` / ``it`` are the completed epochs / iterations (as in
        mmengine's checkpoint meta).
        """
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        # under FSDP every rank takes part in gathering the unsharded state
        full = runner.model.full_state_dict() if isinstance(
            runner.model, PADFullyShardedDataParallel) else None
        if not is_main_process():
            return None
        state = select_state(model, self.keys, self.include_trainable, full)
        path = osp.join(self.out_dir, f'{ADAPTER_ONLY_PREFIX}{tag}.pth')
        meta = dict(
            adapter_only=True,
            epoch=int(epoch),
            iter=int(it),
            keys=list(self.keys),
            include_trainable=bool(self.include_trainable),
            model=type(model).__name__,
            num_params=int(sum(v.numel() for v in state.values())))
        os.makedirs(self.out_dir, exist_ok=True)
        save_atomic(dict(meta=meta, state_dict=state), path)
        size_mb = osp.getsize(path) / 2**20
        runner.logger.info(
            f'Saved adapter-only checkpoint {path} ({len(state)} tensors, '
            f'{meta["num_params"]:,} values, {size_mb:.2f} MB)')
        self.saved.append(path)
        if self.max_keep_ckpts > 0:
            while len(self.saved) > self.max_keep_ckpts:
                old = self.saved.pop(0)
                if osp.exists(old):
                    os.remove(old)
        return path
