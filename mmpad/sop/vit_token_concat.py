"""``token_concat`` fusion for ViTs (mmpad's design; the SOP paper's abstract does
not say how image and sub-image are fused).

``SOPVisionTransformer`` is mmseg's ``VisionTransformer`` plus one parameter, a
2-entry segment embedding. Called with a sub-image, it runs the shared patch
embedding on I and on S, gives each token sequence its own (resized) position
embedding plus its segment embedding, concatenates ``[cls, I tokens, S tokens]``
through the transformer, and returns feature maps of the I tokens only (S tokens
are dropped before the neck). Called without one, it is the stock ViT, and its
parameter names are the stock ones: going downstream only ``segment_embed`` is
dropped.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_

from mmseg.models.backbones import VisionTransformer
from mmseg.registry import MODELS


@MODELS.register_module()
class SOPVisionTransformer(VisionTransformer):
    """mmseg ``VisionTransformer`` that can attend jointly to an image and a
    sub-image. Arguments are those of ``VisionTransformer``."""

    accepts_sub_inputs = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.segment_embed = nn.Parameter(
            torch.zeros(2, self.cls_token.shape[-1]))

    def init_weights(self) -> None:
        super().init_weights()
        trunc_normal_(self.segment_embed, std=.02)

    def _to_map(self, x: torch.Tensor, start: int, hw: Tuple[int, int]):
        """I-token slice of (B, L, C) tokens -> (B, C, h, w) [+ cls token]."""
        out = x[:, start:start + hw[0] * hw[1]]
        B, _, C = out.shape
        out = out.reshape(B, hw[0], hw[1], C).permute(0, 3, 1, 2).contiguous()
        if self.output_cls_token:
            return [out, x[:, 0]]
        return out

    def forward(self, inputs: torch.Tensor,
                sub_inputs: Optional[torch.Tensor] = None) -> Tuple:
        """
        Args:
            inputs: (B, 3, H, W) image.
            sub_inputs: (B, 3, h, w) sub-image, or None for the stock ViT.
        Returns:
            Feature maps (B, C, H/p, W/p) of the image tokens at ``out_indices``.
        """
        if sub_inputs is None:
            return super().forward(inputs)
        B = inputs.shape[0]
        x_img, hw = self.patch_embed(inputs)
        x_sub, hw_sub = self.patch_embed(sub_inputs)
        cls = self.cls_token.expand(B, -1, -1)
        x_img = self._pos_embeding(torch.cat([cls, x_img], 1), hw, self.pos_embed)
        x_sub = self._pos_embeding(torch.cat([cls, x_sub], 1), hw_sub,
                                   self.pos_embed)[:, 1:]
        x = torch.cat([x_img[:, :1], x_img[:, 1:] + self.segment_embed[0],
                       x_sub + self.segment_embed[1]], dim=1)
        start = 1
        if not self.with_cls_token:
            x, start = x[:, 1:], 0
        if self.pre_norm:
            x = self.pre_ln(x)

        outs: List = []
        if self.out_origin:
            outs.append(self._to_map(x, start, hw))
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.norm1(x)
            if i in self.out_indices:
                outs.append(self._to_map(x, start, hw))
        return tuple(outs)
