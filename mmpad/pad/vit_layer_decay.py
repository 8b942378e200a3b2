"""Layer-wise learning-rate decay for detectors / segmentors with a plain ViT
backbone (pad.md §5.2, §5.3).

mmpretrain's :class:`LearningRateDecayOptimWrapperConstructor` does the work (per
parameter groups, weight-decay rules, custom keys); it only needs the layer id of
each parameter, which it asks the *whole model* for. mmdet detectors and mmseg
segmentors have no ``get_layer_depth``, so this constructor supplies the ViT rule
over parameter names::

    backbone.{cls_token, pos_embed, mask_token}, backbone.patch_embed.*   -> 0
    backbone.layers.<i>.*  (adapters ``layers.<i>.adapter.*`` included)  -> i + 1
    everything else (neck, heads, backbone final norm)                     -> L + 1

and ``lr = base_lr * decay_rate ** (L + 1 - id)`` (L = number of blocks), i.e.
0.7^(13 - id) / 0.65^(13 - id) for ViT-B.

Unlike mmseg's ``LayerDecayOptimizerConstructor`` (pad.md defect 7) the exemptions
are given by ``custom_keys`` / ``*_decay_mult`` in the config, so ``pos_embed`` and
``cls_token`` really get no weight decay. Registered in mmengine's root registry,
so both mmdet and mmseg configs find it.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch.nn as nn
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.engine.optimizers.layer_decay_optim_wrapper_constructor import \
    LearningRateDecayOptimWrapperConstructor

from mmpad.core.arg_check import check_float

EMBEDDING_NAMES = ('cls_token', 'pos_embed', 'mask_token')


def vit_layer_id(param_name: str, num_layers: int,
                 backbone_prefix: str = 'backbone.') -> int:
    """Layer id of a parameter of a model with a plain ViT backbone."""
    if not param_name.startswith(backbone_prefix):
        return num_layers + 1
    name = param_name[len(backbone_prefix):]
    if name in EMBEDDING_NAMES or name.startswith('patch_embed.'):
        return 0
    if name.startswith('layers.'):
        return int(name.split('.')[1]) + 1
    return num_layers + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """Layer-decay constructor for ``model.backbone`` = plain ViT.

    ``paramwise_cfg`` keys: ``layer_decay_rate`` (required), ``num_layers``
    (default: ``model.backbone.num_layers``), plus mmpretrain's
    ``norm_decay_mult``, ``bias_decay_mult``, ``flat_decay_mult`` and
    ``custom_keys`` (``decay_mult`` only).

    Example (detection, pad.md §5.3)::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.1),
            constructor='ViTLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.7, norm_decay_mult=0.,
                               custom_keys={'pos_embed': dict(decay_mult=0.)}))
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth=None,
                   **kwargs) -> None:
        if get_layer_depth is None:
            if 'layer_decay_rate' not in self.paramwise_cfg:
                raise ValueError(
                    'ViTLayerDecayOptimWrapperConstructor needs '
                    'optim_wrapper.paramwise_cfg.layer_decay_rate')
            check_float('ViTLayerDecayOptimWrapperConstructor',
                        'paramwise_cfg.layer_decay_rate',
                        self.paramwise_cfg['layer_decay_rate'], lo=0, hi=1,
                        lo_open=True)
            backbone = getattr(module, 'backbone', None)
            num_layers: Optional[int] = self.paramwise_cfg.get(
                'num_layers', getattr(backbone, 'num_layers', None))
            if num_layers is None:
                raise ValueError(
                    'ViTLayerDecayOptimWrapperConstructor: set '
                    'paramwise_cfg.num_layers (the model has no '
                    'backbone.num_layers)')

            def get_layer_depth(name: str) -> Tuple[int, int]:
                return vit_layer_id(name, num_layers), num_layers + 2

        super().add_params(
            params, module, prefix=prefix, get_layer_depth=get_layer_depth)
