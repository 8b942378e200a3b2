"""Tiny mmpretrain MAE / PAD pre-training checkpoints for the downstream tests.

Built from stock mmpretrain modules plus the one adapter module, in the layout the
PAD pre-training Runner saves (``state_dict`` with ``backbone.*``, ``neck.*``).
Other test files load this module by path (tests use --import-mode=importlib).
"""
from __future__ import annotations

from typing import Dict, Optional

import torch

EMBED, HEADS, IMG = 64, 2, 64


def build_mae_state_dict(bottleneck: Optional[int] = 16, seed: int = 0,
                         scale_mode: str = 'concat', depth: int = 4,
                         mlp_ratio: int = 4) -> Dict[str, torch.Tensor]:
    """A tiny MAE (64-d, ``depth`` blocks, 64 px, patch 16) state dict; with
    ``bottleneck`` also PAD adapters in every block holding random (trained-
    looking, non-zero) weights."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    import mmpad.pretrain  # noqa: F401
    from mmpad.core.adapters.patchwise_scale_adapter import \
        PatchwiseScaleAdapter

    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        mae = _build_mae(MODELS, depth, mlp_ratio)
    mae.init_weights()
    sd = {k: v.clone() for k, v in mae.state_dict().items()}
    if bottleneck is not None:
        for i in range(depth):
            adapter = PatchwiseScaleAdapter(EMBED, bottleneck=bottleneck,
                                            scale_mode=scale_mode)
            for name, value in adapter.state_dict().items():
                sd[f'backbone.layers.{i}.adapter.{name}'] = \
                    torch.randn_like(value) * 0.05
    return sd


def _build_mae(registry, depth: int, mlp_ratio: int):
    return registry.build(dict(
        type='MAE',
        backbone=dict(type='MAEViT', arch=dict(
            embed_dims=EMBED, num_layers=depth, num_heads=HEADS,
            feedforward_channels=mlp_ratio * EMBED), img_size=IMG, patch_size=16),
        neck=dict(type='MAEPretrainDecoder', num_patches=(IMG // 16)**2,
                  patch_size=16, embed_dim=EMBED, decoder_embed_dim=32,
                  decoder_depth=1, decoder_num_heads=2),
        head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=16,
                  loss=dict(type='PixelReconstructionLoss', criterion='L2'))))


def save_checkpoint(path: str, sd: Dict[str, torch.Tensor]) -> str:
    torch.save(dict(state_dict=sd, meta=dict(epoch=1)), path)
    return path

