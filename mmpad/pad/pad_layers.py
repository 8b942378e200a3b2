"""Adapter-equipped twins of mmpretrain's ViT blocks.

Each twin is ``AdaptedBlockMixin`` + the stock block and only says how the stock
block computes its attention residual (and, for BEiT, where gamma and DropPath of
the FFN branch live); the block update ``x + s*A + DropPath(gamma * M)`` is
:meth:`~mmpad.core.adapters.adapted_block.AdaptedBlockMixin.adapted_update`.
The adapter is added by :func:`mmpad.core.adapters.adapt_blocks`, so the stock
keys (``ln1``, ``attn``, ``ln2``, ``ffn``, ``gamma_1/2``) are unchanged.

M is the FFN's layer stack applied to ``ln2(x)``: after the FFN's own dropout,
before the layer scale, before DropPath and without identity.

Twins: :class:`PADTransformerEncoderLayer` (ViT, MAE, MILAN, MaskFeat, MoCo v3,
...), :class:`PADBEiTTransformerEncoderLayer` (BEiT) and :class:`PADViTSAMLayer`
(ViTSAM, the ViTDet backbone of :class:`~mmpad.pad.pad_vit_det.PADViTDet`).
"""
from __future__ import annotations

from typing import Optional

import torch
from mmpretrain.models.backbones.beit import BEiTTransformerEncoderLayer
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from mmpretrain.models.backbones.vit_sam import \
    TransformerEncoderLayer as ViTSAMTransformerEncoderLayer
from mmpretrain.models.backbones.vit_sam import (window_partition,
                                                 window_unpartition)
from torch import Tensor

from mmpad.core.adapters import AdaptedBlockMixin, register_adapted_layer


def _scaled(gamma: Optional[Tensor], x: Tensor) -> Tensor:
    """gamma * x, or x without layer scale (``gamma is None``)."""
    return x if gamma is None else gamma * x


@register_adapted_layer(TransformerEncoderLayer)
class PADTransformerEncoderLayer(AdaptedBlockMixin, TransformerEncoderLayer):
    """``TransformerEncoderLayer`` + patchwise-scale adapter.

    x <- x + Attn(LN1 x) (DropPath and layer scale inside ``attn``);
    M <- FFN(LN2 x);  x <- x + s*A + DropPath(gamma2 M). Tokens (B, T, C).
    """

    def attention_residual(self, x: Tensor) -> Tensor:
        """x: (B, T, C) -> (B, T, C)."""
        return x + self.attn(self.ln1(x))


@register_adapted_layer(BEiTTransformerEncoderLayer)
class PADBEiTTransformerEncoderLayer(AdaptedBlockMixin,
                                     BEiTTransformerEncoderLayer):
    """BEiT block (layer scale gamma_1/gamma_2, relative position bias) + adapter.

    The attention is applied whether or not layer scale is used. The FFN branch
    gets the block's DropPath once, as in BEiT's reference code (mmpretrain's
    block also runs the FFN's own DropPath on it, a second drop); the adapter
    term bypasses gamma_2 and DropPath.
    """

    def attention_residual(self, x: Tensor, rel_pos_bias: torch.Tensor) -> Tensor:
        """x: (B, T, C) -> (B, T, C)."""
        attn = self.attn(self.ln1(x), rel_pos_bias=rel_pos_bias)
        return x + self.drop_path(_scaled(self.gamma_1, attn))

    def ffn_layer_scale(self, mlp_out: Tensor) -> Tensor:
        """gamma_2 * M (the FFN's own ``gamma2`` is the identity in BEiT)."""
        return _scaled(self.gamma_2, self.ffn.gamma2(mlp_out))

    def ffn_drop_path(self, x: Tensor) -> Tensor:
        """The block's DropPath (not the FFN's: it would drop a second time)."""
        return self.drop_path(x)


@register_adapted_layer(ViTSAMTransformerEncoderLayer)
class PADViTSAMLayer(AdaptedBlockMixin, ViTSAMTransformerEncoderLayer):
    """ViTSAM / ViTDet block (window or global attention) + adapter.

    x <- x + Attn(LN1 x) (no DropPath on attention, as in ViTSAM);
    x <- x + s*A + DropPath(M). Tokens are laid out as (B, H, W, C).
    """

    def _attention(self, x: Tensor) -> Tensor:
        """Window / global attention of ViTSAM. x: (B, H, W, C) -> same."""
        x = self.ln1(x)
        if self.window_size > 0:
            H, W = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, self.window_size)
        x = self.attn(x)
        if self.window_size > 0:
            x = window_unpartition(x, self.window_size, pad_hw, (H, W))
        return x

    def attention_residual(self, x: Tensor) -> Tensor:
        """x: (B, H, W, C) -> (B, H, W, C)."""
        return x + self._attention(x)
