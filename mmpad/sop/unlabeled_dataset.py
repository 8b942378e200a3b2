"""``SOPUnlabeledDataset``: a folder of unlabeled images for SOP pre-training
— an ``UnlabeledImageFolder`` for mmseg.

It lists images only (no label maps); the pretext target is written by the
``SubimageOverlap`` transform. Classes are ``('background', 'subimage')``, palette
black / white, so mmseg's visualiser and metrics work unchanged.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import List, Sequence, Union

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from mmpad.core.arg_check import check_bool, check_int, check_str_list

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp')


@DATASETS.register_module()
class SOPUnlabeledDataset(BaseSegDataset):
    """Every image under ``data_root/data_prefix['img_path']`` (recursively), or the
    images named in ``ann_file`` (one name per line, relative to the image folder,
    with or without extension).

    Args:
        img_suffix: accepted extensions (case-insensitive).
        repeat: list every image ``repeat`` times with ``sop_repeat_idx`` =
            0..repeat-1, so that a seeded ``SubimageOverlap`` draws ``repeat``
            different fixed boxes per held-out parent (lower-variance pretext IoU).
        recursive: descend into sub-folders.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments (``data_root``,
            ``data_prefix``, ``ann_file``, ``pipeline``, ``indices``, ...).
    """

    METAINFO = dict(classes=('background', 'subimage'),
                    palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 img_suffix: Union[str, Sequence[str]] = IMG_EXTENSIONS,
                 repeat: int = 1,
                 recursive: bool = True,
                 data_prefix: dict = dict(img_path=''),
                 **kwargs) -> None:
        owner = 'SOPUnlabeledDataset'
        if isinstance(img_suffix, str):
            img_suffix = (img_suffix, )
        img_suffix = check_str_list(owner, 'img_suffix', img_suffix)
        self.repeat = check_int(owner, 'repeat', repeat, 1)
        self.recursive = check_bool(owner, 'recursive', recursive)
        kwargs.pop('seg_map_suffix', None)
        super().__init__(img_suffix=tuple(s.lower() for s in img_suffix),
                         data_prefix=data_prefix, **kwargs)

    def _img_dir(self) -> str:
        img_dir = self.data_prefix.get('img_path') or self.data_root or ''
        if not osp.isdir(img_dir):
            raise FileNotFoundError(
                f'SOPUnlabeledDataset: image folder {img_dir!r} does not exist '
                f'(data_root={self.data_root!r}, data_prefix={self.data_prefix!r})')
        return img_dir

    def _scan(self, img_dir: str) -> List[str]:
        found = []
        for root, dirs, files in os.walk(img_dir, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
            if not self.recursive:
                dirs[:] = []
            for name in files:
                if not name.startswith('.') and \
                        osp.splitext(name)[1].lower() in self.img_suffix:
                    found.append(osp.join(root, name))
        return sorted(found)

    def _from_ann_file(self, img_dir: str) -> List[str]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'SOPUnlabeledDataset: ann_file {self.ann_file!r} does not exist')
        with open(self.ann_file) as f:
            names = [line.strip() for line in f if line.strip()]
        paths, missing = [], []
        for name in names:
            cands = [name] if osp.splitext(name)[1].lower() in self.img_suffix \
                else [name + s for s in self.img_suffix]
            hit = next((osp.join(img_dir, c) for c in cands
                        if osp.isfile(osp.join(img_dir, c))), None)
            if hit is None:
                missing.append(name)
            else:
                paths.append(hit)
        if missing:
            raise FileNotFoundError(
                f'SOPUnlabeledDataset: {len(missing)} of {len(names)} images listed in '
                f'{self.ann_file!r} are not in {img_dir!r} with suffix '
                f'{self.img_suffix}, e.g. {missing[:3]}')
        return paths

    def load_data_list(self) -> List[dict]:
        img_dir = self._img_dir()
        paths = self._from_ann_file(img_dir) if self.ann_file else self._scan(img_dir)
        if not paths:
            src = self.ann_file or img_dir
            raise ValueError(f'SOPUnlabeledDataset: no images with suffix '
                             f'{self.img_suffix} found in {src!r}')
        return [dict(img_path=p, seg_map_path=None, label_map=None,
                     reduce_zero_label=False, seg_fields=[], sop_repeat_idx=r)
                for r in range(self.repeat) for p in paths]
