"""What one detector returns for one view during AlignDet pre-training."""
from __future__ import annotations

from typing import Dict, NamedTuple

from torch import Tensor


class ViewOutput(NamedTuple):
    """Sampled box embeddings of one view, their instance ids and the detector's
    own losses on that view.

    Attributes:
        embeds: (N, D) projector outputs of the sampled boxes / anchors / points /
            queries, in one consistent order with ``ids``.
        ids: (N,) instance ids, unique within the batch; ``-1`` for background
            samples (contrastive negatives only).
        losses: the detector's regression (and RPN) losses against the proposals;
            empty for the momentum target, which computes none.
    """
    embeds: Tensor
    ids: Tensor
    losses: Dict[str, Tensor]
