"""PAD on mmpretrain: adapter-equipped ViT blocks and backbones, the ``PAD``
algorithm wrapper and a layer-decay constructor for SSL algorithms."""
from .layer_decay_constructor import SelfSupLayerDecayOptimWrapperConstructor
from .pad_algorithm import DEFAULT_ADAPTER, build_pad, pad_backbone_cfg
from .pad_backbones import (PADBEiTPretrainViT, PADBEiTViT, PADMAEViT,
                            PADMaskFeatViT, PADMFFViT, PADMILANViT,
                            PADMoCoV3ViT, PADVisionTransformer)
from .pad_layers import (PADBEiTTransformerEncoderLayer,
                         PADTransformerEncoderLayer)

__all__ = [
    'build_pad', 'pad_backbone_cfg', 'DEFAULT_ADAPTER',
    'SelfSupLayerDecayOptimWrapperConstructor', 'PADVisionTransformer',
    'PADMAEViT', 'PADMILANViT', 'PADMFFViT', 'PADMaskFeatViT', 'PADMoCoV3ViT',
    'PADBEiTViT', 'PADBEiTPretrainViT', 'PADTransformerEncoderLayer',
    'PADBEiTTransformerEncoderLayer'
]
