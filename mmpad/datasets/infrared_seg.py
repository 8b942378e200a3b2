"""Infrared semantic segmentation sets: SODA (21 classes) and MFNet thermal (9 classes).

Both count the background class and keep it in mIoU (``reduce_zero_label=False``,
as in PAD). Layouts::

    SODA   <root>/JPEGImages/<name>.jpg, <root>/SegmentationClass/<name>.png,
           <root>/ImageSets/Segmentation/{train,test}_infrared.txt
    MFNet  <root>/thermal_imgs/<name>.png, <root>/labels/<name>.png,
           <root>/{train,val_test,test}.txt   (val = val_test.txt, as PAD uses it)
"""
from __future__ import annotations

import os.path as osp
from typing import Dict, List, Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from mmpad.datasets.class_names import MFNET_CLASSES, SODA_CLASSES
from mmpad.core.arg_check import check_choice

# Pascal-VOC colour map (the first 21 entries), used for SODA's 21 classes
_VOC_PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
                [128, 0, 128], [0, 128, 128], [128, 128, 128], [64, 0, 0],
                [192, 0, 0], [64, 128, 0], [192, 128, 0], [64, 0, 128],
                [192, 0, 128], [64, 128, 128], [192, 128, 128], [0, 64, 0],
                [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128]]


class _SplitListSegDataset(BaseSegDataset):
    """A segmentation set whose splits are name lists; checks the files exist.

    A subclass names its layout: ``SPLITS`` (split -> name list, relative to the
    data root), ``IMG_SUFFIX``, ``SEG_MAP_SUFFIX`` and ``DATA_PREFIX`` (the image
    and label folders), the defaults of the matching arguments.

    Args:
        split: one of ``SPLITS`` (fills ``ann_file``).
        img_suffix, seg_map_suffix, data_prefix: as ``BaseSegDataset``; ``None``
            takes the class's layout.
        **kwargs: ``BaseSegDataset`` arguments (``reduce_zero_label`` defaults
            to ``False``: the background class counts).
    """

    SPLITS: Dict[str, str] = {}
    IMG_SUFFIX = '.png'
    SEG_MAP_SUFFIX = '.png'
    DATA_PREFIX: Dict[str, str] = {}

    def __init__(self, split: Optional[str] = None,
                 img_suffix: Optional[str] = None,
                 seg_map_suffix: Optional[str] = None,
                 data_prefix: Optional[dict] = None, **kwargs) -> None:
        if split is not None:
            check_choice(type(self).__name__, 'split', split, sorted(self.SPLITS))
            kwargs.setdefault('ann_file', self.SPLITS[split])
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(
            img_suffix=self.IMG_SUFFIX if img_suffix is None else img_suffix,
            seg_map_suffix=(self.SEG_MAP_SUFFIX if seg_map_suffix is None
                            else seg_map_suffix),
            data_prefix=dict(self.DATA_PREFIX) if data_prefix is None
            else data_prefix, **kwargs)

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
    """SODA thermal segmentation, 21 classes including background: JPEG images
    in ``JPEGImages/``, PNG labels in ``SegmentationClass/``.

    Args:
        split: ``'train'`` or ``'test'`` (fills ``ann_file``).
        **kwargs: see :class:`_SplitListSegDataset`.
    """

    METAINFO = dict(classes=SODA_CLASSES, palette=_VOC_PALETTE)
    SPLITS = dict(train='ImageSets/Segmentation/train_infrared.txt',
                  test='ImageSets/Segmentation/test_infrared.txt')
    IMG_SUFFIX = '.jpg'
    DATA_PREFIX = dict(img_path='JPEGImages', seg_map_path='SegmentationClass')


@DATASETS.register_module()
class MFNetDataset(_SplitListSegDataset):
    """MFNet thermal segmentation, 9 classes including 'unlabelled': PNG images in
    ``thermal_imgs/``, PNG labels in ``labels/``.

    Args:
        split: ``'train'``, ``'val'`` (``val_test.txt``) or ``'test'``.
        **kwargs: see :class:`_SplitListSegDataset`.
    """

    METAINFO = dict(classes=MFNET_CLASSES,
                    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                             [0, 0, 128], [128, 0, 128], [0, 128, 128],
                             [128, 128, 128], [64, 0, 0]])
    SPLITS = dict(train='train.txt', val='val_test.txt', test='test.txt')
    DATA_PREFIX = dict(img_path='thermal_imgs', seg_map_path='labels')
