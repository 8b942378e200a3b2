"""``siamese_gap`` fusion of image and sub-image features (mmpad's design; the SOP
paper's abstract does not say how image and sub-image are fused).

A shared backbone runs on I and on S; at every stage l, with g = GAP(F_S^l):

    F_I^l <- Conv1x1([F_I^l, F_I^l ⊙ g, cos(F_I^l, g)])

The 1×1 convs start as the identity on F_I (zero weights on the two correlation
inputs), so pretrained features pass unchanged at step 0. They are discarded when
the checkpoint goes downstream.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmpad.core.arg_check import arg_error, check_int


class SiameseGAPFusion(BaseModule):
    """Per-stage fusion of image features with the pooled sub-image features.

    Args:
        in_channels: channels C_l of each backbone output; ``None`` for a stage
            that no head reads (passed through without a conv, so that DDP sees
            no unused parameters).
    """

    def __init__(self, in_channels: Sequence[Optional[int]], init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(in_channels, (str, bytes)) or \
                not isinstance(in_channels, Sequence) or not in_channels:
            raise arg_error('SiameseGAPFusion', 'in_channels', in_channels,
                            'a non-empty list of ints >= 1 or None')
        self.in_channels = tuple(
            None if c is None else check_int('SiameseGAPFusion',
                                             f'in_channels[{i}]', c, lo=1)
            for i, c in enumerate(in_channels))
        self.convs = nn.ModuleDict({
            str(i): nn.Conv2d(2 * c + 1, c, kernel_size=1)
            for i, c in enumerate(self.in_channels) if c is not None})
        self.reset_to_identity()

    @torch.no_grad()
    def reset_to_identity(self) -> None:
        for key, conv in self.convs.items():
            c = conv.out_channels
            conv.weight.zero_()
            conv.weight[:, :c, 0, 0] = torch.eye(c)
            conv.bias.zero_()

    def forward(self, img_feats: Sequence[torch.Tensor],
                sub_feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """
        Args:
            img_feats: L maps (N, C_l, h_l, w_l) of the image.
            sub_feats: L maps (N, C_l, h'_l, w'_l) of the sub-image.
        Returns:
            L fused maps (N, C_l, h_l, w_l).
        """
        if not (len(img_feats) == len(sub_feats) == len(self.in_channels)):
            raise ValueError(
                f'SiameseGAPFusion was built for {len(self.in_channels)} stages '
                f'{self.in_channels}, got {len(img_feats)} image and '
                f'{len(sub_feats)} sub-image feature maps')
        out = []
        for i, (f_i, f_s) in enumerate(zip(img_feats, sub_feats)):
            conv = self.convs[str(i)] if str(i) in self.convs else None
            if conv is None:
                out.append(f_i)
                continue
            if f_i.shape[1] != conv.out_channels:
                raise ValueError(f'SiameseGAPFusion: stage with {f_i.shape[1]} '
                                 f'channels, expected {conv.out_channels}')
            g = f_s.mean(dim=(2, 3), keepdim=True)
            cos = F.cosine_similarity(f_i, g.expand_as(f_i), dim=1, eps=1e-6)
            out.append(conv(torch.cat([f_i, f_i * g, cos.unsqueeze(1)], dim=1)))
        return tuple(out)
