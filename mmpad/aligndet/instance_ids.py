"""Instance ids of proposals: unique within a batch, apart from the label space.

Ids come from :class:`~mmpad.aligndet.transforms.AssignInstanceIds`
(``arange(N)`` per image, shared by both views) and are packed as
``gt_instances.instances_ids``. Background samples get id ``-1``.

The reference used ``num_classes = 256`` both as the embedding width and as the
background label, so a batch with more than 256 proposals made an instance id
collide with background. Here ids are never compared with
``num_classes``: stock mmdet target functions that only propagate labels get the
ids *encoded as negative labels* (``-1 - id``), which no background value
(``num_classes >= 1``) can equal, and decode them afterwards.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.structures import DetDataSample

BACKGROUND_ID = -1


def batch_instance_ids(views: Dict[str, Sequence[DetDataSample]]) -> None:
    """Offset every image's ids so that they are unique within the batch.

    Image ``i`` of every view gets the same offset, the number of proposals of
    images ``0..i-1`` (the largest id + 1 over the views, since a view may have
    filtered boxes). Modifies ``gt_instances.instances_ids`` in place.

    Args:
        views: view name -> data samples of the batch (same images, same order).
    """
    samples = list(views.values())
    num_images = len(samples[0])
    if any(len(s) != num_images for s in samples):
        raise ValueError('All views must hold the same images; got batch sizes '
                         f'{[len(s) for s in samples]}')
    offset = 0
    for i in range(num_images):
        count = 0
        for view in samples:
            inst = view[i].gt_instances
            if 'instances_ids' not in inst:
                raise KeyError(
                    'gt_instances has no instances_ids (image '
                    f'{view[i].metainfo.get("img_path", i)}): add '
                    'AssignInstanceIds before MultiBranch and pack with '
                    'PackAlignDetInputs')
            ids = inst.instances_ids
            if ids.numel():
                count = max(count, int(ids.max()) + 1)
        for view in samples:
            inst = view[i].gt_instances
            inst.instances_ids = inst.instances_ids.long() + offset
        offset += count


def encode_ids_as_labels(ids: Tensor) -> Tensor:
    """Instance ids (>= 0) -> labels ``-1 - id`` (<= -1), disjoint from any
    background label ``num_classes``."""
    return -1 - ids.long()


def decode_labels_as_ids(labels: Tensor) -> Tensor:
    """Inverse of :func:`encode_ids_as_labels`; background labels (>= 0) -> -1."""
    labels = labels.long()
    return torch.where(labels < 0, -1 - labels, torch.full_like(labels, -1))


def instances_with_encoded_ids(batch_gt_instances: List[InstanceData]
                               ) -> List[InstanceData]:
    """Copies of the ground truths whose ``labels`` are the encoded ids."""
    out = []
    for inst in batch_gt_instances:
        new = InstanceData(metainfo=inst.metainfo)
        new.bboxes = inst.bboxes
        new.labels = encode_ids_as_labels(inst.instances_ids)
        out.append(new)
    return out
