"""AlignDet box-domain pre-trainer, after mmdet's
``SemiBaseDetector``: two complete detectors built from one ordinary mmdet
detector config.

* ``online`` sees view ``'online'`` and is trained; ``target`` sees view
  ``'target'``, runs without gradients **in train mode** (as in the reference) and is an
  exponential moving average of ``online`` (``AlignDetMomentumHook``).
* In both, the backbone is frozen: run under ``no_grad``, kept in eval mode, its
  parameters excluded from gradients. Only necks and heads learn.
* The detector's classifier is an embedding projector (``RetinaEmbedHead``,
  ``FCOSEmbedHead``, ``EmbedRoIHead`` + ``Shared4Conv1FCEmbedBBoxHead``,
  ``DETREmbedHead``). Each family returns a :class:`ViewOutput` (embeddings,
  instance ids, its own regression losses against the proposals), and one
  :class:`BoxContrastiveLoss` contrasts the online and target embeddings.
* The target is synchronised with the online detector after weight
  initialisation and again by the hook before the first iteration, i.e. after
  ``load_from`` (the reference copied before the global weight init, which then
  re-initialised the two independently).

A pre-training checkpoint is not a detector: convert it with
``tools/aligndet_to_mmdet.py``.
"""
from __future__ import annotations

import copy
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from torch import Tensor

from mmdet.models.detectors import (BaseDetector, DetectionTransformer,
                                    SingleStageDetector, TwoStageDetector)
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig

from mmpad.core.arg_check import check_str_list
from mmpad.aligndet.instance_ids import batch_instance_ids
from mmpad.aligndet.view_output import ViewOutput

ONLINE, TARGET = 'online', 'target'


@MODELS.register_module()
class AlignDetPretrainer(BaseDetector):
    """Online detector + momentum target with box-level contrastive learning.

    Args:
        detector: an mmdet detector config whose heads are AlignDet embedding
            heads (see the module docstring).
        loss_contrast: the box contrastive loss.
        copy_param_keys: parameters whose name contains one of these are copied,
            not averaged, into the target (DETR's ``query_embedding``).
        data_preprocessor: a ``MultiBranchDataPreprocessor``.
        init_cfg: initialisation config.
    """

    def __init__(self,
                 detector: ConfigType,
                 loss_contrast: ConfigType = dict(
                     type='BoxContrastiveLoss', temperature=0.5, loss_weight=1.0),
                 copy_param_keys: Sequence[str] = ('query_embedding', ),
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        copy_param_keys = tuple(check_str_list(
            type(self).__name__, 'copy_param_keys', copy_param_keys))
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.online = MODELS.build(ConfigDict(copy.deepcopy(detector)))
        self.target = MODELS.build(ConfigDict(copy.deepcopy(detector)))
        self.family = self._family(self.online)
        self.loss_contrast = MODELS.build(loss_contrast)
        self.copy_param_keys = copy_param_keys
        for detector_ in (self.online, self.target):
            detector_.backbone.requires_grad_(False)
        self.target.requires_grad_(False)

    @staticmethod
    def _family(detector: nn.Module) -> str:
        name = type(detector).__name__
        if isinstance(detector, TwoStageDetector):
            head = detector.roi_head
            if not hasattr(head, 'view_forward'):
                raise TypeError(
                    f'{name}: roi_head {type(head).__name__} has no embedding '
                    "branch; use roi_head.type='EmbedRoIHead' with "
                    "bbox_head.type='Shared4Conv1FCEmbedBBoxHead'")
            return 'two_stage'
        if isinstance(detector, (SingleStageDetector, DetectionTransformer)):
            head = detector.bbox_head
            if not hasattr(head, 'view_forward'):
                raise TypeError(
                    f'{name}: bbox_head {type(head).__name__} has no embedding '
                    'projector; use RetinaEmbedHead, FCOSEmbedHead or '
                    'DETREmbedHead')
            return 'detr' if isinstance(detector, DetectionTransformer) \
                else 'single_stage'
        raise TypeError(f'AlignDetPretrainer does not support {name}; supported: '
                        'two-stage (Faster/Mask R-CNN), single-stage (RetinaNet, '
                        'FCOS) and DETR detectors')

    # ---------------------------------------------------------------- target --
    def init_weights(self) -> None:
        """Initialise both detectors, then make the target a copy of online."""
        super().init_weights()
        self.sync_target()

    def _pairs(self, tensors: str) -> list:
        """``(online, target)`` pairs of ``'parameters'`` or ``'buffers'``, in
        module order. Under FSDP each is this rank's shard; the two detectors
        must then be wrapped alike (as ``pad_fsdp_wrap_policy`` does), so that
        equal positions hold equal slices."""
        online = list(getattr(self.online, tensors)())
        target = list(getattr(self.target, tensors)())
        pairs = list(zip(online, target))
        bad = [f'{tuple(o.shape)} vs {tuple(t.shape)}' for o, t in pairs
               if o.shape != t.shape]
        if bad or len(online) != len(target):
            raise RuntimeError(
                f'AlignDetPretrainer: online and target {tensors} are laid out '
                f'differently ({len(online)} vs {len(target)} tensors, '
                f'{len(bad)} pairs differ in shape, e.g. {bad[:1]}): under FSDP '
                'both detectors must be split into the same units '
                "(auto_wrap_policy=dict(type='pad_fsdp_wrap_policy', "
                "split_modules=[<detector class>, <head class>, ...]))")
        return pairs

    @torch.no_grad()
    def sync_target(self) -> None:
        """target <- online, parameters and buffers (tensor by tensor: this also
        works on FSDP shards, where ``state_dict`` would gather)."""
        for online, target in self._pairs('parameters') + self._pairs('buffers'):
            target.copy_(online)

    @torch.no_grad()
    def momentum_update(self, momentum: float) -> None:
        """target <- m * target + (1 - m) * online, parameters only.

        Frozen (backbone) parameters never change and are skipped, so they stay
        bit-identical; ``copy_param_keys`` parameters are copied.
        """
        names = [n for n, _ in self.online.named_parameters()]
        for name, (online, target) in zip(names, self._pairs('parameters')):
            if any(key in name for key in self.copy_param_keys):
                target.copy_(online)
            elif online.requires_grad:
                target.mul_(momentum).add_(online, alpha=1. - momentum)

    def train(self, mode: bool = True) -> 'AlignDetPretrainer':
        """Train mode for necks and heads of both detectors (the target keeps
        its dropout, as in the reference); backbones always in eval mode."""
        super().train(mode)
        self.online.backbone.eval()
        self.target.backbone.eval()
        return self

    # -------------------------------------------------------------- forward --
    @staticmethod
    def _frozen_features(detector: nn.Module, img: Tensor) -> Tuple[Tensor]:
        with torch.no_grad():
            feats = detector.backbone(img)
        return detector.neck(feats) if detector.with_neck else feats

    def _view(self, detector: nn.Module, img: Tensor,
              batch_data_samples: SampleList, with_loss: bool) -> ViewOutput:
        """One detector on one view: embeddings, ids and (online) losses."""
        x = self._frozen_features(detector, img)
        if self.family == 'single_stage':
            return detector.bbox_head.view_forward(x, batch_data_samples,
                                                   with_loss)
        if self.family == 'detr':
            head_inputs = detector.forward_transformer(x, batch_data_samples)
            return detector.bbox_head.view_forward(head_inputs['hidden_states'],
                                                   batch_data_samples, with_loss)
        losses, rpn_results = self._rpn(detector, x, batch_data_samples,
                                        with_loss)
        out = detector.roi_head.view_forward(x, rpn_results, batch_data_samples,
                                             with_loss)
        losses.update(out.losses)
        return ViewOutput(out.embeds, out.ids, losses)

    @staticmethod
    def _rpn(detector: nn.Module, x: Tuple[Tensor],
             batch_data_samples: SampleList,
             with_loss: bool) -> Tuple[Dict[str, Tensor], list]:
        """RPN losses (online) and proposals, as in ``TwoStageDetector.loss``;
        both views use the training proposal config."""
        proposal_cfg = detector.train_cfg.get('rpn_proposal',
                                              detector.test_cfg.rpn)
        rpn_samples = copy.deepcopy(batch_data_samples)
        for sample in rpn_samples:
            sample.gt_instances.labels = torch.zeros_like(
                sample.gt_instances.labels)
        if not with_loss:
            metas = [s.metainfo for s in rpn_samples]
            outs = detector.rpn_head(x)
            return {}, detector.rpn_head.predict_by_feat(
                *outs, batch_img_metas=metas, cfg=proposal_cfg, rescale=False)
        losses, results = detector.rpn_head.loss_and_predict(
            x, rpn_samples, proposal_cfg=proposal_cfg)
        for key in list(losses):
            if 'loss' in key and 'rpn' not in key:
                losses[f'rpn_{key}'] = losses.pop(key)
        return losses, results

    def loss(self, multi_batch_inputs: Dict[str, Tensor],
             multi_batch_data_samples: Dict[str, SampleList]) -> dict:
        """Losses from the two views.

        Args:
            multi_batch_inputs: ``{'online': (B, 3, H1, W1), 'target': (B, 3,
                H2, W2)}`` preprocessed images.
            multi_batch_data_samples: the views' data samples, whose
                ``gt_instances`` hold the proposals and their ``instances_ids``.

        Returns:
            The online detector's regression (and RPN / DETR) losses plus
            ``loss_contrast``.
        """
        for view in (ONLINE, TARGET):
            if view not in multi_batch_inputs:
                raise KeyError(
                    f'AlignDetPretrainer needs the views {ONLINE!r} and '
                    f'{TARGET!r} (MultiBranch branch_field), got '
                    f'{sorted(multi_batch_inputs)}')
        batch_instance_ids({view: multi_batch_data_samples[view]
                            for view in (ONLINE, TARGET)})
        online = self._view(self.online, multi_batch_inputs[ONLINE],
                            multi_batch_data_samples[ONLINE], with_loss=True)
        with torch.no_grad():
            target = self._view(self.target, multi_batch_inputs[TARGET],
                                multi_batch_data_samples[TARGET], with_loss=False)
        losses = dict(online.losses)
        losses['loss_contrast'] = self.loss_contrast(online.embeds, online.ids,
                                                     target.embeds, target.ids)
        return losses

    def predict(self, batch_inputs: Tensor,
                batch_data_samples: SampleList) -> SampleList:
        raise NotImplementedError(
            'An AlignDet pre-training model does not detect: convert the '
            'checkpoint with tools/aligndet_to_mmdet.py and fine-tune it')

    def _forward(self, batch_inputs: Tensor,
                 batch_data_samples: SampleList = None):
        """The online detector's raw head outputs (``mode='tensor'``)."""
        return self.online._forward(batch_inputs, batch_data_samples)

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor]:
        """The online detector's features (frozen backbone + neck)."""
        return self._frozen_features(self.online, batch_inputs)
