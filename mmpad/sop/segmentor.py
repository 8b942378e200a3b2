"""``SOPEncoderDecoder``: the downstream segmentor, trained to predict where a
sub-image lies in its parent image. The fusion modes below are mmpad's design (the
SOP paper's abstract does not say how image and sub-image are combined).

Inputs are the 6-channel ``[I ‖ S]`` tensors packed by ``SubimageOverlap`` (S
resized to the parent's size). ``fusion`` decides how the backbone sees them:

* ``early``: one backbone with a 6-channel input layer. When the backbone has a
  pretrained checkpoint, its 3-channel kernel is copied into both halves ×0.5.
* ``token_concat``: S is resized to ``sub_size`` (224) and the backbone
  (:class:`SOPVisionTransformer`) attends over image and sub-image tokens jointly.
* ``siamese_gap``: a shared backbone runs on I and on S (``sub_size``, 256);
  :class:`SiameseGAPFusion` mixes the pooled S features into every I stage.

The heads are the downstream ones in binary mode (``num_classes=2``,
``out_channels=1``); ``loss`` and ``predict`` are inherited from
``EncoderDecoder``. ``acc_seg`` is reported as binary pixel accuracy (mmseg's
top-1 accuracy is meaningless for one channel).
"""
from __future__ import annotations

import copy
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from mmpad.core.arg_check import (arg_error, check_choice, check_size,
                                   check_str, is_int)
from mmpad.core.checkpoint.reader import read_state_dict
from mmpad.sop.first_conv import find_input_conv, inflate_input_conv
from mmpad.sop.siamese_fusion import SiameseGAPFusion

FUSION_MODES = ('early', 'token_concat', 'siamese_gap')
_FUSION_ALIASES = {'siamese': 'siamese_gap', 'token': 'token_concat'}
_DEFAULT_SUB_SIZE = {'early': None, 'token_concat': (224, 224),
                     'siamese_gap': (256, 256)}


def binary_accuracy(seg_logits: Tensor, seg_label: Tensor, threshold: float,
                    ignore_index: int) -> Tensor:
    """Percentage of non-ignored pixels where ``sigmoid(logit) > threshold``
    equals the {0, 1} label. seg_logits (N, 1, H, W), seg_label (N, H, W)."""
    pred = (seg_logits[:, 0].sigmoid() > threshold).long()
    valid = seg_label != ignore_index
    correct = ((pred == seg_label) & valid).sum().float()
    return correct * 100.0 / valid.sum().clamp(min=1)


@MODELS.register_module()
class SOPEncoderDecoder(EncoderDecoder):
    """Encoder-decoder trained on Subimage Overlap Prediction.

    Args:
        backbone, decode_head, neck, auxiliary_head, train_cfg, test_cfg,
        data_preprocessor, pretrained, init_cfg: as ``EncoderDecoder``.
        fusion: ``'early'``, ``'token_concat'`` or ``'siamese_gap'``.
        sub_size: (h, w) the sub-image is resized to for ``token_concat`` /
            ``siamese_gap`` (defaults 224 / 256); unused by ``early``.
        fusion_channels: channels of the backbone outputs, for ``siamese_gap``.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 fusion: str = 'early',
                 sub_size: Union[int, Sequence[int], None] = None,
                 fusion_channels: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        owner = 'SOPEncoderDecoder'
        check_str(owner, 'fusion', fusion)
        fusion = _FUSION_ALIASES.get(fusion, fusion)
        check_choice(owner, 'fusion', fusion, FUSION_MODES)
        if sub_size is not None:
            sub_size = check_size(owner, 'sub_size', sub_size, lo=1)
        if fusion_channels is not None and (
                isinstance(fusion_channels, (str, bytes)) or
                not isinstance(fusion_channels, Sequence) or
                not all(c is None or is_int(c) and c > 0 for c in fusion_channels)):
            raise arg_error(owner, 'fusion_channels', fusion_channels,
                            'a list of ints > 0 (or None entries) or None')
        backbone = ConfigDict(copy.deepcopy(dict(backbone)))
        if fusion == 'early':
            in_ch = backbone.get('in_channels', 3)
            if in_ch not in (3, 6):
                raise ValueError('SOPEncoderDecoder(fusion="early"): backbone '
                                 f'in_channels must be 3 or 6, got {in_ch}')
            backbone['in_channels'] = 6
        super().__init__(backbone=backbone, decode_head=decode_head, **kwargs)
        self.fusion_mode = fusion
        if sub_size is None:
            sub_size = _DEFAULT_SUB_SIZE[fusion]
        elif isinstance(sub_size, int):
            sub_size = (sub_size, sub_size)
        self.sub_size: Optional[Tuple[int, int]] = \
            tuple(sub_size) if sub_size is not None else None

        if fusion == 'token_concat' and \
                not getattr(self.backbone, 'accepts_sub_inputs', False):
            raise TypeError(
                'SOPEncoderDecoder(fusion="token_concat") needs a backbone that '
                'takes (image, sub_image), e.g. SOPVisionTransformer; got '
                f'{type(self.backbone).__name__}')
        if fusion == 'siamese_gap':
            if not fusion_channels:
                raise ValueError('SOPEncoderDecoder(fusion="siamese_gap") needs '
                                 'fusion_channels, the channels of each backbone '
                                 'output, e.g. [256, 512, 1024, 2048] for ResNet-50')
            self.fusion = SiameseGAPFusion(fusion_channels)
        self._check_binary_heads()

    # ------------------------------------------------------------------ checks
    def _heads(self) -> List[BaseDecodeHead]:
        heads = [self.decode_head]
        if self.with_auxiliary_head:
            aux = self.auxiliary_head
            heads += list(aux) if isinstance(aux, torch.nn.ModuleList) else [aux]
        return heads

    def _check_binary_heads(self) -> None:
        for head in self._heads():
            if head.out_channels != 1:
                raise ValueError(
                    f'SOPEncoderDecoder: {type(head).__name__} has out_channels='
                    f'{head.out_channels}; SOP predicts one mask, set '
                    'num_classes=2, out_channels=1, threshold=0.5 in every head')

    # -------------------------------------------------------------- features
    def _split(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        if inputs.ndim != 4 or inputs.shape[1] != 6:
            raise ValueError(
                'SOPEncoderDecoder expects (N, 6, H, W) inputs [image ‖ sub-image] '
                f'from the SubimageOverlap transform, got {tuple(inputs.shape)}')
        return inputs[:, :3], inputs[:, 3:]

    def _resize_sub(self, sub: Tensor) -> Tensor:
        if self.sub_size is None or tuple(sub.shape[-2:]) == self.sub_size:
            return sub
        shrink = sub.shape[-2] > self.sub_size[0] or sub.shape[-1] > self.sub_size[1]
        return F.interpolate(sub, size=self.sub_size, mode='bilinear',
                             align_corners=False, antialias=shrink)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """(N, 6, H, W) -> the image's multi-level features (sub-image fused in)."""
        img, sub = self._split(inputs)
        if self.fusion_mode == 'early':
            x = self.backbone(inputs)
        elif self.fusion_mode == 'token_concat':
            x = self.backbone(img, self._resize_sub(sub))
        else:
            x = self.fusion(self.backbone(img), self.backbone(self._resize_sub(sub)))
        if self.with_neck:
            x = self.neck(x)
        return x

    # ------------------------------------------------------------------ losses
    def _head_loss(self, head: BaseDecodeHead, inputs: List[Tensor],
                   data_samples: SampleList) -> dict:
        if type(head).loss is not BaseDecodeHead.loss:  # custom loss(): keep it
            return head.loss(inputs, data_samples, self.train_cfg)
        seg_logits = head.forward(inputs)
        losses = head.loss_by_feat(seg_logits, data_samples)
        label = head._stack_batch_gt(data_samples)
        logits = F.interpolate(seg_logits, size=label.shape[2:], mode='bilinear',
                               align_corners=head.align_corners)
        losses['acc_seg'] = binary_accuracy(logits, label[:, 0], head.threshold,
                                            head.ignore_index)
        return losses

    def _decode_head_forward_train(self, inputs: List[Tensor],
                                   data_samples: SampleList) -> dict:
        losses = self._head_loss(self.decode_head, inputs, data_samples)
        return {f'decode.{k}': v for k, v in losses.items()}

    def _auxiliary_head_forward_train(self, inputs: List[Tensor],
                                      data_samples: SampleList) -> dict:
        if isinstance(self.auxiliary_head, torch.nn.ModuleList):
            out = {}
            for i, head in enumerate(self.auxiliary_head):
                losses = self._head_loss(head, inputs, data_samples)
                out.update({f'aux_{i}.{k}': v for k, v in losses.items()})
            return out
        losses = self._head_loss(self.auxiliary_head, inputs, data_samples)
        return {f'aux.{k}': v for k, v in losses.items()}

    # -------------------------------------------------------------------- init
    def init_weights(self) -> None:
        super().init_weights()
        if self.fusion_mode == 'early':
            self._inflate_pretrained_input_conv()

    def _pretrained_backbone_state(self) -> Optional[dict]:
        """The tensors of the backbone's ``init_cfg=dict(type='Pretrained')``
        checkpoint under its ``prefix`` (prefix stripped), None without one."""
        init_cfg = getattr(self.backbone, 'init_cfg', None)
        if not isinstance(init_cfg, dict) or init_cfg.get('type') != 'Pretrained':
            return None
        return dict(read_state_dict(init_cfg['checkpoint'],
                                    init_cfg.get('prefix') or None,
                                    allow_empty=True))

    @torch.no_grad()
    def _inflate_pretrained_input_conv(self) -> None:
        """Copy the pretrained 3-channel input kernel into both halves ×0.5."""
        state = self._pretrained_backbone_state()
        if state is None:
            return
        name = find_input_conv(self.backbone.named_parameters(), in_channels=6)
        if name is None or name not in state:
            print_log(f'SOP early fusion: no 6-channel input layer matching the '
                      f'pretrained checkpoint (layer {name!r}); left as initialised',
                      logger='current', level=30)
            return
        param = dict(self.backbone.named_parameters())[name]
        src = state[name]
        if src.shape[1] == 3:
            src = inflate_input_conv(src)
        if src.shape != param.shape:
            raise ValueError(f'SOP early fusion: pretrained backbone.{name} has shape '
                             f'{tuple(state[name].shape)}, model expects '
                             f'{tuple(param.shape)}')
        param.copy_(src.to(param))
        print_log(f'SOP early fusion: backbone.{name} initialised as 0.5·[W ‖ W] '
                  'from the pretrained 3-channel kernel', logger='current')
