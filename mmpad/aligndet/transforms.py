"""Data transforms of AlignDet's two-view pipeline.

``LoadImageFromFile -> LoadAnnotations -> TopKProposals -> AssignInstanceIds ->
MultiBranch(online=view, target=view)`` where ``view`` resizes, flips, applies one
colour op and ends with ``FilterAnnotationsWithIds -> PackAlignDetInputs``.

Instance ids are assigned **once, before the views split** (the reference matched
the views by box order, which any per-view box filtering silently shifts): each
proposal of an image gets ``gt_instances_ids = arange(N)``, the id travels with its
box through every per-view transform, and the pre-trainer offsets the ids per
image so that they are unique within a batch. The key is mmdet's own ``gt_instances_ids`` (the one
``RandomCrop`` already filters), packed as ``gt_instances.instances_ids``.

Padding is left to the data preprocessor (mmdet 3.x), i.e. it happens after
flipping, so boxes and pixels are flipped about the same width (the reference
flipped images at the padded width and boxes at the image width, up to 31 px apart).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmdet.datasets.transforms import ColorTransform, PackDetInputs
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import autocast_box_type

from mmpad.core.arg_check import check_bool, check_int, check_pair

#: Per-instance keys that must be indexed together with ``gt_bboxes``.
INSTANCE_KEYS = ('gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags', 'gt_masks',
                 'gt_instances_ids')


def _select_instances(results: dict, keep: np.ndarray) -> None:
    for key in INSTANCE_KEYS:
        if results.get(key, None) is not None:
            results[key] = results[key][keep]


@TRANSFORMS.register_module()
class TopKProposals(BaseTransform):
    """Keep at most ``topk`` proposals of an image.

    ``random=False`` keeps the first ``topk`` in file order (the reference's
    behaviour, used for RetinaNet and DETR); ``random=True`` draws ``topk`` without
    replacement and keeps them in file order.

    Modified keys: gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks,
    gt_instances_ids (those present).
    """

    def __init__(self, topk: int = 50, random: bool = False) -> None:
        self.topk = check_int(type(self).__name__, 'topk', topk, 1)
        self.random = check_bool(type(self).__name__, 'random', random)

    @cache_randomness
    def _random_subset(self, num: int) -> np.ndarray:
        return np.sort(np.random.choice(num, self.topk, replace=False))

    def transform(self, results: dict) -> dict:
        num = len(results['gt_bboxes'])
        if num <= self.topk:
            return results
        keep = self._random_subset(num) if self.random else np.arange(self.topk)
        _select_instances(results, keep)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(topk={self.topk}, random={self.random})'


@TRANSFORMS.register_module()
class AssignInstanceIds(BaseTransform):
    """Give every proposal of an image its instance id: ``arange(N)``.

    Must run before ``MultiBranch`` so that both views share the ids. Labels
    (``gt_bboxes_labels``: 0, or DETR cluster ids) are left untouched.

    Added keys: gt_instances_ids (np.int64, (N,)).
    """

    def transform(self, results: dict) -> dict:
        if results.get('gt_bboxes', None) is None:
            raise KeyError(
                f'AssignInstanceIds needs gt_bboxes (image '
                f'{results.get("img_path", "?")}): put LoadAnnotations before it')
        results['gt_instances_ids'] = np.arange(
            len(results['gt_bboxes']), dtype=np.int64)
        return results


@TRANSFORMS.register_module()
class FilterAnnotationsWithIds(BaseTransform):
    """mmdet's ``FilterAnnotations`` (box criterion) that also filters
    ``gt_instances_ids``, so that a dropped box drops its id in that view only.

    Args:
        min_gt_bbox_wh: boxes must be wider and taller than this (pixels).
        keep_empty: return None (the dataset then draws another image) when no
            box is left.
    """

    def __init__(self,
                 min_gt_bbox_wh: Tuple[float, float] = (1e-2, 1e-2),
                 keep_empty: bool = True) -> None:
        owner = type(self).__name__
        self.min_gt_bbox_wh = check_pair(owner, 'min_gt_bbox_wh', min_gt_bbox_wh,
                                         0.0, None, ordered=False)
        self.keep_empty = check_bool(owner, 'keep_empty', keep_empty)

    @autocast_box_type()
    def transform(self, results: dict) -> Optional[dict]:
        boxes = results['gt_bboxes']
        if len(boxes) == 0:
            return results
        keep = ((boxes.widths > self.min_gt_bbox_wh[0]) &
                (boxes.heights > self.min_gt_bbox_wh[1])).numpy()
        if not keep.any() and self.keep_empty:
            return None
        _select_instances(results, keep)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(min_gt_bbox_wh={self.min_gt_bbox_wh}, '
                f'keep_empty={self.keep_empty})')


@TRANSFORMS.register_module()
class PackAlignDetInputs(PackDetInputs):
    """``PackDetInputs`` that also packs ``gt_instances_ids`` as
    ``gt_instances.instances_ids``."""
    mapping_table = dict(PackDetInputs.mapping_table,
                         gt_instances_ids='instances_ids')


@TRANSFORMS.register_module()
class Identity(ColorTransform):
    """The 'do nothing' member of AlignDet's colour-op space, so that
    ``RandAugment(aug_num=1)`` leaves one image in nine unchanged."""

    def _transform_img(self, results: dict, mag: float) -> None:
        return None
