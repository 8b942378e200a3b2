"""BEiT-style MAE ViT with PAD adapters for mmseg (pad.md §1.2, §5.2, §10).

Subclasses mmseg's :class:`~mmseg.models.backbones.MAE` (per-block relative position
bias initialised to zero, layer scale ``init_values``, absolute position embedding
with a CLS entry) and adds one
:class:`~mmpad.core.adapters.patchwise_scale_adapter.PatchwiseScaleAdapter` per
block at ``layers.<i>.adapter``. The stock weight names are unchanged, so the
adapter-free variant (``adapter_cfg=None``, the baseline) is key-for-key mmseg MAE.

Fixes over the reference segmentation backbone:

* defect 3: attention is applied whether or not layer scale is used
  (``init_values=None`` builds the block without gammas);
* loading a ``Pretrained`` checkpoint reports missing / unexpected keys and refuses
  adapters of the wrong size (mmseg's ``MAE.init_weights`` ignores both).
"""
from __future__ import annotations

from typing import Optional

import torch
from mmengine.model import ModuleList
from mmseg.models.backbones.mae import MAE, MAETransformerEncoderLayer
from mmseg.registry import MODELS
from torch import Tensor

from mmpad.core.adapters.patchwise_scale_adapter import (
    PatchwiseScaleAdapter, check_adapter_cfg)
from mmpad.core.checkpoint.pretrained import (load_pretrained_backbone,
                                 read_backbone_state_dict)


class PADMAELayer(MAETransformerEncoderLayer):
    """mmseg MAE/BEiT block with an optional adapter parallel to the FFN.

    ``x <- x + DropPath(g1 * Attn(LN1(x)))``; ``M = FFN(LN2(x))``;
    ``x <- x + s*A + DropPath(g2 * M)``: s is computed from M before ``g2`` and
    the adapter term bypasses both ``g2`` and DropPath (pad.md §1.2). Tokens are
    (B, T, C), CLS included.

    Args:
        init_values: layer-scale init; ``None`` builds the block without layer
            scale (attention is still applied, unlike the reference, defect 3).
        adapter_cfg: kwargs of :class:`PatchwiseScaleAdapter` (without
            ``embed_dims``); ``None`` builds the stock block.
        layer_idx / num_layers: the block's position (fixed-scale modes).
        **kwargs: :class:`mmseg.models.backbones.beit.BEiTTransformerEncoderLayer`.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 feedforward_channels: int,
                 init_values: Optional[float] = None,
                 adapter_cfg: Optional[dict] = None,
                 layer_idx: int = 0,
                 num_layers: int = 12,
                 **kwargs) -> None:
        super().__init__(
            embed_dims=embed_dims,
            num_heads=num_heads,
            feedforward_channels=feedforward_channels,
            init_values=1.0 if init_values is None else init_values,
            **kwargs)
        if init_values is None:
            self.gamma_1 = None
            self.gamma_2 = None
        self.adapter = None
        if adapter_cfg is not None:
            self.adapter = PatchwiseScaleAdapter(
                embed_dims,
                layer_idx=layer_idx,
                num_layers=num_layers,
                **adapter_cfg)

    @staticmethod
    def _scale(gamma: Optional[Tensor], x: Tensor) -> Tensor:
        return x if gamma is None else gamma * x

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, T, C) -> (B, T, C)."""
        x = x + self.drop_path(self._scale(self.gamma_1, self.attn(self.norm1(x))))
        mlp_out = self.ffn(self.norm2(x))  # M: the BEiT FFN adds no identity
        update = self.drop_path(self._scale(self.gamma_2, mlp_out))
        if self.adapter is not None:
            update = update + self.adapter(x, mlp_out)
        return x + update


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
        self.adapter_cfg = adapter_cfg  # read by _build_layers
        super().__init__(*args, init_values=init_values, **kwargs)

    def _build_layers(self) -> None:
        dpr = [x.item() for x in
               torch.linspace(0, self.drop_path_rate, self.num_layers)]
        self.layers = ModuleList()
        for i in range(self.num_layers):
            self.layers.append(
                PADMAELayer(
                    embed_dims=self.embed_dims,
                    num_heads=self.num_heads,
                    feedforward_channels=self.mlp_ratio * self.embed_dims,
                    attn_drop_rate=self.attn_drop_rate,
                    drop_path_rate=dpr[i],
                    num_fcs=self.num_fcs,
                    bias=True,
                    act_cfg=self.act_cfg,
                    norm_cfg=self.norm_cfg,
                    window_size=self.patch_shape,
                    init_values=self.init_values,
                    adapter_cfg=self.adapter_cfg,
                    layer_idx=i,
                    num_layers=self.num_layers))

    @staticmethod
    def resized_on_load(key: str) -> bool:
        """Keys :meth:`_resize_for_load` adapts to this backbone's geometry."""
        return key == 'pos_embed' or 'relative_position_bias_table' in key

    def _resize_for_load(self, state_dict: dict) -> dict:
        """Resize the absolute position embedding (bicubic, CLS kept) and the
        relative position tables. Tables that are all zero (the converter's
        materialised init, pad.md §5.2) become zero tables of this size; trained
        tables go through mmseg's geometric interpolation."""
        state_dict = dict(state_dict)
        own = self.state_dict()
        for key, table in list(state_dict.items()):
            if 'relative_position_bias_table' in key and key in own and \
                    table.shape != own[key].shape and not table.any() and \
                    table.shape[1] == own[key].shape[1]:
                state_dict[key] = torch.zeros_like(own[key])
        state_dict = self.resize_rel_pos_embed(state_dict)
        return self.resize_abs_pos_embed(state_dict)

    def init_weights(self) -> None:
        """mmseg MAE init, adapters reset to pad.md §1.4 afterwards, then the
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
