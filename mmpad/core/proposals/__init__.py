"""One selective-search proposal generator shared by PAD (MSIP RoIs) and AlignDet.

``generate_proposals(image_bgr, preset='pad'|'aligndet') -> (N, 4) int xywh``.

The names below are imported from their modules on first use: reading or writing
RoI files (``mmpad.core.proposals.roi_file``, what PAD pre-training needs) imports
neither the generator nor its cv2 / scipy / numba dependencies.
"""
from mmpad.registration import lazy_names

_MODULES = {
    'filters': ('box_iou_xywh', 'nms_in_order', 'pad_roi_filter', 'soco_filter',
                'unique_rows'),
    'generate': ('PRESETS', 'ProposalPreset', 'generate_proposals', 'get_preset'),
    'roi_file': ('RoIFileError', 'read_roi_file', 'write_roi_file'),
    'search': ('Regions', 'selective_search'),
}

__all__, __getattr__ = lazy_names(__name__, {
    name: (f'{__name__}.{module}', name)
    for module, names in _MODULES.items() for name in names})
