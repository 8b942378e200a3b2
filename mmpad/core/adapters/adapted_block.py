"""The one block update of an adapter-equipped ViT block, for every host.

A ViT block with a patchwise-scale adapter computes::

    x <- x + AttnBranch(x)         # the host block's own attention residual
    M  = FFN.layers(LN2(x))        # before layer scale gamma and DropPath
    x <- x + s*A + DropPath(gamma * M)

where ``s*A = adapter(x, M)`` bypasses gamma and DropPath. :class:`AdaptedBlockMixin`
writes this once; an adapted block class is ``class PADBlock(AdaptedBlockMixin,
HostBlock)`` and only says, for its host, how the attention residual is computed
and (if not mmcv's ``FFN.gamma2`` / ``FFN.dropout_layer``) what gamma and DropPath
of the FFN branch are. Host-free: nothing here imports mmpretrain, mmdet or mmseg.
"""
from __future__ import annotations

from typing import Optional

import torch.nn as nn
from torch import Tensor


def check_standard_ffn(layer: nn.Module) -> None:
    """Raise unless ``layer.ffn`` is mmcv's FFN (``layers``, ``gamma2``,
    ``dropout_layer``)."""
    if not all(hasattr(layer.ffn, a) for a in ('layers', 'gamma2',
                                               'dropout_layer')):
        raise TypeError(
            f'{type(layer).__name__}.ffn is a {type(layer.ffn).__name__}; PAD '
            "adapters support the standard FFN (ffn_type='origin') only")


class AdaptedBlockMixin:
    """Mixin placed before a host ViT block class: its ``forward`` with an adapter.

    The block keeps every stock submodule (``ln1``/``norm1``, ``attn``,
    ``ln2``/``norm2``, ``ffn``, layer scales); :func:`~mmpad.core.adapters.
    injection.inject_adapters` adds ``self.adapter`` (a
    :class:`~mmpad.core.adapters.patchwise_scale_adapter.PatchwiseScaleAdapter`,
    or ``None`` for the adapter-free baseline, whose update is the stock
    ``x + DropPath(gamma * M)``).

    A subclass implements :meth:`attention_residual`; it overrides
    :meth:`ffn_layer_scale` / :meth:`ffn_drop_path` where gamma or DropPath of the
    FFN branch are held by the block rather than by its mmcv ``FFN``.
    """

    adapter: Optional[nn.Module]

    #: raises if a built block cannot take an adapter (called before injection)
    check_adaptable = staticmethod(check_standard_ffn)

    def attention_residual(self, x: Tensor, *args, **kwargs) -> Tensor:
        """``x + AttnBranch(x)``, as the host block computes it (same shape as x);
        ``args`` / ``kwargs`` are the extra arguments of the host's forward."""
        raise NotImplementedError

    def ffn_branch(self, x: Tensor) -> Tensor:
        """M = FFN layers (LN2(x)): after the FFN's own dropout, before gamma and
        DropPath, without identity. x: (..., C) -> (..., C)."""
        return self.ffn.layers(self.norm2(x))

    def ffn_layer_scale(self, mlp_out: Tensor) -> Tensor:
        """gamma * M (mmcv FFN's ``gamma2``: a LayerScale or Identity)."""
        return self.ffn.gamma2(mlp_out)

    def ffn_drop_path(self, x: Tensor) -> Tensor:
        """DropPath of the FFN branch (mmcv FFN's ``dropout_layer``)."""
        return self.ffn.dropout_layer(x)

    def adapted_update(self, x: Tensor, mlp_out: Tensor) -> Tensor:
        """``x + s*A + DropPath(gamma * M)``; ``x + DropPath(gamma * M)`` without
        an adapter. x: residual stream after the attention residual, mlp_out: M,
        both (..., C) -> (..., C)."""
        if self.adapter is None:
            return x + self.ffn_drop_path(self.ffn_layer_scale(mlp_out))
        # left to right: the adapter (its dropout) draws random numbers before
        # DropPath, so a seeded training run is reproducible across versions
        return x + self.adapter(x, mlp_out) + \
            self.ffn_drop_path(self.ffn_layer_scale(mlp_out))

    def forward(self, x: Tensor, *args, **kwargs) -> Tensor:
        """x: the host block's token layout ((B, T, C) or (B, H, W, C)) -> same."""
        x = self.attention_residual(x, *args, **kwargs)
        return self.adapted_update(x, self.ffn_branch(x))
