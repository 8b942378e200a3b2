"""ViTDet-style plain ViT with PAD adapters for mmdet.

Built on mmpretrain's :class:`~mmpretrain.models.backbones.ViTSAM`, which already has
ViTDet's window attention (with padding), global attention in chosen blocks,
decomposed relative position embeddings (zero-initialised) and an absolute position
embedding resized on load. :class:`PADViTDet` lets ViTSAM build its blocks, then
turns each into :class:`~mmpad.pad.pad_layers.PADViTSAMLayer` with one
:class:`~mmpad.core.adapters.patchwise_scale_adapter.PatchwiseScaleAdapter` at
``layers.<i>.adapter`` (:func:`~mmpad.core.adapters.adapt_blocks`, the mechanism of
every PAD backbone); every stock weight name is unchanged, so the adapter-free
variant (``adapter_cfg=None``, the baseline) is key-for-key ViTSAM.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmpretrain.models.backbones.vit_sam import ViTSAM
from mmpretrain.models.utils import resize_pos_embed

from mmpad.core.adapters import adapt_blocks
from mmpad.core.adapters.patchwise_scale_adapter import check_adapter_cfg
from mmpad.core.checkpoint.pretrained import (load_pretrained_backbone,
                                 read_backbone_state_dict)
import mmpad.pad.pad_layers  # noqa: F401  (registers PADViTSAMLayer)


@MODELS.register_module()
class PADViTDet(ViTSAM):
    """ViTDet backbone (mmpretrain ``ViTSAM``) with PAD adapters in every block.

    Args:
        adapter_cfg: kwargs of :class:`PatchwiseScaleAdapter` except
            ``embed_dims`` (PAD: ``dict(bottleneck=64, dropout=0.1,
            scale_mode='concat')``); ``None`` gives the plain ViTDet backbone.
        pretrain_img_size: keep the absolute position embedding at the
            pre-training grid (224 px -> 14x14) and interpolate it (bicubic) to
            the input grid in every forward, as ViTDet does; ``None`` keeps
            ViTSAM's behaviour (a table at ``img_size``, resized once on load).
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` loads a checkpoint
            converted by ``tools/convert_pad_checkpoint.py --target det`` through
            :func:`load_pretrained_backbone` (errors on wrong adapter sizes or
            adapters that would be dropped); other init configs work as usual.
        **kwargs: :class:`~mmpretrain.models.backbones.ViTSAM` (ViTDet-B:
            ``arch='base'`` whose global blocks are 2, 5, 8, 11,
            ``img_size=1024``, ``window_size=14``, ``out_channels=0``).

    Returns from ``forward``: tuple of (B, C, H/16, W/16) maps for
    ``out_indices``.
    """

    def __init__(self,
                 arch='base',
                 img_size: int = 224,
                 patch_size: int = 16,
                 adapter_cfg: Optional[dict] = None,
                 pretrain_img_size: Optional[int] = None,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 use_rel_pos: bool = True,
                 window_size: int = 14,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 frozen_stages: int = -1,
                 layer_cfgs: dict = dict(),
                 **kwargs) -> None:
        if adapter_cfg is not None:
            check_adapter_cfg(type(self).__name__, 'adapter_cfg', adapter_cfg)
        super().__init__(
            arch=arch,
            img_size=img_size,
            patch_size=patch_size,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            qkv_bias=qkv_bias,
            use_rel_pos=use_rel_pos,
            window_size=window_size,
            norm_cfg=norm_cfg,
            frozen_stages=-1,  # frozen below, adapters included
            layer_cfgs=layer_cfgs,
            **kwargs)
        self.adapter_cfg = adapter_cfg
        adapt_blocks(self.layers, adapter_cfg)
        if pretrain_img_size is not None and self.use_abs_pos:
            grid = pretrain_img_size // patch_size
            # forward() resizes pos_embed from self.patch_resolution
            self.patch_resolution = (grid, grid)
            self.pos_embed = nn.Parameter(
                torch.zeros(1, grid, grid, self.embed_dims))
        self.frozen_stages = frozen_stages
        if frozen_stages > 0:
            self._freeze_stages()

    def _prepare_pos_embed(self, state_dict, prefix, *args, **kwargs) -> None:
        """Load hook: resize a checkpoint's (1, h, w, C) position embedding to
        this backbone's table (ViTSAM's hook assumes the table is at
        ``img_size``)."""
        name = prefix + 'pos_embed'
        if name not in state_dict or \
                state_dict[name].shape == self.pos_embed.shape:
            return
        ckpt = state_dict[name]
        src, dst = tuple(ckpt.shape[1:3]), tuple(self.pos_embed.shape[1:3])
        state_dict[name] = resize_pos_embed(
            ckpt.flatten(1, 2), src, dst, self.interpolate_mode,
            0).view(1, *dst, self.embed_dims)

    @staticmethod
    def resized_on_load(key: str) -> bool:
        """Keys ViTSAM's load hooks resize to this backbone's geometry."""
        return key == 'pos_embed' or 'rel_pos_' in key

    def init_weights(self) -> None:
        """Global init (the adapters then get their own init: zero ``up`` and
        scale), then the converted checkpoint of a ``Pretrained`` init_cfg, if
        any."""
        init_cfg = self.init_cfg
        pretrained = isinstance(init_cfg, dict) and \
            init_cfg.get('type') == 'Pretrained'
        if not pretrained:
            super().init_weights()
            return
        self.init_cfg = None
        try:
            super().init_weights()  # random init; adapters get their own init
        finally:
            self.init_cfg = init_cfg
        filename = init_cfg['checkpoint']
        state_dict = read_backbone_state_dict(filename, init_cfg.get('prefix'))
        load_pretrained_backbone(
            self, state_dict, filename, self.resized_on_load,
            has_adapters=self.adapter_cfg is not None)
