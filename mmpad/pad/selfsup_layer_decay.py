"""Layer-wise lr decay for self-supervised algorithms (pad.md §4.5 "IN1K + LD").

mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` needs the *model* to
have ``get_layer_depth``, which self-supervised algorithms (``MAE``, ...) lack.
This constructor takes the depth from ``model.backbone.get_layer_depth`` with
prefix ``backbone.``: the stem gets depth 0, block i depth i + 1 (its adapter
included), and every non-backbone parameter (the SSL decoder) the last depth,
i.e. lr scale 1.
"""
from functools import partial

from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS

from mmpad.core.arg_check import check_float


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SelfSupLayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """``LearningRateDecayOptimWrapperConstructor`` for ``backbone + neck +
    head`` algorithms; see the module docstring."""

    def add_params(self, params, module, prefix='', get_layer_depth=None,
                   **kwargs) -> None:
        check_float('SelfSupLayerDecayOptimWrapperConstructor',
                    'paramwise_cfg.layer_decay_rate',
                    self.paramwise_cfg.get('layer_decay_rate'), lo=0, hi=1,
                    lo_open=True)
        if get_layer_depth is None and not hasattr(module, 'get_layer_depth'):
            backbone = getattr(module, 'backbone', None)
            if backbone is None or not hasattr(backbone, 'get_layer_depth'):
                raise TypeError(
                    f'{type(module).__name__} has no backbone with '
                    '`get_layer_depth`; layer decay cannot assign depths')
            get_layer_depth = partial(
                backbone.get_layer_depth, prefix='backbone.')
        super().add_params(
            params, module, prefix=prefix, get_layer_depth=get_layer_depth,
            **kwargs)
