"""``generate_proposals``: selective search + a method's filter, one call per image."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

from mmpad.core.proposals.filters import nms_in_order, pad_roi_filter, soco_filter, unique_rows
from mmpad.core.proposals.search import selective_search


@dataclass(frozen=True)
class ProposalPreset:
    """Everything that defines a method's proposals (recorded in output metadata).

    Attributes:
        scale, sigma, min_size: Felzenszwalb parameters.
        texture_range: LBP histogram range (``(0, 1)``: ``selectivesearch`` 0.4;
            ``(0, 255)``: SoCo's fixed copy).
        channel_order: order the reference fed the channels in (``'bgr'``: OpenCV
            as in PAD; ``'rgb'``: PIL as in SoCo).
        filter: ``'pad'`` or ``'soco'``.
        dedupe: drop repeated rectangles (PAD kept a set; SoCo kept duplicates).
        nms_iou: optional order-preserving NMS threshold (AlignDet's proposal
            file is named ``...@0.5``, undocumented; mmpad reads it as NMS 0.5).
    """
    scale: float
    sigma: float
    min_size: int
    texture_range: Tuple[float, float]
    channel_order: str
    filter: str
    dedupe: bool
    nms_iou: Optional[float] = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d['texture_range'] = list(self.texture_range)
        return d


PRESETS = {
    # PAD's code: selectivesearch 0.4, scale 600 / sigma 0.9 / min_size 30,
    # size >= 600 px, w, h >= 40, aspect <= 3, no duplicates
    'pad': ProposalPreset(scale=600, sigma=0.9, min_size=30, texture_range=(0.0, 1.0),
                          channel_order='bgr', filter='pad', dedupe=True),
    # AlignDet: SoCo's selective search, scale 300 / sigma 0.9 / min_size 100,
    # filter ratio3size0008, NMS 0.5 by default (mmpad's reading of the
    # undocumented '@0.5' in AlignDet's proposal file name)
    'aligndet': ProposalPreset(scale=300, sigma=0.9, min_size=100,
                               texture_range=(0.0, 255.0), channel_order='rgb',
                               filter='soco', dedupe=False, nms_iou=0.5),
}


def get_preset(preset, nms_iou='default') -> ProposalPreset:
    """A preset by name (or the object itself), optionally overriding ``nms_iou``."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f'unknown proposal preset {preset!r}; choose from '
                             f'{sorted(PRESETS)}')
        preset = PRESETS[preset]
    if nms_iou != 'default':
        preset = ProposalPreset(**{**preset.__dict__, 'nms_iou': nms_iou})
    return preset


def generate_proposals(image_bgr: np.ndarray, preset='pad',
                       nms_iou='default') -> np.ndarray:
    """Object proposals of one image, in a deterministic order.

    Args:
        image_bgr: (H, W, 3) uint8 as read by ``cv2.imread`` (grayscale (H, W) is
            expanded to three equal channels).
        preset: ``'pad'`` (MSIP RoIs), ``'aligndet'`` (SoCo-style
            proposals) or a :class:`ProposalPreset`.
        nms_iou: override the preset's NMS threshold (``None`` disables it).

    Returns:
        (N, 4) int64 ``x, y, w, h``, in the order selective search creates the
        regions (small initial segments first, then merges), filtered.
    """
    p = get_preset(preset, nms_iou)
    image = np.asarray(image_bgr)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('generate_proposals expects an (H, W, 3) uint8 image, got '
                         f'shape {image.shape} dtype {image.dtype}')
    if p.channel_order == 'rgb':
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    regions = selective_search(image, p.scale, p.sigma, p.min_size, p.texture_range)
    if p.filter == 'pad':
        keep = pad_roi_filter(regions.rects, regions.sizes)
    elif p.filter == 'soco':
        keep = soco_filter(regions.rects, image.shape)
    else:
        raise ValueError(f'unknown filter {p.filter!r}')
    rects = regions.rects[keep]
    if p.dedupe:
        rects = unique_rows(rects)
    if p.nms_iou is not None:
        rects = nms_in_order(rects, p.nms_iou)
    return rects.astype(np.int64)
