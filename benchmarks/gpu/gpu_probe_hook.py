"""A hook for the GPU training check (benchmarks/gpu/run_pad_gpu.sh): one JSON line
per iteration with the loss, the AMP loss scale and how far the PAD adapters' scale
predictors have moved from their values at the start of training.

Imported through ``custom_imports`` (``benchmarks/gpu`` on ``PYTHONPATH``)::

    --cfg-options custom_imports.imports="[mmpad,gpu_probe_hook]" \
        custom_hooks.2.type=GPUProbeHook
"""
import json
import math
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from mmpad.core.adapters import iter_adapters


@HOOKS.register_module()
class GPUProbeHook(Hook):
    """Writes ``<work_dir>/probe.jsonl``: per iteration ``iter``, ``epoch``,
    ``loss``, ``loss_scale`` (the optimizer wrapper's GradScaler scale; None
    without one), ``scale_delta`` (L2 norm of the change of every adapter scale
    parameter since ``before_train``: 0 while the DelayedScaleHook holds them),
    ``scale_held`` (the DelayedScaleHook's state), ``max_mem_mb`` (CUDA peak).

    Args:
        filename: the file name under the work dir.
    """

    priority = 'LOW'

    def __init__(self, filename: str = 'probe.jsonl') -> None:
        self.filename = filename
        self._start: Dict[str, torch.Tensor] = {}
        self._path: Optional[str] = None

    @staticmethod
    def _scale_params(runner) -> Dict[str, torch.Tensor]:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return {f'{i}.{j}': p for i, a in enumerate(iter_adapters(model))
                if a.learned_scale for j, p in enumerate(a.scale_parameters())}

    def before_train(self, runner) -> None:
        self._start = {k: p.detach().float().clone()
                       for k, p in self._scale_params(runner).items()}
        self._path = osp.join(runner.work_dir, self.filename)
        open(self._path, 'w').close()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        loss = float(loss) if loss is not None else math.nan
        scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
        delta = 0.0
        for k, p in self._scale_params(runner).items():
            delta += float((p.detach().float() - self._start[k]).pow(2).sum())
        held = next((h.held for h in runner.hooks
                     if type(h).__name__ == 'DelayedScaleHook'), None)
        rec = dict(iter=runner.iter + 1, epoch=runner.epoch, loss=loss,
                   loss_scale=float(scaler.get_scale()) if scaler is not None
                   else None,
                   scale_delta=math.sqrt(delta), scale_held=held)
        if torch.cuda.is_available():
            rec['max_mem_mb'] = torch.cuda.max_memory_allocated() / 2**20
        with open(self._path, 'a') as f:
            f.write(json.dumps(rec) + '\n')
