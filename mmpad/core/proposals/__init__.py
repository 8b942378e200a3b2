"""One selective-search proposal generator shared by PAD (MSIP RoIs) and AlignDet.

``generate_proposals(image_bgr, preset='pad'|'aligndet') -> (N, 4) int xywh``.
"""
from mmpad.core.proposals.filters import (box_iou_xywh, nms_in_order, pad_roi_filter,
                                          soco_filter, unique_rows)
from mmpad.core.proposals.generate import PRESETS, ProposalPreset, generate_proposals, get_preset
from mmpad.core.proposals.roi_file import RoIFileError, read_roi_file, write_roi_file
from mmpad.core.proposals.selective_search import Regions, selective_search

__all__ = [
    'generate_proposals', 'PRESETS', 'ProposalPreset', 'get_preset',
    'selective_search', 'Regions', 'pad_roi_filter', 'soco_filter', 'unique_rows',
    'nms_in_order', 'box_iou_xywh', 'read_roi_file', 'write_roi_file', 'RoIFileError'
]
