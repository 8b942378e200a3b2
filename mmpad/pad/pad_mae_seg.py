"""BEiT-style MAE ViT with PAD adapters for mmseg.

Subclasses mmseg's :class:`~mmseg.models.backbones.MAE` (per-block relative position
bias initialised to zero, layer scale ``init_values``, absolute position embedding
with a CLS entry). mmseg builds its blocks; :func:`~mmpad.core.adapters.adapt_blocks`
(the mechanism of every PAD backbone) then turns each into :class:`PADMAELayer`
with one :class:`~mmpad.core.adapters.patchwise_scale_adapter.PatchwiseScaleAdapter`
at ``layers.<i>.adapter``. The stock weight names are unchanged, so the adapter-free
variant (``adapter_cfg=None``, the baseline) is key-for-key mmseg MAE.

Fixes over the reference segmentation backbone:

* attention is applied whether or not layer scale is used (``init_values=None``
  builds the blocks without gammas; the reference skipped the attention then);
* loading a ``Pretrained`` checkpoint reports missing / unexpected keys and refuses
  adapters of the wrong size (mmseg's ``MAE.init_weights`` ignores both).
"""
from __future__ import annotations

from typing import Optional

import torch
from mmseg.models.backbones.mae import MAE, MAETransformerEncoderLayer
from mmseg.registry import MODELS
from torch import Tensor

from mmpad.core.adapters import (AdaptedBlockMixin, adapt_blocks,
                                 register_adapted_layer)
from mmpad.core.adapters.patchwise_scale_adapter import check_adapter_cfg
from mmpad.core.checkpoint.pretrained import (load_pretrained_backbone,
                                 read_backbone_state_dict)


def _scaled(gamma: Optional[Tensor], x: Tensor) -> Tensor:
    """gamma * x, or x without layer scale (``gamma is None``)."""
    return x if gamma is None else gamma * x


@register_adapted_layer(MAETransformerEncoderLayer)
class PADMAELayer(AdaptedBlockMixin, MAETransformerEncoderLayer):
    """mmseg MAE/BEiT block with an adapter parallel to the FFN.

    ``x <- x + DropPath(g1 * Attn(LN1(x)))``; ``M = FFN(LN2(x))``;
    ``x <- x + s*A + DropPath(g2 * M)``: s is computed from M before ``g2`` and
    the adapter term bypasses both ``g2`` and DropPath. ``gamma_1`` /
    ``gamma_2`` may be ``None`` (no layer scale; attention is still applied).
    Tokens are (B, T, C), CLS included.
    """

    def attention_residual(self, x: Tensor) -> Tensor:
        """x: (B, T, C) -> (B, T, C)."""
        return x + self.drop_path(_scaled(self.gamma_1, self.attn(self.norm1(x))))

    def ffn_layer_scale(self, mlp_out: Tensor) -> Tensor:
        """g2 * M (the FFN's own ``gamma2`` is the identity in mmseg's BEiT)."""
        return _scaled(self.gamma_2, self.ffn.gamma2(mlp_out))

    def ffn_drop_path(self, x: Tensor) -> Tensor:
        """The block's DropPath (mmseg builds the FFN without one)."""
        return self.drop_path(x)


@MODELS.register_module()
class PADMAE(MAE):
    """mmseg ``MAE`` backbone with PAD adapters in every block.

    Args:
        adapter_cfg: kwargs of :class:`PatchwiseScaleAdapter` except
            ``embed_dims`` (PAD: ``dict(bottleneck=64, dropout=0.1,
            scale_mode='concat')``); ``None`` gives the plain MAE backbone.
        init_values: layer-scale init (PAD: 1.0); ``None`` disables layer scale.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` loads a checkpoint
            converted by ``tools/convert_pad_checkpoint.py --target seg``:
            position embedding and zero relative position tables are resized to
            this backbone, wrong adapter sizes raise, missing / unexpected keys
            are logged.
        **kwargs: :class:`~mmseg.models.backbones.MAE`.

    Returns from ``forward``: tuple of (B, C, H/16, W/16) maps for
    ``out_indices``.
    """

    def __init__(self,
                 *args,
                 adapter_cfg: Optional[dict] = None,
                 init_values: Optional[float] = 0.1,
                 **kwargs) -> None:
        if adapter_cfg is not None:
            check_adapter_cfg(type(self).__name__, 'adapter_cfg', adapter_cfg)
        # mmseg's blocks need a number; without layer scale the gammas are
        # removed below
        super().__init__(*args, init_values=1.0 if init_values is None
                         else init_values, **kwargs)
        self.init_values = init_values
        self.adapter_cfg = adapter_cfg
        if init_values is None:
            for layer in self.layers:
                layer.gamma_1 = None
                layer.gamma_2 = None
        adapt_blocks(self.layers, adapter_cfg)

    @staticmethod
    def resized_on_load(key: str) -> bool:
        """Keys :meth:`_resize_for_load` adapts to this backbone's geometry."""
        return key == 'pos_embed' or 'relative_position_bias_table' in key

    def _resize_for_load(self, state_dict: dict) -> dict:
        """Resize the absolute position embedding (bicubic, CLS kept) and the
        relative position tables. Tables that are all zero (the converter's
        materialised init) become zero tables of this size; trained
        tables go through the geometric interpolation. Tables of layers this
        backbone lacks or with another number of heads (a checkpoint of another
        depth or width) are kept as they are, so that the loader names the
        mismatch."""
        state_dict = dict(state_dict)
        own = self.state_dict()
        other_arch = {}  # a layer this backbone lacks or another head count:
        for key, table in list(state_dict.items()):  # left to the loader's report
            if 'relative_position_bias_table' not in key:
                continue
            if key not in own or table.ndim != 2 or table.shape[1] != own[key].shape[1]:
                other_arch[key] = state_dict.pop(key)
            elif table.shape != own[key].shape and not table.any():
                state_dict[key] = torch.zeros_like(own[key])
        state_dict = self.resize_rel_pos_embed(state_dict)
        state_dict.update(other_arch)
        return self.resize_abs_pos_embed(state_dict)

    @staticmethod
    def _geometric_sequence_interpolation(src_size: int, dst_size: int,
                                          sequence: Tensor, num: int) -> Tensor:
        """mmseg's geometric-sequence resize of a relative position table
        ((src_size**2, num) -> (dst_size**2, num)), with the interpolator SciPy
        names as the replacement of ``interp2d`` (which mmseg calls and SciPy 1.14
        removed): on a rectangular grid ``interp2d(x, y, z, kind='cubic')`` is the
        interpolating bicubic spline ``RectBivariateSpline(x, y, z.T)``."""
        import numpy as np
        from scipy.interpolate import RectBivariateSpline

        def geometric_progression(a, r, n):
            return a * (1.0 - r**n) / (1.0 - r)

        left, right = 1.01, 1.5  # the ratio q by bisection, as mmseg
        while right - left > 1e-6:
            q = (left + right) / 2.0
            if geometric_progression(1, q, src_size // 2) > dst_size // 2:
                right = q
            else:
                left = q
        dis, cur = [], 1
        for i in range(src_size // 2):
            dis.append(cur)
            cur += q**(i + 1)
        x = np.array([-d for d in reversed(dis)] + [0] + dis)
        t = dst_size // 2.0
        dx = np.arange(-t, t + 0.1, 1.0)
        out = []
        for i in range(num):
            z = sequence[:, i].view(src_size, src_size).float().numpy()  # (y, x)
            f = RectBivariateSpline(x, x, z.T, kx=3, ky=3, s=0)
            out.append(torch.from_numpy(np.ascontiguousarray(f(dx, dx).T))
                       .float().reshape(-1, 1).to(sequence))
        return torch.cat(out, dim=-1)

    def init_weights(self) -> None:
        """mmseg MAE init, the adapters' own init afterwards, then the
        converted checkpoint of a ``Pretrained`` init_cfg, if any."""
        init_cfg = self.init_cfg
        pretrained = isinstance(init_cfg, dict) and \
            init_cfg.get('type') == 'Pretrained'
        self.init_cfg = None if pretrained else init_cfg
        try:
            super().init_weights()  # its global init also hits the adapters
        finally:
            self.init_cfg = init_cfg
        for layer in self.layers:
            if layer.adapter is not None:
                layer.adapter.init_weights()
        if pretrained:
            filename = init_cfg['checkpoint']
            state_dict = self._resize_for_load(
                read_backbone_state_dict(filename, init_cfg.get('prefix')))
            load_pretrained_backbone(
                self, state_dict, filename, self.resized_on_load,
                has_adapters=self.adapter_cfg is not None)
