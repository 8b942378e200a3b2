"""Build a model from a config and load its weights, outside a Runner (the
visualisation tools), in the spirit of mmdet's ``init_detector`` and mmpretrain's
``get_model``. Host-free: the host is the registry scope the model is built in.
"""
from __future__ import annotations

import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config


def load_config(config: Union[str, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """``config`` (a path or a :class:`Config`, copied) with ``cfg_options``
    (``key=value`` overrides, as ``--cfg-options`` gives them) merged in."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config.copy()
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None,
               scope: Optional[str] = None) -> torch.nn.Module:
    """The config's model, with the checkpoint's weights, in eval mode.

    The model is built from ``cfg.model`` in the registry of ``scope`` (default:
    the config's ``default_scope``, else ``'mmpretrain'``); a top-level
    ``data_preprocessor`` of the config is the model's when the model names none,
    as the Runner does. The weights are loaded with mmengine's
    ``load_checkpoint`` (which ``import mmpad`` routes through mmpad's safe
    loader), not strictly, on the CPU, silently.

    Args:
        config: config file or :class:`Config`.
        checkpoint: weights to load; ``None`` keeps the initialisation.
        device: where the model is moved to.
        cfg_options: overrides merged into the config first.
        scope: the registry scope to build in (``'mmpretrain'``, ``'mmdet'``,
            ``'mmseg'``).

    Returns:
        The model; ``model.cfg`` is the config it was built from.

    Raises:
        FileNotFoundError: ``checkpoint`` is not a file (checked before the model
            is built).
    """
    from mmengine.registry import MODELS, DefaultScope
    from mmengine.runner import load_checkpoint

    cfg = load_config(config, cfg_options)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    scope = scope or cfg.get('default_scope', 'mmpretrain')
    with DefaultScope.overwrite_default_scope(scope):
        model_cfg = cfg.model.copy()
        if cfg.get('data_preprocessor') is not None:  # as the Runner does
            model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
        model = MODELS.build(model_cfg)
        if checkpoint is not None:
            load_checkpoint(model, checkpoint, map_location='cpu',
                            logger='silent')
    model.cfg = cfg
    model.to(device)
    model.eval()
    return model
