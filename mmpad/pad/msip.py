"""MSIP: the multi-source infrared pre-training set of PAD (178,756 images from
8 public infrared data sets; ``tools/build_msip.py`` builds it).

Layout::

    <data_root>/<subset>/thermal/<stem>.{jpg,jpeg,JPEG,png,bmp}
    <data_root>/<subset>/roi/<stem>.txt          # "x,y,w,h" lines (optional)

Every data info has ``img_path``, ``roi_path`` (whether or not the file exists),
``subset`` and ``sample_idx``; with ``load_rois=True`` it also has ``rois``, an
(N, 4) int64 array read once at start-up (missing file: empty array).
"""
from __future__ import annotations

import os.path as osp
from typing import List, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from mmpad.core import bad_samples
from mmpad.core.bad_samples import BadSampleError
from mmpad.pad.roi_reading import read_rois_reported
from mmpad.pad.msip_layout import (IMG_EXTENSIONS, list_msip_images,
                                         list_thermal_images, msip_subsets,
                                         roi_path_for, stem_of)
from mmpad.core.arg_check import (check_bool, check_float, check_str,
                                   check_str_list)

# ---- normalisation constants, one per stage as in the PAD code ----
# (the stds differ: 0.1871 * 255 = 47.7105 in pre-training, 47.8976 downstream)
#: pre-training mean / std, 0-255 units (0.3801 / 0.1871 on [0, 1] pixels)
MSIP_MEAN = (96.9255, 96.9255, 96.9255)
MSIP_STD = (47.7105, 47.7105, 47.7105)
#: the same on [0, 1] pixels, as the reference wrote them
MSIP_MEAN_01 = (0.3801, 0.3801, 0.3801)
MSIP_STD_01 = (0.1871, 0.1871, 0.1871)
#: downstream (SODA / MFNet / FLIR fine-tuning) mean / std, 0-255 units
INFRARED_DOWNSTREAM_MEAN = (96.9255, 96.9255, 96.9255)
INFRARED_DOWNSTREAM_STD = (47.8976, 47.8976, 47.8976)

@DATASETS.register_module()
class MSIPDataset(BaseDataset):
    """MSIP image folders for self-supervised pre-training.

    Args:
        data_root: the MSIP root.
        subsets: ``None`` for every folder under ``data_root`` that has a
            ``thermal/`` folder (sorted), a comma-separated string or a list.
        data_ratio: keep every ``int(1 / data_ratio)``-th image of the
            concatenated list (reference behaviour), e.g. 0.1 keeps 1 in 10.
        ann_file: optional text file listing image paths relative to
            ``data_root`` (one per line) instead of scanning the folders.
        load_rois: read every RoI file once at start-up into ``rois``; bad lines
            and unreadable files are reported (``bad_roi_lines`` /
            ``bad_roi_file``, :mod:`mmpad.core.bad_samples`) and ignored.
        skip_unreadable: in training, a sample whose pipeline raises is reported
            (``load_error``: path and error, one warning per file per run, counted
            across DataLoader workers) and replaced by another one; ``False`` (or
            ``test_mode``, or ``strict``) raises
            :class:`~mmpad.core.bad_samples.BadSampleError` with the path.
            Bad files that the pipeline's ``LoadImageFromFileSafe`` recognises are
            skipped by that transform instead (it returns ``None``).
        strict: raise :class:`~mmpad.core.bad_samples.BadSampleError` on a
            bad RoI file or line (``load_rois``) and on a sample that cannot be
            loaded, instead of skipping it.
        **kwargs: :class:`mmpretrain.datasets.BaseDataset` arguments
            (``pipeline``, ``test_mode``, ``lazy_init``, ...).
    """

    def __init__(self, data_root: str, subsets: Union[None, str, Sequence[str]] = None,
                 data_ratio: float = 1.0, ann_file: str = '', load_rois: bool = False,
                 skip_unreadable: bool = True, strict: bool = False,
                 **kwargs) -> None:
        owner = 'MSIPDataset'
        check_str(owner, 'data_root', data_root)
        if isinstance(subsets, str):
            subsets = [s.strip() for s in subsets.split(',') if s.strip()]
        subsets = check_str_list(owner, 'subsets', subsets, allow_none=True)
        data_ratio = check_float(owner, 'data_ratio', data_ratio, 0.0, 1.0,
                                 lo_open=True)
        check_str(owner, 'ann_file', ann_file)
        load_rois = check_bool(owner, 'load_rois', load_rois)
        skip_unreadable = check_bool(owner, 'skip_unreadable', skip_unreadable)
        strict = check_bool(owner, 'strict', strict)
        self.subsets = list(subsets) if subsets is not None else None
        self.data_ratio = data_ratio
        self.load_rois = load_rois
        self.skip_unreadable = skip_unreadable
        self.strict = strict
        #: images skipped by this dataset object in this process (kept for
        #: compatibility; run-wide counts: mmpad.core.bad_samples.counts())
        self.unreadable: List[str] = []
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    # ------------------------------------------------------------------ listing
    def _image_paths(self) -> List[str]:
        if self.ann_file:
            with open(self.ann_file) as f:
                rel = [ln.strip() for ln in f if ln.strip()]
            return [p if osp.isabs(p) else osp.join(self.data_root, p) for p in rel]
        return list_msip_images(self.data_root, self.subsets)

    def load_data_list(self) -> List[dict]:
        paths = self._image_paths()
        if self.data_ratio != 1.0:
            paths = paths[::int(1 / self.data_ratio)]
        data_list = []
        no_rois = 0
        for i, p in enumerate(paths):
            info = dict(img_path=p, roi_path=roi_path_for(p),
                        subset=osp.basename(osp.dirname(osp.dirname(p))),
                        sample_idx=i)
            if self.load_rois:
                info['rois'] = self._read_rois(info['roi_path'])
                no_rois += len(info['rois']) == 0
            data_list.append(info)
        if no_rois:
            print_log(f'MSIPDataset: {no_rois} of {len(paths)} images have no RoIs '
                      f'(missing or empty RoI file); they are cropped by the '
                      f'RandomResizedCrop fallback', logger='current', level=30)
        return data_list

    def _read_rois(self, path: str) -> np.ndarray:
        if not osp.exists(path):
            return np.zeros((0, 4), np.int64)
        rois, _ = read_rois_reported(path, self.strict, 'MSIPDataset',
                                     fallback='using no RoIs')
        if rois is None:
            return np.zeros((0, 4), np.int64)
        return rois

    # ------------------------------------------------------------------ loading
    def prepare_data(self, idx: int):
        try:
            return super().prepare_data(idx)
        except BadSampleError:  # a strict transform already named the file
            raise
        except Exception as e:  # noqa: BLE001 - re-raised or reported with the path
            path = self.get_data_info(idx).get('img_path')
            strict = self.test_mode or self.strict or not self.skip_unreadable
            try:
                bad_samples.report(
                    path, f'cannot load sample {idx}: {type(e).__name__}: {e}',
                    strict=strict, kind='load_error', source='MSIPDataset')
            except BadSampleError as err:
                raise err from e
            if path not in self.unreadable:
                self.unreadable.append(path)
            return None

    def extra_repr(self) -> List[str]:
        return [f'Root: \t{self.data_root}',
                f'Subsets: \t{self.subsets or "all"}',
                f'Data ratio: \t{self.data_ratio}']


__all__ = ['MSIPDataset', 'MSIP_MEAN', 'MSIP_STD', 'MSIP_MEAN_01', 'MSIP_STD_01',
           'INFRARED_DOWNSTREAM_MEAN', 'INFRARED_DOWNSTREAM_STD', 'IMG_EXTENSIONS',
           'list_thermal_images', 'msip_subsets', 'roi_path_for', 'stem_of']
