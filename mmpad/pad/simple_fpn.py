"""ViTDet's simple feature pyramid for mmdet (the neck of PAD's FLIR detector).

The design follows ViTDet (Li et al., "Exploring Plain Vision Transformer Backbones
for Object Detection", ECCV 2022) and the module of the same name in mmdetection's
``projects/ViTDet`` (not installed with mmdet 3.3.0): from the single stride-16 map
of a plain ViT build strides 4, 8, 16, 32 with deconvolutions / max-pooling, a 1x1
lateral and a 3x3 output conv per level (LayerNorm), plus a P6 level sub-sampled
from the last output.

Also registers mmpretrain's channel-first LayerNorm as ``LN2d`` in mmdet's
registry (the norm ViTDet uses in the neck and the box head).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from mmpretrain.models.utils.norm import LayerNorm2d
from torch import Tensor

from mmpad.core.arg_check import check_int

if 'LN2d' not in MODELS.module_dict:
    MODELS.register_module('LN2d', module=LayerNorm2d)


@MODELS.register_module()
class SimpleFPN(BaseModule):
    """Simple feature pyramid: scales (4, 2, 1, 0.5) of the last ViT map + P6.

    Args:
        backbone_channel: channels C of the ViT feature map.
        in_channels: channels of the four rescaled maps; must be
            ``[C // 4, C // 2, C, C]``.
        out_channels: channels of every output level.
        num_outs: number of outputs; levels beyond the four rescaled ones are
            stride-2 sub-samplings of the last output (P6).
        conv_cfg / norm_cfg / act_cfg: of the lateral and output convs and of
            the norm inside the x4 branch (ViTDet: ``dict(type='LN2d')``).

    Forward: ``inputs`` is a tuple whose last element is the (B, C, H, W)
    stride-16 map; returns ``num_outs`` maps of (B, out_channels, 4H/2^i, 4W/2^i).
    """

    def __init__(self,
                 backbone_channel: int,
                 in_channels: Sequence[int],
                 out_channels: int,
                 num_outs: int,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='LN2d', requires_grad=True),
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        owner = type(self).__name__
        check_int(owner, 'backbone_channel', backbone_channel, 4)
        check_int(owner, 'out_channels', out_channels, 1)
        check_int(owner, 'num_outs', num_outs, 4)
        super().__init__(init_cfg=init_cfg)
        c = backbone_channel
        expected = [c // 4, c // 2, c, c]
        if list(in_channels) != expected:
            raise ValueError(f'SimpleFPN: in_channels must be {expected} for '
                             f'backbone_channel={c}, got {list(in_channels)}')
        if num_outs < 4:
            raise ValueError(f'SimpleFPN: num_outs must be >= 4, got {num_outs}')
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_outs = num_outs

        self.fpn1 = nn.Sequential(
            nn.ConvTranspose2d(c, c // 2, 2, 2),
            build_norm_layer(norm_cfg, c // 2)[1], nn.GELU(),
            nn.ConvTranspose2d(c // 2, c // 4, 2, 2))
        self.fpn2 = nn.Sequential(nn.ConvTranspose2d(c, c // 2, 2, 2))
        self.fpn3 = nn.Sequential(nn.Identity())
        self.fpn4 = nn.Sequential(nn.MaxPool2d(kernel_size=2, stride=2))

        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for ch in self.in_channels:
            self.lateral_convs.append(
                ConvModule(ch, out_channels, 1, conv_cfg=conv_cfg,
                           norm_cfg=norm_cfg, act_cfg=act_cfg, inplace=False))
            self.fpn_convs.append(
                ConvModule(out_channels, out_channels, 3, padding=1,
                           conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                           act_cfg=act_cfg, inplace=False))

    def forward(self, inputs: Tuple[Tensor]) -> Tuple[Tensor, ...]:
        x = inputs[-1]
        feats: List[Tensor] = [
            self.fpn1(x), self.fpn2(x), self.fpn3(x), self.fpn4(x)]
        outs = [fpn_conv(lateral(f)) for f, lateral, fpn_conv in
                zip(feats, self.lateral_convs, self.fpn_convs)]
        while len(outs) < self.num_outs:  # P6 (detectron2's LastLevelMaxPool)
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)
