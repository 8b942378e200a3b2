"""Object-sensitive random RoI cropping (``RandomRoiCrop`` of the PAD code)."""
from __future__ import annotations

import multiprocessing as mp
import os.path as osp
from collections import Counter
from typing import Dict, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmengine.logging import print_log
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS

from mmpad.core.bad_samples import printable
from mmpad.pad.roi_reading import read_rois_reported
from mmpad.core.arg_check import (check_bool, check_choice, check_float,
                                   check_int, check_pair, check_size)

_MAX_WARNINGS = 20

#: the counters of :attr:`ObjectSensitiveRandomRoICrop.stats`
STAT_KEYS = ('roi', 'fallback_no_roi', 'fallback_rejected', 'large_requested',
             'missing_roi_file', 'empty_roi_file', 'bad_roi_lines',
             'unreadable_roi_file')


class _SharedCounts:
    """Counters in memory shared with the DataLoader workers forked after this
    module was imported (as :mod:`mmpad.core.bad_samples` shares its counts):
    the main process sees the crops of every worker. With the ``spawn`` /
    ``forkserver`` start methods each worker has its own copy."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.lock = mp.get_context().Lock()
        self._raw = mp.RawArray('q', len(self.keys))
        self.values = np.frombuffer(self._raw, dtype=np.int64)

    def add(self, key: str, n: int = 1) -> None:
        i = self.index[key]
        locked = self.lock.acquire(timeout=1.0)
        try:  # without the lock (a worker died holding it) counts stay approximate
            self.values[i] += n
        finally:
            if locked:
                self.lock.release()

    def snapshot(self) -> Dict[str, int]:
        v = self.values.copy()
        return {k: int(v[i]) for i, k in enumerate(self.keys) if v[i]}

    def reset(self) -> None:
        self.values[:] = 0


_SHARED = _SharedCounts(STAT_KEYS)


class _Shape:
    """What ``RandomResizedCrop.rand_crop_params`` reads of an image (its
    ``shape``), for an image not decoded yet."""

    def __init__(self, h: int, w: int) -> None:
        self.shape = (h, w)


@TRANSFORMS.register_module()
class ObjectSensitiveRandomRoICrop(RandomResizedCrop):
    """Crop around a jittered selective-search RoI, resize to ``size``.

    The sampling procedure is exactly the reference's: with
    probability ``large_crop_prob`` (``1 - p``, p = 0.85) the crop must cover at
    least ``large_area_ratio`` of the image. Up to ``max_roi_attempts`` times, a RoI
    is drawn uniformly; RoIs partly outside the image or smaller than
    ``min_roi_size`` waste the attempt. Its centre is moved by
    ``round(w * U(-jitter, jitter))`` (same for y), its width and height are scaled
    by independent ``U(*scale_range)`` draws and floored at ``min_size``, the box
    is clipped to ``[0, W-1] x [0, H-1]`` and rejected if degenerate, narrower or
    lower than ``min_size`` or (large crops) too small. If no RoI is accepted, or
    the sample has no RoIs, the crop is mmpretrain's ``RandomResizedCrop`` box
    (``crop_ratio_range``, ``aspect_ratio_range``). The crop is resized to
    ``size`` without keeping its aspect ratio (bicubic, pillow backend).

    RoIs come from ``results['rois']`` ((N, 4) ``x, y, w, h``) when present,
    else from the file ``results['roi_path']``. Missing or empty files and bad
    lines do not stop training: they are counted, with the crops of each kind, in
    :meth:`get_stats` (shared with the DataLoader workers forked from the main
    process; :class:`~mmpad.pad.roi_crop_stats_hook.RoICropStatsHook`
    logs the per-epoch fallback rate and warns when it is high). A missing file is
    reported the first times with its path; an unreadable RoI file
    (``bad_roi_file``: no RoIs used) and lines that are not ``x,y,w,h``
    (``bad_roi_lines``: ignored, the good lines are used)
    go to :func:`mmpad.core.bad_samples.report`: one warning per file naming
    the first bad line, counted across DataLoader workers; with ``strict=True``
    they raise :class:`~mmpad.core.bad_samples.BadSampleError` naming the file
    and line.

    **Required keys:** ``img`` (or ``img_lazy``, see ``reduced_decode``), and
    ``rois`` or ``roi_path`` (optional).
    **Modified keys:** ``img``, ``img_shape`` (``img_lazy`` is removed).
    **Added keys:** ``crop_bbox`` (x1, y1, x2, y2, exclusive end), ``roi_crop``
    (``'roi'``, ``'fallback_no_roi'`` or ``'fallback_rejected'``).

    Args:
        size: output size, int or (h, w). Defaults to 224.
        large_crop_prob: probability of requiring a large crop (= 1 - p).
        p: the reference's parameter; if given, ``large_crop_prob = 1 - p``.
        large_area_ratio: minimum crop area / image area of a large crop.
        jitter: centre jitter, as a fraction of the RoI size.
        scale_range: range of the independent width / height scale factors.
        min_size: minimum crop width / height in pixels (after clipping).
        min_roi_size: RoIs narrower or lower than this are skipped.
        max_roi_attempts: RoI draws before falling back.
        random: ``False`` uses the first valid RoI drawn as is (no jitter).
        use_roi: ``False`` always uses the fallback crop.
        crop_ratio_range, aspect_ratio_range: fallback ``RandomResizedCrop``.
        interpolation, backend: resize settings (mmcv names).
        strict: raise on an unreadable RoI file or a bad RoI line.
        resize: ``'cpu'`` resizes here; ``'device'`` leaves the crop at its own
            size, for :class:`~mmpad.pad.data_preprocessor.
            InfraredSelfSupDataPreprocessor` ``(roi_resize=size)`` to resize the
            batch on the device (with ``collate_fn=dict(type='pseudo_collate')``).
        reduced_decode: with ``LoadImageFromFileSafe(lazy_decode=True)`` (the
            sample has ``img_lazy``), the largest factor ``r`` (1, 2, 4, 8) by
            which the JPEG may be decoded smaller: the largest ``r`` for which the
            crop is at least ``r`` times ``size`` in both directions (so it is
            still downscaled), with the crop box divided by ``r`` (fractional
            for the Pillow resize, rounded otherwise).
            The crop box is drawn from the header size, with the same random
            stream as a full decode. 1 (the default) decodes at full size: the
            output is then exactly that of an eagerly loaded image; with 2 or more
            the output changes (a DCT-scaled decode is not the same as a bicubic
            downscale), which is why it is opt-in.

    A 2-D (gray, ``color_type='grayscale'``) image is cropped and resized as one
    channel and stays 2-D; :class:`~mmpad.pad.data_preprocessor.
    InfraredSelfSupDataPreprocessor` expands it to 3 channels on the device.
    """

    #: class-level counters (per process): roi, fallback_no_roi, fallback_rejected,
    #: large_requested, missing_roi_file, empty_roi_file, bad_roi_lines,
    #: unreadable_roi_file
    stats: Counter = Counter()
    _warned = 0

    def __init__(self, size: Union[int, Sequence[int]] = 224,
                 large_crop_prob: float = 0.15, p: Optional[float] = None,
                 large_area_ratio: float = 0.15, jitter: float = 0.4,
                 scale_range: Tuple[float, float] = (0.7, 1.5), min_size: int = 60,
                 min_roi_size: int = 40, max_roi_attempts: int = 20,
                 random: bool = True, use_roi: bool = True,
                 crop_ratio_range: Tuple[float, float] = (0.2, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bicubic', backend: str = 'pillow',
                 strict: bool = False, resize: str = 'cpu',
                 reduced_decode: int = 1) -> None:
        owner = type(self).__name__
        size = check_size(owner, 'size', size, lo=1)
        large_crop_prob = check_float(owner, 'large_crop_prob', large_crop_prob,
                                      0.0, 1.0)
        p = check_float(owner, 'p', p, 0.0, 1.0, allow_none=True)
        if p is not None:
            large_crop_prob = 1.0 - p
        self.large_crop_prob = large_crop_prob
        self.large_area_ratio = check_float(owner, 'large_area_ratio',
                                            large_area_ratio, 0.0, 1.0)
        self.jitter = check_float(owner, 'jitter', jitter, 0.0, 1.0)
        self.scale_range = check_pair(owner, 'scale_range', scale_range, 0.0, None,
                                      lo_open=True)
        self.min_size = check_int(owner, 'min_size', min_size, 1)
        self.min_roi_size = check_int(owner, 'min_roi_size', min_roi_size, 0)
        self.max_roi_attempts = check_int(owner, 'max_roi_attempts',
                                          max_roi_attempts, 1)
        self.random = check_bool(owner, 'random', random)
        self.use_roi = check_bool(owner, 'use_roi', use_roi)
        self.strict = check_bool(owner, 'strict', strict)
        crop_ratio_range = check_pair(owner, 'crop_ratio_range', crop_ratio_range,
                                      0.0, 1.0, lo_open=True)
        aspect_ratio_range = check_pair(owner, 'aspect_ratio_range',
                                        aspect_ratio_range, 0.0, None, lo_open=True)
        check_choice(owner, 'interpolation', interpolation,
                     ('nearest', 'bilinear', 'bicubic', 'area', 'lanczos'))
        check_choice(owner, 'backend', backend, ('cv2', 'pillow'))
        self.resize = check_choice(owner, 'resize', resize, ('cpu', 'device'))
        self.reduced_decode = check_choice(owner, 'reduced_decode', reduced_decode,
                                           (1, 2, 4, 8))
        super().__init__(scale=size,
                         crop_ratio_range=crop_ratio_range,
                         aspect_ratio_range=aspect_ratio_range,
                         interpolation=interpolation, backend=backend)

    # ---------------------------------------------------------------- counters
    @classmethod
    def _count(cls, key: str, n: int = 1) -> None:
        cls.stats[key] += n
        _SHARED.add(key, n)

    @classmethod
    def get_stats(cls) -> dict:
        """The counters of this process and of the DataLoader workers forked from
        it (shared memory, see :class:`_SharedCounts`), plus ``total`` crops and
        ``fallback_rate``, the share of crops that fell back to
        ``RandomResizedCrop``."""
        s = _SHARED.snapshot()
        total = s.get('roi', 0) + s.get('fallback_no_roi', 0) + \
            s.get('fallback_rejected', 0)
        s['total'] = total
        s['fallback_rate'] = (total - s.get('roi', 0)) / total if total else 0.0
        return s

    @classmethod
    def reset_stats(cls) -> None:
        cls.stats.clear()
        _SHARED.reset()

    @classmethod
    def _warn(cls, msg: str) -> None:
        if cls._warned < _MAX_WARNINGS:
            cls._warned += 1
            suffix = ' (further RoI warnings suppressed)' \
                if cls._warned == _MAX_WARNINGS else ''
            print_log(printable(f'ObjectSensitiveRandomRoICrop: {msg}{suffix}'),
                      logger='current', level=30)

    # ------------------------------------------------------------------- RoIs
    def _get_rois(self, results: dict) -> np.ndarray:
        empty = np.zeros((0, 4), np.int64)
        if results.get('rois') is not None:
            return np.asarray(results['rois']).reshape(-1, 4)
        path = results.get('roi_path')
        if not path:
            return empty
        if not osp.exists(path):
            self._count('missing_roi_file')
            self._warn(f'missing RoI file {path}; using RandomResizedCrop')
            return empty
        rois, n_bad = read_rois_reported(
            path, self.strict, type(self).__name__,
            fallback='the image is cropped without RoIs')
        if rois is None:
            self._count('unreadable_roi_file')
            return empty
        if n_bad:
            self._count('bad_roi_lines', n_bad)
        if len(rois) == 0 and not n_bad:
            self._count('empty_roi_file')
        return rois

    # --------------------------------------------------------------- sampling
    def roi_crop_params(self, img_shape: Tuple[int, int],
                        rois: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
        """One draw of the reference procedure.

        Returns:
            ``(offset_h, offset_w, target_h, target_w)`` or ``None`` when every
            attempt was rejected.
        """
        height, width = img_shape
        img_area = width * height
        large = np.random.uniform() < self.large_crop_prob
        if large:
            self._count('large_requested')
        lo, hi = self.scale_range
        for _ in range(self.max_roi_attempts):
            x, y, w, h = (int(v) for v in rois[np.random.randint(len(rois))])
            if x < 0 or y < 0 or x + w > width or y + h > height:
                continue
            if w < self.min_roi_size or h < self.min_roi_size:
                continue
            if not self.random:
                return y, x, h, w
            # Python's round() (half to even) as in the reference
            xc = int(round(x + w / 2.0))
            yc = int(round(y + h / 2.0))
            xc += int(round(w * np.random.uniform(-self.jitter, self.jitter)))
            yc += int(round(h * np.random.uniform(-self.jitter, self.jitter)))
            w_adj = max(w * np.random.uniform(lo, hi), self.min_size)
            h_adj = max(h * np.random.uniform(lo, hi), self.min_size)
            x1 = max(0, int(round(xc - w_adj / 2.0)))
            x2 = min(int(round(xc + w_adj / 2.0)), width - 1)
            y1 = max(0, int(round(yc - h_adj / 2.0)))
            y2 = min(int(round(yc + h_adj / 2.0)), height - 1)
            cw, ch = x2 - x1, y2 - y1
            if x2 <= x1 or y2 <= y1 or cw < self.min_size or ch < self.min_size:
                continue
            if large and cw * ch / img_area < self.large_area_ratio:
                continue
            return y1, x1, ch, cw
        return None

    def _resize(self, crop: np.ndarray) -> np.ndarray:
        """Resize to ``self.scale``; an image with 3 equal channels (infrared) is
        resized once and replicated, which gives the same pixels (every channel
        is resampled independently with the same filter) for a third of the
        work."""
        size = tuple(self.scale[::-1])
        if crop.ndim == 3 and crop.shape[2] == 3 and \
                (crop[..., 0] == crop[..., 1]).all() and \
                (crop[..., 0] == crop[..., 2]).all():
            one = mmcv.imresize(np.ascontiguousarray(crop[..., 0]), size,
                                interpolation=self.interpolation, backend=self.backend)
            return np.repeat(one[:, :, None], 3, axis=2)
        return mmcv.imresize(crop, size, interpolation=self.interpolation,
                             backend=self.backend)

    def _reduce_for(self, th: int, tw: int) -> int:
        """The largest allowed decode reduction that keeps the crop >= size."""
        out_h, out_w = self.scale
        r = self.reduced_decode
        while r > 1 and (th < r * out_h or tw < r * out_w):
            r //= 2
        return r

    def _decode(self, lazy, params: Tuple[int, int, int, int]
                ) -> Tuple[Optional[np.ndarray], Optional[Tuple[int, int, int, int]],
                           Optional[Tuple[float, float, float, float]]]:
        """Decode ``lazy``, reduced when allowed: ``(image, region, None)`` with the
        crop ``region`` (offset_h, offset_w, h, w) in the decoded image, or, for
        a reduced decode resized here with Pillow, ``(image, None, box)`` with the
        fractional ``box`` (x1, y1, x2, y2): the crop box divided by the reduction,
        for a resize aligned with the full-size crop. ``image`` is ``None`` for a
        bad file (reported)."""
        oh, ow, th, tw = params
        r = self._reduce_for(th, tw)
        img = lazy.decode(r)
        if img is None:
            return None, None, None
        h, w = lazy.shape
        if img.shape[:2] != (-(-h // r), -(-w // r)):
            lazy.size_mismatch(img.shape[:2], r)
            return None, None, None
        if r == 1:
            return img, params, None
        if self.resize == 'cpu' and self.backend == 'pillow':
            return img, None, (ow / r, oh / r, (ow + tw) / r, (oh + th) / r)
        y1, x1 = int(round(oh / r)), int(round(ow / r))
        y2 = min(max(int(round((oh + th) / r)), y1 + 1), img.shape[0])
        x2 = min(max(int(round((ow + tw) / r)), x1 + 1), img.shape[1])
        return img, (y1, x1, y2 - y1, x2 - x1), None

    def _resize_box(self, img: np.ndarray, box: Tuple[float, ...]) -> np.ndarray:
        """Pillow resize of the fractional ``box`` (x1, y1, x2, y2) of ``img`` to
        ``self.scale``."""
        from mmcv.image.geometric import pillow_interp_codes
        from PIL import Image
        out = Image.fromarray(img).resize(tuple(self.scale[::-1]),
                                          pillow_interp_codes[self.interpolation],
                                          box=box)
        return np.array(out)

    def _resize_gray_region(self, img: np.ndarray, params: Tuple[int, int, int, int]
                            ) -> Optional[np.ndarray]:
        """Pillow resize of the region ``params`` of a C-contiguous 2-D uint8 image
        without copying it first: Pillow reads the rows in place (``frombuffer``
        with the image's row stride). The same pixels as :meth:`_resize` of the
        crop. ``None`` when it does not apply (another backend or layout, or a
        region whose last row ends less than a row before the buffer's end)."""
        if self.backend != 'pillow' or img.ndim != 2 or img.dtype != np.uint8 or \
                not img.flags.c_contiguous:
            return None
        from mmcv.image.geometric import pillow_interp_codes
        from PIL import Image
        oh, ow, th, tw = params
        stride = img.shape[1]
        start, stop = oh * stride + ow, (oh + th) * stride + ow
        if stop > img.size:
            return None
        region = Image.frombuffer('L', (tw, th), img.reshape(-1)[start:stop], 'raw',
                                  'L', stride, 1)
        return np.array(region.resize(tuple(self.scale[::-1]),
                                      pillow_interp_codes[self.interpolation]))

    def transform(self, results: dict) -> Optional[dict]:
        lazy = results.get('img_lazy') if 'img' not in results else None
        if lazy is None and 'img' not in results:
            raise KeyError(f'{type(self).__name__}: the sample has neither "img" nor '
                           f'"img_lazy" (LoadImageFromFileSafe(lazy_decode=True))')
        img = results['img'] if lazy is None else None
        h, w = lazy.shape if lazy is not None else img.shape[:2]
        rois = self._get_rois(results) if self.use_roi else np.zeros((0, 4))
        params = None
        if len(rois):
            params = self.roi_crop_params((h, w), rois)
            kind = 'roi' if params is not None else 'fallback_rejected'
        else:
            kind = 'fallback_no_roi'
        if params is None:
            params = self.rand_crop_params(img if lazy is None else _Shape(h, w))
        self._count(kind)
        region, box = params, None
        if lazy is not None:
            img, region, box = self._decode(lazy, params)
            if img is None:  # a bad file, reported by the loader
                return None
            del results['img_lazy']
        if box is not None:
            crop = self._resize_box(img, box)
        else:
            crop = self._resize_gray_region(img, region) if self.resize == 'cpu' \
                else None
            if crop is None:
                y, x, ch, cw = region
                crop = img[y:y + ch, x:x + cw]
                if self.resize == 'cpu':
                    crop = self._resize(crop)
        return self._pack(results, crop, params, kind)

    @staticmethod
    def _pack(results: dict, crop: np.ndarray, params: Tuple[int, int, int, int],
              kind: str) -> dict:
        oh, ow, th, tw = params
        results['img'] = crop
        results['img_shape'] = crop.shape[:2]
        results['crop_bbox'] = np.array([ow, oh, ow + tw, oh + th], np.int64)
        results['roi_crop'] = kind
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.scale}, '
                f'large_crop_prob={self.large_crop_prob}, '
                f'large_area_ratio={self.large_area_ratio}, jitter={self.jitter}, '
                f'scale_range={self.scale_range}, min_size={self.min_size}, '
                f'min_roi_size={self.min_roi_size}, '
                f'max_roi_attempts={self.max_roi_attempts}, random={self.random}, '
                f'use_roi={self.use_roi}, crop_ratio_range={self.crop_ratio_range}, '
                f'interpolation={self.interpolation}, backend={self.backend}, '
                f'strict={self.strict}, resize={self.resize!r}, '
                f'reduced_decode={self.reduced_decode})')
