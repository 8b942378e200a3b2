"""Adapter-equipped twins of mmpretrain's ViT blocks (pad.md §1.2, §10).

Each twin only overrides ``forward``; the adapter is added by
:func:`mmpad.core.adapters.inject_adapters`, so the stock keys
(``ln1``, ``attn``, ``ln2``, ``ffn``, ``gamma_1/2``) are unchanged.

M is the FFN's layer stack applied to ``ln2(x)``: after the FFN's own dropout,
before its layer-scale ``gamma2``, before DropPath and without identity.
"""
from __future__ import annotations

import torch
from mmpretrain.models.backbones.beit import BEiTTransformerEncoderLayer
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from torch import Tensor

from mmpad.core.adapters import register_adapted_layer


def check_standard_ffn(layer) -> None:
    """Raise unless ``layer.ffn`` is mmcv's FFN (``layers``, ``gamma2``,
    ``dropout_layer``)."""
    if not all(hasattr(layer.ffn, a) for a in ('layers', 'gamma2',
                                               'dropout_layer')):
        raise TypeError(
            f'{type(layer).__name__}.ffn is a {type(layer.ffn).__name__}; PAD '
            "adapters support the standard FFN (ffn_type='origin') only")


def ffn_branch(layer, x: Tensor) -> Tensor:
    """M = FFN layers (ln2(x)), (B, T, C)."""
    return layer.ffn.layers(layer.ln2(x))


def ffn_residual_term(layer, mlp_out: Tensor) -> Tensor:
    """What the stock FFN adds to the residual for a given M: DropPath(γ·M)."""
    return layer.ffn.dropout_layer(layer.ffn.gamma2(mlp_out))


@register_adapted_layer(TransformerEncoderLayer)
class PADTransformerEncoderLayer(TransformerEncoderLayer):
    """``TransformerEncoderLayer`` + patchwise-scale adapter.

    x <- x + Attn(LN1 x);  M <- FFN(LN2 x);  x <- x + s*A + DropPath(γ2 M).
    """

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, T, C) -> (B, T, C)."""
        x = x + self.attn(self.ln1(x))
        mlp_out = ffn_branch(self, x)
        return x + self.adapter(x, mlp_out) + ffn_residual_term(self, mlp_out)

    check_adaptable = staticmethod(check_standard_ffn)


@register_adapted_layer(BEiTTransformerEncoderLayer)
class PADBEiTTransformerEncoderLayer(BEiTTransformerEncoderLayer):
    """BEiT block (layer scale γ1/γ2, relative position bias) + adapter.

    The attention is applied in both branches (γ present or not; pad.md
    defect 3). The adapter term bypasses γ2 and DropPath (pad.md §1.2).
    """

    check_adaptable = staticmethod(check_standard_ffn)

    def forward(self, x: Tensor, rel_pos_bias: torch.Tensor) -> Tensor:
        """x: (B, T, C) -> (B, T, C)."""
        attn = self.attn(self.ln1(x), rel_pos_bias=rel_pos_bias)
        if self.gamma_1 is not None:
            attn = self.gamma_1 * attn
        x = x + self.drop_path(attn)
        mlp_out = ffn_branch(self, x)
        ffn_out = ffn_residual_term(self, mlp_out)
        if self.gamma_2 is not None:
            ffn_out = self.gamma_2 * ffn_out
        return x + self.adapter(x, mlp_out) + self.drop_path(ffn_out)
