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
from typing import Any, Dict, List, Mapping, Optional

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

    ``split`` drives the paths: ``ann_file='<split>/thermal_annotations.json'``
    and ``data_prefix=dict(img='<split>/')``. An ``ann_file`` or ``data_prefix``
    that says otherwise (typically inherited from a stock COCO config such as
    ``mmdet::_base_/datasets/coco_detection.py``) is an error naming both fields,
    never silently preferred: set them to ``None`` to let ``split`` fill them, or
    drop ``split`` and give the paths.

    Args:
        split: ``'train'`` or ``'val'``; fills ``ann_file`` and ``data_prefix``.
        **kwargs: :class:`mmdet.datasets.CocoDataset` arguments.
    """

    METAINFO = dict(classes=FLIR_CLASSES,
                    palette=[(220, 20, 60), (119, 11, 32), (0, 0, 142)])
    COCOAPI = _FLIRCOCO

    @staticmethod
    def split_paths(split: str) -> Dict[str, Any]:
        """The ``ann_file`` and ``data_prefix`` that ``split`` stands for."""
        return dict(ann_file=f'{split}/thermal_annotations.json',
                    data_prefix=dict(img=f'{split}/'))

    @staticmethod
    def config_problems(cfg: Mapping) -> List[str]:
        """Messages (each starting with the field name) for a ``split`` that
        disagrees with the ``ann_file`` / ``data_prefix`` of the same config;
        read by :func:`mmpad.core.check_config` before anything is built."""
        split = cfg.get('split')
        if split not in ('train', 'val'):
            return []  # no split, or a bad one: __init__ names it
        problems = []
        for key, implied in FLIRDataset.split_paths(split).items():
            given = cfg.get(key)
            if given is None or given == implied:
                continue
            if key == 'data_prefix' and isinstance(given, Mapping):
                given = dict((k, v) for k, v in given.items() if k != '_scope_')
                if given == implied:
                    continue
            problems.append(
                f'split: {split!r} stands for {key}={implied!r}, but {key} is '
                f'{given!r} (inherited from a base config such as mmdet\'s COCO '
                f'dataset config?); split does not override it. Set {key}=None '
                f'to let split fill it, or drop split and keep {key}')
        return problems

    def __init__(self, split: Optional[str] = None, **kwargs) -> None:
        if split is not None:
            check_choice('FLIRDataset', 'split', split, ('train', 'val'))
            problems = self.config_problems(dict(kwargs, split=split))
            if problems:
                raise ValueError('FLIRDataset: ' + '; '.join(problems))
            for key, implied in self.split_paths(split).items():
                if kwargs.get(key) is None:
                    kwargs[key] = implied
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        try:
            return super().load_data_list()
        except json.JSONDecodeError as e:
            raise ValueError(f'FLIRDataset: {self.ann_file} is not valid JSON '
                             f'({e})') from e
        except (KeyError, ValueError) as e:
            raise ValueError(f'FLIRDataset: {self.ann_file}: {e}') from e
