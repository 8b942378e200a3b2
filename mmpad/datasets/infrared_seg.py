"""Infrared semantic segmentation sets: SODA (21 classes) and MFNet thermal (9 classes).

Both count the background class and keep it in mIoU (``reduce_zero_label=False``,
pad.md §5.2). Layouts::

    SODA   <root>/JPEGImages/<name>.jpg, <root>/SegmentationClass/<name>.png,
           <root>/ImageSets/Segmentation/{train,test}_infrared.txt
    MFNet  <root>/thermal_imgs/<name>.png, <root>/labels/<name>.png,
           <root>/{train,val_test,test}.txt   (val = val_test.txt, decision D10)
"""
from __future__ import annotations

import os.path as osp
from typing import List, Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from mmpad.datasets.synthetic import MFNET_CLASSES, SODA_CLASSES
from mmpad.core.arg_check import check_choice

# Pascal-VOC colour map (the first 21 entries), used for SODA's 21 classes
_VOC_PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
                [128, 0, 128], [0, 128, 128], [128, 128, 128], [64, 0, 0],
                [192, 0, 0], [64, 128, 0], [192, 128, 0], [64, 0, 128],
                [192, 0, 128], [64, 128, 128], [192, 128, 128], [0, 64, 0],
                [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128]]


class _SplitListSegDataset(BaseSegDataset):
    """A segmentation set whose splits are name lists; checks the files exist."""

    SPLITS: dict = {}

    def __init__(self, split: Optional[str] = None, **kwargs) -> None:
        if split is not None:
            check_choice(type(self).__name__, 'split', split, sorted(self.SPLITS))
            kwargs.setdefault('ann_file', self.SPLITS[split])
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        if self.ann_file and not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{type(self).__name__}: split list '
                                    f'{self.ann_file!r} does not exist')
        data_list = super().load_data_list()
        missing = [p for d in data_list for p in (d['img_path'], d.get('seg_map_path'))
                   if p is not None and not osp.exists(p)]
        if missing:
            raise FileNotFoundError(
                f'{type(self).__name__}: {len(missing)} file(s) listed in '
                f'{self.ann_file or "the image folder"} are missing, e.g. '
                + ', '.join(missing[:3]))
        return data_list


@DATASETS.register_module()
class SODADataset(_SplitListSegDataset):
    """SODA thermal segmentation, 21 classes including background.

    Args:
        split: ``'train'`` or ``'test'`` (fills ``ann_file``).
    """

    METAINFO = dict(classes=SODA_CLASSES, palette=_VOC_PALETTE)
    SPLITS = dict(train='ImageSets/Segmentation/train_infrared.txt',
                  test='ImageSets/Segmentation/test_infrared.txt')

    def __init__(self, split: Optional[str] = None, img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(img_path='JPEGImages',
                                          seg_map_path='SegmentationClass'),
                 **kwargs) -> None:
        super().__init__(split=split, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         **kwargs)


@DATASETS.register_module()
class MFNetDataset(_SplitListSegDataset):
    """MFNet thermal segmentation, 9 classes including 'unlabelled' (pad.md §7.1).

    Args:
        split: ``'train'``, ``'val'`` (``val_test.txt``) or ``'test'``.
    """

    METAINFO = dict(classes=MFNET_CLASSES,
                    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                             [0, 0, 128], [128, 0, 128], [0, 128, 128],
                             [128, 128, 128], [64, 0, 0]])
    SPLITS = dict(train='train.txt', val='val_test.txt', test='test.txt')

    def __init__(self, split: Optional[str] = None, img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(img_path='thermal_imgs',
                                          seg_map_path='labels'),
                 **kwargs) -> None:
        super().__init__(split=split, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         **kwargs)
