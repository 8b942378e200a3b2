"""RetinaNet head for AlignDet pre-training.

The classifier ``retina_cls`` becomes the embedding projector
``Conv1x1(C, C) -> ReLU -> Conv1x1(C, A * D)``: one D-dim vector per anchor.
Anchors are assigned to proposals by the stock max-IoU assigner and sampled by the
configured sampler (AlignDet: all positives, filled with negatives up to 2,048 per
image); sampled background anchors are contrastive negatives. Regression is the
stock L1 on deltas, averaged over positive anchors.

Embeddings, ids and weights are flattened in **one** order, image-major then
level, position and anchor, which fixes the reference's level-major / image-major
mismatch with 2+ images per GPU.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmdet.models.dense_heads import RetinaHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import cat_boxes, get_box_tensor

from mmpad.core.arg_check import check_int
from mmpad.aligndet.instance_ids import decode_labels_as_ids, instances_with_encoded_ids
from mmpad.aligndet.view_output import ViewOutput

#: AlignDet's init of the RetinaNet / FCOS heads (no bias-prior override).
PROJECTOR_HEAD_INIT = dict(type='Normal', layer='Conv2d', std=0.01)


@MODELS.register_module()
class RetinaEmbedHead(RetinaHead):
    """``RetinaHead`` with an embedding projector in place of ``retina_cls``.

    Args:
        embed_dim: width D of the per-anchor embedding.
        *args, **kwargs: as for :class:`mmdet.models.RetinaHead` (``num_classes``
            only sizes the discarded stock classifier).
    """

    def __init__(self, *args, embed_dim: int = 256, **kwargs) -> None:
        # every Conv2d ~ Normal(0, 0.01), no classification bias prior: the
        # stock prior (bias -4.6 before a ReLU) would silence the projector
        check_int(type(self).__name__, 'embed_dim', embed_dim, 1)
        kwargs.setdefault('init_cfg', dict(PROJECTOR_HEAD_INIT))
        super().__init__(*args, **kwargs)
        self.embed_dim = embed_dim
        self.retina_cls = nn.Sequential(
            nn.Conv2d(self.feat_channels, self.feat_channels, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(self.feat_channels, self.num_base_priors * embed_dim, 1))

    def flatten_per_image(self, maps: List[Tensor], channels: int) -> Tensor:
        """Level maps [(B, A*channels, H, W)] -> (B * sum(H*W*A), channels),
        image-major, then level, position and anchor (the anchors' order)."""
        num_images = maps[0].size(0)
        return torch.cat([
            torch.cat([m[i].permute(1, 2, 0).reshape(-1, channels) for m in maps])
            for i in range(num_images)
        ])

    def view_forward(self, x: Tuple[Tensor], batch_data_samples: SampleList,
                     with_loss: bool) -> ViewOutput:
        """Embeddings and ids of the sampled anchors, plus ``loss_bbox`` if
        ``with_loss``.

        Args:
            x: FPN levels, each (B, C, H, W).
            batch_data_samples: samples whose ``gt_instances`` hold the
                proposals (``bboxes``) and batch-unique ``instances_ids``.
            with_loss: compute the regression loss (online view).
        """
        embeds, bbox_preds = self(x)
        batch_gt, batch_ignore, batch_metas = unpack_gt_instances(
            batch_data_samples)
        anchor_list, valid_flag_list = self.get_anchors(
            [e.shape[-2:] for e in embeds], batch_metas, device=embeds[0].device)
        gts = instances_with_encoded_ids(batch_gt)

        labels, label_weights, bbox_targets, bbox_weights, anchors = \
            [], [], [], [], []
        for i, meta in enumerate(batch_metas):
            flat_anchors = cat_boxes(anchor_list[i])
            targets = self._get_targets_single(
                flat_anchors, torch.cat(valid_flag_list[i]), gts[i], meta,
                batch_ignore[i])
            for out, value in zip(
                    (labels, label_weights, bbox_targets, bbox_weights),
                    targets[:4]):
                out.append(value)
            anchors.append(get_box_tensor(flat_anchors))
        ids = decode_labels_as_ids(torch.cat(labels))
        sampled = torch.cat(label_weights) > 0
        flat_embeds = self.flatten_per_image(embeds, self.embed_dim)

        losses = {}
        if with_loss:
            target_dim = bbox_targets[0].size(-1)
            preds = self.flatten_per_image(bbox_preds, self.bbox_coder.encode_size)
            if self.reg_decoded_bbox:
                preds = get_box_tensor(
                    self.bbox_coder.decode(torch.cat(anchors), preds))
            num_pos = max(int((ids >= 0).sum()), 1)
            losses['loss_bbox'] = self.loss_bbox(
                preds.reshape(-1, target_dim), torch.cat(bbox_targets),
                torch.cat(bbox_weights), avg_factor=num_pos)
        return ViewOutput(flat_embeds[sampled], ids[sampled], losses)
