"""Pretext metric of SOP: foreground IoU of the predicted sub-image location
(mmpad's choice of pretext metric; the SOP paper's abstract names none)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmseg.registry import METRICS

from mmpad.core.arg_check import check_choice, check_int, check_str


def foreground_counts(pred: torch.Tensor, gt: torch.Tensor,
                      ignore_index: int = 255) -> Tuple[int, int, int, int]:
    """(intersection, union, |pred|, |gt|) of the foreground (value 1) over the
    pixels where ``gt != ignore_index``. pred, gt: (H, W) integer maps."""
    valid = gt != ignore_index
    p = (pred == 1) & valid
    g = (gt == 1) & valid
    return (int((p & g).sum()), int((p | g).sum()), int(p.sum()), int(g.sum()))


def iou_from_counts(inter: float, union: float) -> float:
    """IoU; an empty prediction of an empty target counts as 1."""
    return 1.0 if union == 0 else inter / union


@METRICS.register_module()
class SOPIoUMetric(BaseMetric):
    """Foreground IoU of binary SOP predictions.

    Reports (prefix ``sop/``):
      * ``IoU``: dataset-level |P∩T| / |P∪T| summed over all images, in %;
      * ``mIoU_img``: mean of the per-image IoU, in %;
      * ``precision`` / ``recall`` of the foreground pixels, in %.

    Args:
        ignore_index: label value excluded from the counts.
    """
    default_prefix = 'sop'

    def __init__(self, ignore_index: int = 255, collect_device: str = 'cpu',
                 prefix: str = None) -> None:
        owner = type(self).__name__
        self.ignore_index = check_int(owner, 'ignore_index', ignore_index)
        check_choice(owner, 'collect_device', collect_device, ('cpu', 'gpu'))
        check_str(owner, 'prefix', prefix, allow_none=True)
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze(0)
            gt = sample['gt_sem_seg']['data'].squeeze(0).to(pred.device)
            if pred.shape != gt.shape:
                raise ValueError(
                    f'SOPIoUMetric: prediction {tuple(pred.shape)} and target '
                    f'{tuple(gt.shape)} differ for {sample.get("img_path")}')
            self.results.append(foreground_counts(pred, gt, self.ignore_index))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        counts = np.asarray(results, dtype=np.float64).reshape(-1, 4)
        inter, union, n_pred, n_gt = counts.sum(0)
        per_img = [iou_from_counts(i, u) for i, u, _, _ in counts]
        return OrderedDict(
            IoU=round(100 * iou_from_counts(inter, union), 2),
            mIoU_img=round(100 * float(np.mean(per_img)), 2),
            precision=round(100 * inter / max(n_pred, 1), 2),
            recall=round(100 * inter / max(n_gt, 1), 2))
