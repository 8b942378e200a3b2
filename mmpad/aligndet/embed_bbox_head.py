"""R-CNN box heads for AlignDet pre-training.

``fc_cls`` becomes the embedding projector ``Linear(F, F) -> ReLU -> Linear(F, D)``
(F = 1024 for the stock heads). ``fc_reg`` must be class-agnostic: the reference
indexed a class-specific regressor by instance id, which breaks beyond 256 ids;
the regressor is dropped at transfer anyway.
"""
from __future__ import annotations

import torch.nn as nn

from mmdet.models.roi_heads.bbox_heads import (Shared2FCBBoxHead,
                                               Shared4Conv1FCBBoxHead)
from mmdet.registry import MODELS

from mmpad.core.arg_check import check_int


class _EmbedProjectorMixin:
    """Replaces a ConvFC box head's classifier by the embedding projector."""

    def _use_embedding_projector(self, embed_dim: int) -> None:
        if not self.with_cls:
            raise ValueError(f'{type(self).__name__} needs with_cls=True: '
                             'fc_cls becomes the embedding projector')
        if self.with_reg and not self.reg_class_agnostic:
            raise ValueError(
                f'{type(self).__name__} needs reg_class_agnostic=True: there is '
                'one regression target per proposal, not one per instance id')
        self.embed_dim = embed_dim
        self.fc_cls = nn.Sequential(
            nn.Linear(self.cls_last_dim, self.cls_last_dim),
            nn.ReLU(inplace=True),
            nn.Linear(self.cls_last_dim, embed_dim))


@MODELS.register_module()
class Shared4Conv1FCEmbedBBoxHead(_EmbedProjectorMixin, Shared4Conv1FCBBoxHead):
    """``Shared4Conv1FCBBoxHead`` (AlignDet's R-CNN head) whose ``fc_cls`` is the
    embedding projector; ``forward`` returns ``(embeds (R, D), bbox_pred (R, 4))``.

    Args:
        embed_dim: embedding width D.
        *args, **kwargs: as for the stock head; ``reg_class_agnostic=True``.
    """

    def __init__(self, *args, embed_dim: int = 256, **kwargs) -> None:
        check_int(type(self).__name__, 'embed_dim', embed_dim, 1)
        super().__init__(*args, **kwargs)
        self._use_embedding_projector(embed_dim)


@MODELS.register_module()
class Shared2FCEmbedBBoxHead(_EmbedProjectorMixin, Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` (stock Faster R-CNN head) with the embedding
    projector, for pre-training a stock-head detector."""

    def __init__(self, *args, embed_dim: int = 256, **kwargs) -> None:
        check_int(type(self).__name__, 'embed_dim', embed_dim, 1)
        super().__init__(*args, **kwargs)
        self._use_embedding_projector(embed_dim)
