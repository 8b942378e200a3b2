"""Random boxes and batched detection views, the inputs of an AlignDet step."""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
from torch import Tensor


def random_boxes(num: int, h: int, w: int, generator: torch.Generator,
                 min_size: int = 12) -> Tensor:
    """``num`` random boxes (num, 4) as x1, y1, x2, y2 inside an h x w image,
    each side at least ``min_size``."""
    x1 = torch.rand(num, generator=generator) * (w - min_size - 1)
    y1 = torch.rand(num, generator=generator) * (h - min_size - 1)
    bw = min_size + torch.rand(num, generator=generator) * (w - x1 - min_size)
    bh = min_size + torch.rand(num, generator=generator) * (h - y1 - min_size)
    return torch.stack([x1, y1, x1 + bw, y1 + bh], dim=1)


def make_view(boxes_per_image: Sequence[Tensor],
              shapes: Sequence[Tuple[int, int]],
              labels_per_image: Sequence[Tensor],
              pad_to: int = 32) -> Tuple[Tensor, List]:
    """Random images (B, 3, H, W), zero-padded to a multiple of ``pad_to``, and
    their ``DetDataSample`` s with the boxes (n_i, 4), labels (n_i,) and one
    instance id per box (``gt_instances.instances_ids`` = 0..n_i-1)."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    hs = max(h for h, _ in shapes)
    ws = max(w for _, w in shapes)
    H, W = -(-hs // pad_to) * pad_to, -(-ws // pad_to) * pad_to
    imgs = torch.zeros(len(shapes), 3, H, W)
    samples = []
    for i, ((h, w), boxes, labels) in enumerate(
            zip(shapes, boxes_per_image, labels_per_image)):
        imgs[i, :, :h, :w] = torch.rand(3, h, w, generator=torch.Generator()
                                        .manual_seed(i))
        sample = DetDataSample(metainfo=dict(
            img_shape=(h, w), ori_shape=(h, w), pad_shape=(H, W),
            batch_input_shape=(H, W), scale_factor=(1., 1.), img_id=i))
        sample.gt_instances = InstanceData(
            bboxes=boxes, labels=labels,
            instances_ids=torch.arange(len(boxes)))
        samples.append(sample)
    return imgs, samples
