"""DETR head for AlignDet pre-training.

The classifier stays: ``fc_cls`` predicts the proposals' cluster ids (256 k-means
clusters of proposal features, see ``tools/aligndet_cluster_proposals.py``),
because Hungarian matching needs class information. An extra projector
``Linear(E, E) -> ReLU -> Linear(E, D)`` embeds the decoder outputs of **all**
layers, (L, B, Q, E) -> (L*B*Q, D).

Each layer's queries get instance ids from that layer's own class-aware Hungarian
matching (the same costs as the loss: classification 1, L1 5, GIoU 2). This is
mmpad's fix of the reference's instance matching, which indexed cluster
probabilities with instance ids, a cost without meaning (liming-ai/AlignDet commit
601a549, issue #7). Unmatched queries are negatives (id -1).

Losses are the stock per-layer DETR losses (CE x1, L1 x5, GIoU x2) against the
proposals with cluster labels, with the reference's weighting: the no-object
class has weight 1 (stock DETR: 0.1) and the classification loss is normalised by
the number of matched queries.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import DETRHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy

from mmpad.core.arg_check import check_int
from mmpad.aligndet.instance_ids import BACKGROUND_ID
from mmpad.aligndet.view_output import ViewOutput


@MODELS.register_module()
class DETREmbedHead(DETRHead):
    """``DETRHead`` with a query-embedding projector and per-layer instance ids.

    Args:
        embed_dim: embedding width D.
        *args, **kwargs: as for :class:`mmdet.models.DETRHead`; ``loss_cls`` must
            not set ``class_weight`` / ``bg_cls_weight`` (the weighting is fixed,
            see the module docstring).
    """

    def __init__(self, *args, embed_dim: int = 256, **kwargs) -> None:
        check_int(type(self).__name__, 'embed_dim', embed_dim, 1)
        loss_cls = kwargs.setdefault(
            'loss_cls',
            dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
        bad = [k for k in ('class_weight', 'bg_cls_weight') if k in loss_cls]
        if bad:
            raise ValueError(
                f'DETREmbedHead.loss_cls must not set {bad}: AlignDet keeps the '
                'no-object weight at 1 and normalises by the matched queries '
                '(as the reference does)')
        super().__init__(*args, **kwargs)
        self.embed_dim = embed_dim
        self.projector = nn.Sequential(
            nn.Linear(self.embed_dims, self.embed_dims),
            nn.ReLU(inplace=True),
            nn.Linear(self.embed_dims, embed_dim))

    @torch.no_grad()
    def match_instance_ids(self, all_cls_scores: Tensor, all_bbox_preds: Tensor,
                           batch_gt_instances: list,
                           batch_img_metas: list) -> Tensor:
        """Instance id of every query of every layer, (L, B, Q); -1 if unmatched.

        Args:
            all_cls_scores: (L, B, Q, C + 1) logits.
            all_bbox_preds: (L, B, Q, 4) normalised (cx, cy, w, h).
        """
        ids = all_cls_scores.new_full(all_cls_scores.shape[:3], BACKGROUND_ID,
                                      dtype=torch.long)
        for layer in range(all_cls_scores.size(0)):
            for i, (gt, meta) in enumerate(zip(batch_gt_instances,
                                               batch_img_metas)):
                img_h, img_w = meta['img_shape']
                factor = all_bbox_preds.new_tensor([img_w, img_h, img_w, img_h])
                pred = InstanceData(
                    scores=all_cls_scores[layer, i],
                    bboxes=bbox_cxcywh_to_xyxy(all_bbox_preds[layer, i]) * factor)
                gt_inds = self.assigner.assign(
                    pred_instances=pred, gt_instances=gt, img_meta=meta).gt_inds
                matched = gt_inds > 0
                ids[layer, i, matched] = gt.instances_ids[gt_inds[matched] - 1].long()
        return ids

    def view_forward(self, hidden_states: Tensor, batch_data_samples: SampleList,
                     with_loss: bool) -> ViewOutput:
        """Query embeddings and ids of all decoder layers, plus the stock DETR
        losses if ``with_loss``.

        Args:
            hidden_states: (L, B, Q, E) decoder outputs of every layer.
            batch_data_samples: samples with proposals (``bboxes``, cluster
                ``labels``) and ``instances_ids``.
            with_loss: compute the DETR losses (online view).
        """
        batch_gt, _, batch_metas = unpack_gt_instances(batch_data_samples)
        all_cls_scores, all_bbox_preds = self(hidden_states)
        ids = self.match_instance_ids(all_cls_scores, all_bbox_preds, batch_gt,
                                      batch_metas)
        embeds = self.projector(hidden_states)
        losses = {}
        if with_loss:
            losses = self.loss_by_feat(all_cls_scores, all_bbox_preds, batch_gt,
                                       batch_metas)
        return ViewOutput(embeds.reshape(-1, self.embed_dim), ids.reshape(-1),
                          losses)
