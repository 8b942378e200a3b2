"""The layer id of a parameter of a model with a plain ViT backbone, from its name.

Host-free. The rule (L = number of blocks)::

    backbone.{cls_token, pos_embed, mask_token}, backbone.patch_embed.*   -> 0
    backbone.layers.<i>.*  (adapters ``layers.<i>.adapter.*`` included)  -> i + 1
    everything else (neck, heads, backbone final norm)                     -> L + 1
"""
from __future__ import annotations

from typing import Tuple

EMBEDDING_NAMES = ('cls_token', 'pos_embed', 'mask_token')


def vit_layer_id(param_name: str, num_layers: int,
                 backbone_prefix: str = 'backbone.') -> int:
    """Layer id (0 .. ``num_layers + 1``) of a parameter of a model with a plain
    ViT backbone of ``num_layers`` blocks under ``backbone_prefix``."""
    if not param_name.startswith(backbone_prefix):
        return num_layers + 1
    name = param_name[len(backbone_prefix):]
    if name in EMBEDDING_NAMES or name.startswith('patch_embed.'):
        return 0
    if name.startswith('layers.'):
        return int(name.split('.')[1]) + 1
    return num_layers + 1


def vit_layer_depth(param_name: str, num_layers: int) -> Tuple[int, int]:
    """``(layer id, number of ids)`` as mmpretrain's layer-decay constructor asks:
    :func:`vit_layer_id` and ``num_layers + 2``."""
    return vit_layer_id(param_name, num_layers), num_layers + 2
