"""FLIR ADAS v1 thermal detection: COCO format, classes person/bicycle/car.

Layout::

    <data_root>/{train,val}/thermal_8_bit/FLIR_xxxxx.jpeg
    <data_root>/{train,val}/thermal_annotations.json    # file_name 'thermal_8_bit/...'

Only categories 1-3 are used (as the PAD code: ``category_id in [1, 2, 3]``), matched
by id, so the annotation file's spelling of the names ('bike' / 'bicycle') does not
matter; other FLIR categories are ignored.
"""
from __future__ import annotations

import json
from typing import List, Optional

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS

from mmpad.datasets.class_names import FLIR_CLASSES
from mmpad.core.arg_check import check_choice

#: FLIR category ids of FLIR_CLASSES, in order
FLIR_CAT_IDS = (1, 2, 3)


class _FLIRCOCO(COCO):
    """COCO API whose class selection is by FLIR category id."""

    def get_cat_ids(self, cat_names=None, sup_names=None, cat_ids=None):
        missing = [c for c in FLIR_CAT_IDS if c not in self.cats]
        if missing:
            raise ValueError(f'FLIR category id(s) {missing} are not in the '
                             f'annotation file (expected 1 person, 2 bicycle, '
                             f'3 car)')
        return list(FLIR_CAT_IDS)


@DATASETS.register_module()
class FLIRDataset(CocoDataset):
    """FLIR ADAS v1 thermal images with person / bicycle / car boxes.

    Args:
        split: ``'train'`` or ``'val'``; fills ``ann_file`` and ``data_prefix``
            when they are not given.
        **kwargs: :class:`mmdet.datasets.CocoDataset` arguments.
    """

    METAINFO = dict(classes=FLIR_CLASSES,
                    palette=[(220, 20, 60), (119, 11, 32), (0, 0, 142)])
    COCOAPI = _FLIRCOCO

    def __init__(self, split: Optional[str] = None, **kwargs) -> None:
        if split is not None:
            check_choice('FLIRDataset', 'split', split, ('train', 'val'))
            kwargs.setdefault('ann_file', f'{split}/thermal_annotations.json')
            kwargs.setdefault('data_prefix', dict(img=f'{split}/'))
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        try:
            return super().load_data_list()
        except json.JSONDecodeError as e:
            raise ValueError(f'FLIRDataset: {self.ann_file} is not valid JSON '
                             f'({e})') from e
        except (KeyError, ValueError) as e:
            raise ValueError(f'FLIRDataset: {self.ann_file}: {e}') from e
