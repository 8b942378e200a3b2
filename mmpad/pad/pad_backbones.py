"""mmpretrain ViT backbones with a patchwise-scale adapter in every block.

``PAD<Name>`` is the stock ``<Name>`` backbone plus ``adapter_cfg``; everything
else (arguments, forward, masking, checkpoint keys) is the stock class. The PAD
wrapper (:func:`mmpad.pad.pad_algorithm.build_pad`) maps a stock
backbone type to its twin by this naming rule.
"""
from mmpretrain.models.backbones import BEiTViT, VisionTransformer
from mmpretrain.models.selfsup import (BEiTPretrainViT, MAEViT, MaskFeatViT,
                                       MFFViT, MILANViT, MoCoV3ViT)
from mmpretrain.registry import MODELS

from mmpad.core.adapters import AdapterBackboneMixin

import mmpad.pad.pad_layers  # noqa: F401  (registers the adapted blocks)

PAD_PREFIX = 'PAD'


@MODELS.register_module()
class PADVisionTransformer(AdapterBackboneMixin, VisionTransformer):
    """``VisionTransformer`` with adapters (e.g. to extract features from a
    PAD checkpoint in an mmpretrain classifier)."""


@MODELS.register_module()
class PADMAEViT(AdapterBackboneMixin, MAEViT):
    """``MAEViT`` with adapters (PAD-MAE encoder)."""


@MODELS.register_module()
class PADMILANViT(AdapterBackboneMixin, MILANViT):
    """``MILANViT`` with adapters (PAD-MILAN encoder)."""


@MODELS.register_module()
class PADMFFViT(AdapterBackboneMixin, MFFViT):
    """``MFFViT`` with adapters."""


@MODELS.register_module()
class PADMaskFeatViT(AdapterBackboneMixin, MaskFeatViT):
    """``MaskFeatViT`` with adapters (PAD-MaskFeat encoder)."""


@MODELS.register_module()
class PADMoCoV3ViT(AdapterBackboneMixin, MoCoV3ViT):
    """``MoCoV3ViT`` with adapters."""


@MODELS.register_module()
class PADBEiTViT(AdapterBackboneMixin, BEiTViT):
    """``BEiTViT`` with adapters (layer-scale blocks; the adapter term bypasses
    the layer scale)."""


@MODELS.register_module()
class PADBEiTPretrainViT(AdapterBackboneMixin, BEiTPretrainViT):
    """``BEiTPretrainViT`` with adapters."""
