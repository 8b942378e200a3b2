"""PAD as a wrapper around any mmpretrain self-supervised algorithm.

``type='PAD'`` builds the wrapped algorithm (MAE, MILAN, MaskFeat, ...) with the
adapter-equipped twin of its backbone (``MAEViT`` -> ``PADMAEViT``), then freezes
it by name (:func:`default_frozen`). The result *is* the stock algorithm object
(same class, same ``state_dict`` keys plus ``backbone.layers.<i>.adapter.*``), so stock
checkpoints, heads, hooks and converters work unchanged::

    model = dict(
        type='PAD',
        algorithm=dict(type='MAE', backbone=dict(type='MAEViT', arch='b'), ...),
        adapter=dict(bottleneck=64, dropout=0.1, scale_mode='concat'))
"""
from __future__ import annotations

import copy
from typing import Optional, Sequence

import torch.nn as nn
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from mmpad.core.adapters import ADAPTER_KEY, apply_freeze
from mmpad.core.adapters.patchwise_scale_adapter import check_adapter_cfg
from mmpad.core.arg_check import check_dict, check_str_list

from mmpad.pad.pad_backbones import PAD_PREFIX

#: the PAD defaults (bottleneck 64, adapter dropout 0.1, per-token concat scale)
DEFAULT_ADAPTER = dict(bottleneck=64, dropout=0.1, scale_mode='concat')


def pad_backbone_cfg(backbone: dict, adapter: Optional[dict]) -> dict:
    """Return ``backbone`` with its type switched to the ``PAD`` twin and
    ``adapter_cfg`` set."""
    cfg = copy.deepcopy(dict(backbone))
    btype = cfg.get('type')
    name = btype if isinstance(btype, str) else getattr(btype, '__name__', '')
    name = name.split('.')[-1]
    if not name.startswith(PAD_PREFIX):
        name = PAD_PREFIX + name
    if MODELS.get(name) is None:
        known = sorted(k for k in MODELS.module_dict if k.startswith(PAD_PREFIX)
                       and k != 'PAD')
        raise KeyError(
            f'PAD: backbone type {btype!r} has no adapter-equipped twin '
            f'{name!r}; supported: {known}')
    cfg['type'] = name
    cfg['adapter_cfg'] = dict(DEFAULT_ADAPTER, **(adapter or {}))
    return cfg


def default_frozen(model: nn.Module) -> list:
    """PAD's frozen prefixes: the encoder, a target generator (e.g. MILAN's CLIP) and
    an MAE-style ``neck.decoder_embed``."""
    names = [n for n, _ in model.named_parameters()]
    frozen = ['backbone.']
    for prefix in ('target_generator.', 'neck.decoder_embed.'):
        if any(n.startswith(prefix) for n in names):
            frozen.append(prefix)
    return frozen


@MODELS.register_module(name='PAD')
def build_pad(algorithm: dict,
              adapter: Optional[dict] = None,
              frozen: Optional[Sequence[str]] = None,
              trainable: Sequence[str] = (ADAPTER_KEY, ),
              data_preprocessor: Optional[dict] = None) -> nn.Module:
    """Build ``algorithm`` as its PAD version.

    Args:
        algorithm: config of an mmpretrain self-supervised algorithm.
        adapter: adapter settings (``bottleneck``, ``dropout``, ``scale_mode``,
            ``constant``); defaults to PAD's (r=64, dropout 0.1, concat).
        frozen: parameter-name prefixes to freeze; ``None`` = PAD's
            (see :func:`default_frozen`). ``[]`` trains everything.
        trainable: substrings that stay trainable inside a frozen prefix.
        data_preprocessor: used when ``algorithm`` has none (the Runner passes
            the config's top-level ``data_preprocessor`` here).

    Returns:
        The built algorithm (its own class), with adapters and freezing
        applied. Its trainable / frozen counts are logged.
    """
    check_dict('PAD', 'algorithm', algorithm, allow_none=False)
    adapter = check_adapter_cfg('PAD', 'adapter', adapter)
    frozen = check_str_list('PAD', 'frozen', frozen, allow_none=True)
    trainable = check_str_list('PAD', 'trainable', trainable)
    check_dict('PAD', 'data_preprocessor', data_preprocessor, allow_none=True)
    cfg = copy.deepcopy(dict(algorithm))
    if 'backbone' not in cfg:
        raise KeyError('PAD: `algorithm` needs a `backbone` config')
    if not isinstance(cfg['backbone'], dict):
        check_dict('PAD', 'algorithm.backbone', cfg['backbone'], allow_none=False)
    cfg['backbone'] = pad_backbone_cfg(cfg['backbone'], adapter)
    if data_preprocessor is not None:
        cfg.setdefault('data_preprocessor', data_preprocessor)
    model = MODELS.build(cfg)
    if frozen is None:
        frozen = default_frozen(model)
    summary = apply_freeze(model, frozen=frozen, trainable=trainable)
    print_log(
        f'PAD {type(model).__name__}: frozen prefixes {list(frozen)} '
        f'(except names containing {list(trainable)}); {summary.format()}',
        logger='current')
    return model
