"""Patchwise-scale adapter, the adapted block update, its injection into ViT
blocks and the freezing rule.

Host-agnostic: nothing here imports mmpretrain, mmdet or mmseg.
"""
from mmpad.core.adapters.adapted_block import (AdaptedBlockMixin,
                                               check_standard_ffn)
from mmpad.core.adapters.freezing import (ADAPTER_KEY, FreezeSummary,
                                          apply_freeze, is_adapter_param,
                                          summarize)
from mmpad.core.adapters.injection import (AdapterBackboneMixin, adapt_blocks,
                                           inject_adapters, iter_adapters,
                                           register_adapted_layer,
                                           set_scale_detached)
from mmpad.core.adapters.patchwise_scale_adapter import (SCALE_MODES,
                                                         PatchwiseScaleAdapter,
                                                         fixed_scale_value)

__all__ = [
    'PatchwiseScaleAdapter', 'SCALE_MODES', 'fixed_scale_value',
    'AdaptedBlockMixin', 'check_standard_ffn', 'adapt_blocks',
    'inject_adapters', 'register_adapted_layer', 'iter_adapters',
    'set_scale_detached', 'AdapterBackboneMixin', 'apply_freeze', 'summarize',
    'is_adapter_param', 'FreezeSummary', 'ADAPTER_KEY'
]
