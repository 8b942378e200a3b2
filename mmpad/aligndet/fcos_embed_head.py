"""FCOS head for AlignDet pre-training.

The classifier ``conv_cls`` becomes the embedding projector
``Conv3x3(C, C) -> ReLU -> Conv1x1(C, D)``. Points get the stock FCOS targets
(a point's instance is the smallest-area proposal containing it, within the
level's regress range). Per batch and view, up to ``num_samples`` random positive
points are kept, filled with random background points up to ``num_samples``.
The sampled positives carry the stock losses: IoU loss weighted by centerness
targets (normalised by their sum, averaged across GPUs) and centerness BCE.

All tensors use the stock FCOS flattening (level-major, images within a level),
the same for embeddings, ids, boxes and points.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmdet.models.dense_heads import FCOSHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import reduce_mean

from mmpad.core.arg_check import check_int
from mmpad.aligndet.instance_ids import decode_labels_as_ids, instances_with_encoded_ids
from mmpad.aligndet.retina_embed_head import PROJECTOR_HEAD_INIT
from mmpad.aligndet.view_output import ViewOutput


def _random_subset(indices: Tensor, num: int) -> Tensor:
    if indices.numel() <= num:
        return indices
    return indices[torch.randperm(indices.numel(), device=indices.device)[:num]]


@MODELS.register_module()
class FCOSEmbedHead(FCOSHead):
    """``FCOSHead`` with an embedding projector in place of ``conv_cls``.

    Args:
        embed_dim: width D of the per-point embedding.
        num_samples: points sampled per batch and view (positives first).
        *args, **kwargs: as for :class:`mmdet.models.FCOSHead`.
    """

    def __init__(self, *args, embed_dim: int = 256, num_samples: int = 2048,
                 **kwargs) -> None:
        # every Conv2d ~ Normal(0, 0.01), no classification bias prior: the
        # stock prior (bias -4.6 before a ReLU) would silence the projector
        check_int(type(self).__name__, 'embed_dim', embed_dim, 1)
        check_int(type(self).__name__, 'num_samples', num_samples, 1)
        kwargs.setdefault('init_cfg', dict(PROJECTOR_HEAD_INIT))
        super().__init__(*args, **kwargs)
        self.embed_dim = embed_dim
        self.num_samples = num_samples
        self.conv_cls = nn.Sequential(
            nn.Conv2d(self.feat_channels, self.feat_channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(self.feat_channels, embed_dim, 1))

    def view_forward(self, x: Tuple[Tensor], batch_data_samples: SampleList,
                     with_loss: bool) -> ViewOutput:
        """Embeddings and ids of the sampled points, plus ``loss_bbox`` and
        ``loss_centerness`` if ``with_loss``.

        Args:
            x: FPN levels, each (B, C, H, W).
            batch_data_samples: samples with proposals and ``instances_ids``.
            with_loss: compute the regression losses (online view).
        """
        embeds, bbox_preds, centernesses = self(x)
        batch_gt, _, _ = unpack_gt_instances(batch_data_samples)
        num_images = embeds[0].size(0)
        points = self.prior_generator.grid_priors(
            [e.shape[-2:] for e in embeds], dtype=bbox_preds[0].dtype,
            device=bbox_preds[0].device)
        labels, bbox_targets = self.get_targets(
            points, instances_with_encoded_ids(batch_gt))
        ids = decode_labels_as_ids(torch.cat(labels))
        flat_embeds = torch.cat(
            [e.permute(0, 2, 3, 1).reshape(-1, self.embed_dim) for e in embeds])

        pos = _random_subset((ids >= 0).nonzero().squeeze(1), self.num_samples)
        neg = _random_subset((ids < 0).nonzero().squeeze(1),
                             self.num_samples - pos.numel())
        sampled = torch.cat([pos, neg])

        losses = {}
        if with_loss:
            flat_bbox_preds = torch.cat(
                [b.permute(0, 2, 3, 1).reshape(-1, 4) for b in bbox_preds])
            flat_centerness = torch.cat(
                [c.permute(0, 2, 3, 1).reshape(-1) for c in centernesses])
            flat_points = torch.cat([p.repeat(num_images, 1) for p in points])
            pos_bbox_preds = flat_bbox_preds[pos]
            pos_centerness = flat_centerness[pos]
            pos_bbox_targets = torch.cat(bbox_targets)[pos]
            num_pos = max(
                reduce_mean(pos_centerness.new_tensor(float(pos.numel()))), 1.0)
            if pos.numel() > 0:
                centerness_targets = self.centerness_target(pos_bbox_targets)
                centerness_denorm = max(
                    reduce_mean(centerness_targets.sum().detach()), 1e-6)
                pos_points = flat_points[pos]
                losses['loss_bbox'] = self.loss_bbox(
                    self.bbox_coder.decode(pos_points, pos_bbox_preds),
                    self.bbox_coder.decode(pos_points, pos_bbox_targets),
                    weight=centerness_targets, avg_factor=centerness_denorm)
                losses['loss_centerness'] = self.loss_centerness(
                    pos_centerness, centerness_targets, avg_factor=num_pos)
            else:
                losses['loss_bbox'] = pos_bbox_preds.sum()
                losses['loss_centerness'] = pos_centerness.sum()
        return ViewOutput(flat_embeds[sampled], ids[sampled], losses)
