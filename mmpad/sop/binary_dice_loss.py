"""Dice loss for a single-channel (sigmoid) mask head.

Why not mmseg's ``DiceLoss(use_sigmoid=True)``: in
mmseg 1.2.2, with a (N, 1, H, W) prediction and a (N, H, W) target,
``_expand_onehot_labels_dice`` one-hot encodes the target over two classes and
keeps channel 0, i.e. the *background* indicator, so the loss drives the
foreground probability towards the background mask and fights the BCE term; the
``ignore_index`` there selects channels, not pixels. This loss uses the foreground
indicator, masks ignored pixels and is smoothed so that an all-zero target (SOP
negatives) has a finite loss with a gradient.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from mmseg.registry import MODELS

from mmpad.core.arg_check import check_bool, check_float, check_str


def binary_dice_loss(logits: torch.Tensor, target: torch.Tensor,
                     valid: torch.Tensor, smooth: float = 1.0,
                     use_sigmoid: bool = True) -> torch.Tensor:
    """Per-sample ``1 - (2|P∩T| + s) / (|P| + |T| + s)``.

    Args:
        logits: (N, H, W) scores (probabilities if ``use_sigmoid=False``).
        target: (N, H, W) in {0, 1}.
        valid: (N, H, W) float mask of the pixels that count.
    Returns:
        (N, ) loss.
    """
    prob = logits.sigmoid() if use_sigmoid else logits
    prob = (prob * valid).flatten(1)
    tgt = (target.float() * valid).flatten(1)
    inter = (prob * tgt).sum(1)
    return 1 - (2 * inter + smooth) / (prob.sum(1) + tgt.sum(1) + smooth)


@MODELS.register_module()
class BinaryDiceLoss(nn.Module):
    """Dice loss of a (N, 1, H, W) logit map against a (N, H, W) {0, 1} target.

    Args:
        use_sigmoid: apply a sigmoid to the prediction.
        smooth: additive smoothing of numerator and denominator.
        loss_weight: weight of the loss.
        loss_name: name in the loss dict (must start with ``loss_``).
    """

    def __init__(self, use_sigmoid: bool = True, smooth: float = 1.0,
                 loss_weight: float = 1.0, loss_name: str = 'loss_dice') -> None:
        super().__init__()
        owner = type(self).__name__
        self.use_sigmoid = check_bool(owner, 'use_sigmoid', use_sigmoid)
        self.smooth = check_float(owner, 'smooth', smooth, 0.0)
        self.loss_weight = check_float(owner, 'loss_weight', loss_weight)
        check_str(owner, 'loss_name', loss_name, allow_empty=False)
        self._loss_name = loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                ignore_index: int = 255, **kwargs) -> torch.Tensor:
        if pred.ndim == 4:
            if pred.shape[1] != 1:
                raise ValueError('BinaryDiceLoss needs a single-channel prediction '
                                 f'(N, 1, H, W), got {tuple(pred.shape)}')
            pred = pred[:, 0]
        if pred.shape != target.shape:
            raise ValueError(f'BinaryDiceLoss: prediction {tuple(pred.shape)} and '
                             f'target {tuple(target.shape)} differ')
        valid = (target != ignore_index).float()
        if weight is not None:
            valid = valid * weight.reshape(valid.shape).float()
        target = torch.where(target == ignore_index, torch.zeros_like(target), target)
        loss = binary_dice_loss(pred, target, valid, self.smooth, self.use_sigmoid)
        return self.loss_weight * loss.mean()

    @property
    def loss_name(self) -> str:
        return self._loss_name
