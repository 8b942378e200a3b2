"""RoI head for AlignDet pre-training (the R-CNN stage).

RoIs are the view's RPN proposals plus the proposals themselves (the sampler's
``add_gt_as_proposals``), assigned by max-IoU (0.5) and sampled positives-only.
Each RoI carries the instance id of its matched proposal; its embedding comes from
the box head's projector. Regression is the stock L1 on class-agnostic delta
targets, averaged over RoIs.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi

from mmpad.aligndet.instance_ids import BACKGROUND_ID
from mmpad.aligndet.view_output import ViewOutput


@MODELS.register_module()
class EmbedRoIHead(StandardRoIHead):
    """``StandardRoIHead`` that returns RoI embeddings and instance ids.

    Needs an embedding box head (e.g. ``Shared4Conv1FCEmbedBBoxHead``) and no mask
    head (the mask branch is not pre-trained).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.with_mask:
            raise ValueError('EmbedRoIHead pre-trains the box branch only: set '
                             'roi_head.mask_roi_extractor=None, mask_head=None')
        if not hasattr(self.bbox_head, 'embed_dim'):
            raise ValueError(
                f'EmbedRoIHead needs an embedding box head, got '
                f'{type(self.bbox_head).__name__}; use '
                'Shared4Conv1FCEmbedBBoxHead or Shared2FCEmbedBBoxHead')

    def view_forward(self, x: Tuple[Tensor], rpn_results_list: List[InstanceData],
                     batch_data_samples: SampleList,
                     with_loss: bool) -> ViewOutput:
        """Embeddings and ids of the sampled RoIs, plus ``loss_bbox`` if
        ``with_loss``.

        Args:
            x: FPN levels, each (B, C, H, W).
            rpn_results_list: per image, RPN proposals (``bboxes``, ``scores``).
            batch_data_samples: samples with proposals and ``instances_ids``.
            with_loss: compute the regression loss (online view).
        """
        batch_gt, batch_ignore, _ = unpack_gt_instances(batch_data_samples)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            rpn_results = InstanceData(priors=rpn_results.bboxes,
                                       scores=rpn_results.scores)
            assign_result = self.bbox_assigner.assign(rpn_results, batch_gt[i],
                                                      batch_ignore[i])
            sampling_results.append(self.bbox_sampler.sample(
                assign_result, rpn_results, batch_gt[i],
                feats=[lvl_feat[i][None] for lvl_feat in x]))

        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        ids = torch.cat([
            torch.cat([
                gt.instances_ids[res.pos_assigned_gt_inds].long(),
                res.pos_assigned_gt_inds.new_full((res.neg_inds.numel(), ),
                                                  BACKGROUND_ID)
            ]) for gt, res in zip(batch_gt, sampling_results)
        ])

        losses = {}
        if with_loss:
            _, _, bbox_targets, bbox_weights = self.bbox_head.get_targets(
                sampling_results, self.train_cfg, concat=True)
            bbox_pred = bbox_results['bbox_pred']
            if self.bbox_head.reg_decoded_bbox:
                bbox_pred = self.bbox_head.bbox_coder.decode(rois[:, 1:], bbox_pred)
            pos = ids >= 0
            losses['loss_bbox'] = self.bbox_head.loss_bbox(
                bbox_pred[pos], bbox_targets[pos], bbox_weights[pos],
                avg_factor=bbox_targets.size(0))
        return ViewOutput(bbox_results['cls_score'], ids, losses)
