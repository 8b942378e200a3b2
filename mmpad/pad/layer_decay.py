"""Layer-wise learning-rate decay for models with a plain ViT backbone.

mmpretrain's :class:`LearningRateDecayOptimWrapperConstructor` does the work (per
parameter groups, weight-decay rules, custom keys) and sets
``lr = base_lr * decay_rate ** (max_id - 1 - id)``; it only needs the layer id of
each parameter, which it asks the *whole model* for. Neither mmdet detectors,
mmseg segmentors nor mmpretrain's self-supervised algorithms (``MAE``, ...) have
``get_layer_depth``, so :class:`LayerDecayOptimWrapperConstructor` supplies the
depth, by one of two rules chosen in :meth:`~LayerDecayOptimWrapperConstructor.
layer_depth_rule`:

* ``'names'`` (registered as ``ViTLayerDecayOptimWrapperConstructor`` in
  mmengine's root registry, so mmdet and mmseg configs find it): the ViT rule over
  parameter names, :func:`mmpad.core.layer_decay.vit_layer_id` (stem 0, block i
  i + 1 with its adapter, the rest L + 1), i.e. 0.7^(13 - id) / 0.65^(13 - id) for
  ViT-B;
* ``'backbone'`` (registered as ``SelfSupLayerDecayOptimWrapperConstructor`` in
  mmpretrain's registry): the model's own ``get_layer_depth`` if it has one, else
  ``model.backbone.get_layer_depth`` with prefix ``backbone.`` (stem 0, block i
  i + 1 with its adapter, every non-backbone parameter such as the SSL decoder
  the last depth, i.e. lr scale 1).

Unlike mmseg's ``LayerDecayOptimizerConstructor`` the weight-decay exemptions are
given by ``custom_keys`` / ``*_decay_mult`` in the config, so ``pos_embed`` and
``cls_token`` really get no weight decay.

The per-parameter groups are merged by equal settings (one group per layer id and
weight decay, e.g. 28 for ViT-B instead of one per parameter), see
:class:`~mmpad.engine.optim_constructor.GroupMergingMixin`
(``paramwise_cfg.merge_groups=False`` keeps one group per parameter).
"""
from __future__ import annotations

from functools import partial
from typing import Callable, List, Optional

import torch.nn as nn
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.engine.optimizers.layer_decay_optim_wrapper_constructor import \
    LearningRateDecayOptimWrapperConstructor
from mmpretrain.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as PRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS

from mmpad.core.arg_check import check_float
from mmpad.core.layer_decay import vit_layer_depth
from mmpad.engine.optim_constructor import GroupMergingMixin

#: where the layer depth of a parameter comes from (see the module docstring)
DEPTH_RULES = ('names', 'backbone')


class LayerDecayOptimWrapperConstructor(
        GroupMergingMixin, LearningRateDecayOptimWrapperConstructor):
    """Layer-decay constructor; the registered names below fix :attr:`depth_rule`.

    ``paramwise_cfg`` keys: ``layer_decay_rate`` (required, in (0, 1]),
    ``num_layers`` (rule ``'names'``; default ``model.backbone.num_layers``),
    plus mmpretrain's ``norm_decay_mult``, ``bias_decay_mult``,
    ``flat_decay_mult`` and ``custom_keys`` (``decay_mult`` only), and
    ``merge_groups`` (default True: groups of equal settings merged).
    """

    #: ``'names'`` or ``'backbone'``, see :meth:`layer_depth_rule`
    depth_rule: str = 'names'

    def layer_depth_rule(self, model: nn.Module) -> Callable:
        """The function ``param_name -> (layer id, number of ids)`` for ``model``.

        Raises:
            ValueError: rule ``'names'`` and the number of blocks is unknown.
            TypeError: rule ``'backbone'`` and neither the model nor its backbone
                has ``get_layer_depth``.
        """
        owner = type(self).__name__
        if self.depth_rule == 'names':
            backbone = getattr(model, 'backbone', None)
            num_layers: Optional[int] = self.paramwise_cfg.get(
                'num_layers', getattr(backbone, 'num_layers', None))
            if num_layers is None:
                raise ValueError(
                    f'{owner}: set paramwise_cfg.num_layers (the model has no '
                    'backbone.num_layers)')
            return partial(vit_layer_depth, num_layers=num_layers)
        if self.depth_rule != 'backbone':
            raise ValueError(f'{owner}: depth_rule {self.depth_rule!r} is not '
                             f'one of {DEPTH_RULES}')
        if hasattr(model, 'get_layer_depth'):
            return model.get_layer_depth
        backbone = getattr(model, 'backbone', None)
        if backbone is None or not hasattr(backbone, 'get_layer_depth'):
            raise TypeError(
                f'{type(model).__name__} has no backbone with '
                '`get_layer_depth`; layer decay cannot assign depths')
        return partial(backbone.get_layer_depth, prefix='backbone.')

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """mmpretrain's ``add_params`` with the depth of :meth:`layer_depth_rule`
        (chosen on the top-level call; the recursion passes it down)."""
        if get_layer_depth is None:
            owner = type(self).__name__
            if 'layer_decay_rate' not in self.paramwise_cfg:
                raise ValueError(
                    f'{owner} needs optim_wrapper.paramwise_cfg.layer_decay_rate')
            check_float(owner, 'paramwise_cfg.layer_decay_rate',
                        self.paramwise_cfg['layer_decay_rate'], lo=0, hi=1,
                        lo_open=True)
            get_layer_depth = self.layer_depth_rule(module)
        super().add_params(
            params, module, prefix=prefix, get_layer_depth=get_layer_depth,
            **kwargs)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimWrapperConstructor(LayerDecayOptimWrapperConstructor):
    """Layer decay for detectors / segmentors: depth from parameter names.

    Example (detection)::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.1),
            constructor='ViTLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.7, norm_decay_mult=0.,
                               custom_keys={'pos_embed': dict(decay_mult=0.)}))
    """

    depth_rule = 'names'


@PRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SelfSupLayerDecayOptimWrapperConstructor(LayerDecayOptimWrapperConstructor):
    """Layer decay for ``backbone + neck + head`` self-supervised algorithms:
    depth from ``model.backbone.get_layer_depth``."""

    depth_rule = 'backbone'
