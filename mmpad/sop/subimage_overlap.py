"""Subimage Overlap Prediction (SOP) pretext sample.

The task is the paper's (predict the mask of the sub-image's location); the
sampling (box size and aspect, augmentation of S, partial overlap, negatives) is
mmpad's design, because the SOP paper's abstract specifies none of it.

Given a parent image I (H×W, after the pipeline's crops, flips and rotations) the
transform samples an axis-aligned box (x0, y0, w, h), crops the sub-image S from it,
resizes S bilinearly back to H×W, augments S photometrically (never geometrically,
so the target stays the exact box) and writes:

* ``img``: (H, W, 6) uint8, ``[I ‖ S]``, RGB order when ``to_rgb`` (mmseg's
  ``SegDataPreProcessor`` only swaps channels of 3-channel inputs, so the swap
  happens here and the preprocessor gets a 6-entry mean / std);
* ``gt_seg_map``: (H, W) uint8, 1 inside the box (∩ I for partial overlap), 0 else;
* ``sop_box``: (x0, y0, w, h) in parent pixels (in the source image for negatives),
  ``sop_negative``: whether S came from another image (target all zeros).

The parent becomes the "original" image of the pretext sample: ``ori_shape`` and
``img_shape`` are set to (H, W) and ``flip`` to False, because the target is defined
in the already flipped / cropped frame (otherwise ``predict`` would resize or flip
the prediction back to the loaded image and it would no longer match the target).

S is always packed at the parent's size (channels must stack); the resolution the
``token_concat`` / ``siamese_gap`` branches see is the segmentor's ``sub_size``.

Randomness: with ``seed=None`` every call draws from numpy's global generator (which
mmengine seeds per worker); with an integer ``seed`` the box and the augmentation are
a pure function of (seed, image file name, ``sop_repeat_idx``): validation boxes fixed
by seed, independent of worker count and dataset order.
"""
from __future__ import annotations

import math
import os.path as osp
import zlib
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS

from mmpad.core.arg_check import (arg_error, check_bool, check_choice,
                                   check_float, check_int, check_pair)

Box = Tuple[int, int, int, int]  # (x0, y0, w, h)

PHOTOMETRIC_DEFAULTS: Dict[str, object] = dict(
    brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05,
    blur_prob=0.5, blur_sigma=(0.1, 2.0), noise_std=(0.0, 5.0))

def _check_photometric(owner: str, cfg: dict) -> None:
    """Types and ranges of the photometric settings given (unknown keys are
    reported by the caller)."""
    for key in ('brightness', 'contrast', 'saturation'):
        if key in cfg:
            check_float(owner, f'photometric.{key}', cfg[key], 0.0, 1.0)
    if 'hue' in cfg:
        check_float(owner, 'photometric.hue', cfg['hue'], 0.0, 0.5)
    if 'blur_prob' in cfg:
        check_float(owner, 'photometric.blur_prob', cfg['blur_prob'], 0.0, 1.0)
    if 'blur_sigma' in cfg:
        check_pair(owner, 'photometric.blur_sigma', cfg['blur_sigma'], 0.0, None,
                   lo_open=True)
    if 'noise_std' in cfg and cfg['noise_std']:
        check_pair(owner, 'photometric.noise_std', cfg['noise_std'], 0.0, None)


_INTERPOLATIONS = dict(bilinear=cv2.INTER_LINEAR, nearest=cv2.INTER_NEAREST,
                       bicubic=cv2.INTER_CUBIC, area=cv2.INTER_AREA)


def sample_box(rng: np.random.Generator, height: int, width: int,
               scale: Tuple[float, float] = (0.15, 0.5),
               ratio: Tuple[float, float] = (0.75, 4 / 3),
               allow_partial: bool = False,
               min_overlap: float = 0.25,
               max_tries: int = 100) -> Box:
    """Sample a box (x0, y0, w, h) for an H×W parent.

    Side fraction ``s ~ U(scale)``, aspect ``r = w/h ~ log-U(ratio)``,
    ``h = round(s·H/√r)``, ``w = round(s·W·√r)`` clipped to [1, H] / [1, W]. Without
    ``allow_partial`` the top-left corner is uniform over the positions that keep the
    box inside the parent; with it, over the positions of a window extended by the box
    size, rejecting boxes whose overlap with the parent is below ``min_overlap`` of
    their area.
    """
    s = rng.uniform(*scale)
    r = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
    h = int(min(max(round(s * height / math.sqrt(r)), 1), height))
    w = int(min(max(round(s * width * math.sqrt(r)), 1), width))
    if not allow_partial:
        y0 = int(rng.integers(0, height - h + 1))
        x0 = int(rng.integers(0, width - w + 1))
        return x0, y0, w, h
    for _ in range(max_tries):
        y0 = int(rng.integers(-h + 1, height))
        x0 = int(rng.integers(-w + 1, width))
        if box_area_inside((x0, y0, w, h), height, width) >= min_overlap * w * h:
            return x0, y0, w, h
    return x0, y0, w, h  # pragma: no cover - only with an unreachable min_overlap


def box_area_inside(box: Box, height: int, width: int) -> int:
    """Pixels of ``box`` that lie inside an H×W image."""
    x0, y0, w, h = box
    ih = max(0, min(y0 + h, height) - max(y0, 0))
    iw = max(0, min(x0 + w, width) - max(x0, 0))
    return ih * iw


def box_mask(box: Box, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 mask, 1 on the part of ``box`` inside the image:
    ``M[i, j] = 1`` iff ``y0 <= i < y0 + h`` and ``x0 <= j < x0 + w``."""
    x0, y0, w, h = box
    mask = np.zeros((height, width), np.uint8)
    mask[max(y0, 0):max(min(y0 + h, height), 0),
         max(x0, 0):max(min(x0 + w, width), 0)] = 1
    return mask


def crop_box(img: np.ndarray, box: Box, fill: int = 0) -> np.ndarray:
    """(h, w, C) crop of ``img``; the part of the box outside the image is ``fill``."""
    x0, y0, w, h = box
    H, W = img.shape[:2]
    if x0 >= 0 and y0 >= 0 and x0 + w <= W and y0 + h <= H:
        return img[y0:y0 + h, x0:x0 + w].copy()
    out = np.full((h, w) + img.shape[2:], fill, img.dtype)
    ys, ye = max(y0, 0), min(y0 + h, H)
    xs, xe = max(x0, 0), min(x0 + w, W)
    if ye > ys and xe > xs:
        out[ys - y0:ye - y0, xs - x0:xe - x0] = img[ys:ye, xs:xe]
    return out


def _gray(x: np.ndarray) -> np.ndarray:
    """(H, W) luma of an RGB float image."""
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def photometric_jitter(img: np.ndarray, rng: np.random.Generator,
                       brightness: float = 0.3, contrast: float = 0.3,
                       saturation: float = 0.3, hue: float = 0.05,
                       blur_prob: float = 0.5,
                       blur_sigma: Sequence[float] = (0.1, 2.0),
                       noise_std: Sequence[float] = (0.0, 5.0)) -> np.ndarray:
    """Colour jitter (torchvision ``ColorJitter`` semantics, random order), Gaussian
    blur with probability ``blur_prob`` and additive Gaussian noise.

    Args:
        img: (H, W, 3) uint8, RGB.
    Returns:
        (H, W, 3) uint8, RGB.
    """
    x = img.astype(np.float32)
    for op in rng.permutation(4):
        if op == 0 and brightness > 0:
            x = x * rng.uniform(1 - brightness, 1 + brightness)
        elif op == 1 and contrast > 0:
            mean = _gray(x).mean()
            x = (x - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
        elif op == 2 and saturation > 0:
            g = _gray(x)[..., None]
            x = (x - g) * rng.uniform(1 - saturation, 1 + saturation) + g
        elif op == 3 and hue > 0:
            hsv = cv2.cvtColor(np.clip(x, 0, 255) / 255.0, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(-hue, hue) * 360.0) % 360.0
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
        x = np.clip(x, 0, 255)
    if blur_prob > 0 and rng.random() < blur_prob:
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(*blur_sigma)))
    std = float(rng.uniform(*noise_std)) if noise_std else 0.0
    if std > 0:
        x = x + rng.normal(0.0, std, x.shape).astype(np.float32)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


@TRANSFORMS.register_module(name=['SubimageOverlap', 'RandomSubimageOverlap'])
class SubimageOverlap(BaseTransform):
    """Build an SOP pretext sample: 6-channel ``[image ‖ sub-image]`` input and the
    binary location mask of the sub-image as ``gt_seg_map``.

    Place it after the geometric augmentation and before ``PackSegInputs``.

    Required keys: ``img`` (H, W, 3) or (H, W) uint8 BGR; for negatives
    ``mix_results`` (the dataset wrapped in ``MultiImageMixDataset``).
    Added / modified keys: ``img`` (H, W, 6), ``gt_seg_map``, ``seg_fields``,
    ``sop_box``, ``sop_negative``, ``img_shape``, ``ori_shape``, ``flip``,
    ``flip_direction``.

    Args:
        scale: range of the side fraction s (area fraction s²).
        ratio: range of the aspect w/h, sampled log-uniformly.
        photometric: augmentation of S only. ``True`` for
            :data:`PHOTOMETRIC_DEFAULTS`, a dict to override some of them,
            ``False`` / ``None`` for none (S is then exactly the resized crop).
        allow_partial: sample the box from a window larger than the parent; the
            target is the intersection, and S's outside part is ``fill``.
        min_overlap: with ``allow_partial``, smallest fraction of the box that
            must lie inside the parent.
        p_neg: probability of a negative: S from another image (needs
            ``mix_results``), target all zeros.
        to_rgb: convert both halves from BGR to RGB.
        seed: ``None`` for random boxes; an int for boxes that are a function of
            (seed, image file name, ``sop_repeat_idx``).
        interpolation: resize of S (``bilinear`` by default).
        fill: value of S outside the parent (``allow_partial``).
    """

    def __init__(self,
                 scale: Tuple[float, float] = (0.15, 0.5),
                 ratio: Tuple[float, float] = (0.75, 4 / 3),
                 photometric: Union[bool, dict, None] = True,
                 allow_partial: bool = False,
                 min_overlap: float = 0.25,
                 p_neg: float = 0.0,
                 to_rgb: bool = True,
                 seed: Optional[int] = None,
                 interpolation: str = 'bilinear',
                 fill: int = 0) -> None:
        owner = type(self).__name__
        scale = check_pair(owner, 'scale', scale, 0.0, 1.0, lo_open=True)
        ratio = check_pair(owner, 'ratio', ratio, 0.0, None, lo_open=True)
        p_neg = check_float(owner, 'p_neg', p_neg, 0.0, 1.0)
        min_overlap = check_float(owner, 'min_overlap', min_overlap, 0.0, 1.0,
                                  lo_open=True)
        check_choice(owner, 'interpolation', interpolation, tuple(_INTERPOLATIONS))
        allow_partial = check_bool(owner, 'allow_partial', allow_partial)
        to_rgb = check_bool(owner, 'to_rgb', to_rgb)
        seed = check_int(owner, 'seed', seed, 0, allow_none=True)
        fill = check_int(owner, 'fill', fill, 0, 255)
        if not (photometric is None or isinstance(photometric, (bool, dict))):
            raise arg_error(owner, 'photometric', photometric,
                            'True, False, None or a dict of photometric settings')
        if isinstance(photometric, dict):
            _check_photometric(owner, photometric)
        if photometric is True:
            photometric = dict(PHOTOMETRIC_DEFAULTS)
        elif isinstance(photometric, dict):
            unknown = set(photometric) - set(PHOTOMETRIC_DEFAULTS)
            if unknown:
                raise ValueError(f'SubimageOverlap: unknown photometric keys '
                                 f'{sorted(unknown)}; known: '
                                 f'{sorted(PHOTOMETRIC_DEFAULTS)}')
            photometric = {**PHOTOMETRIC_DEFAULTS, **photometric}
        else:
            photometric = None
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.photometric = photometric
        self.allow_partial = allow_partial
        self.min_overlap = min_overlap
        self.p_neg = p_neg
        self.to_rgb = to_rgb
        self.seed = seed
        self.interpolation = interpolation
        self.fill = fill

    # ------------------------------------------------------------------ helpers
    def rng_for(self, results: dict) -> np.random.Generator:
        """The generator of one sample (seeded per image when ``seed`` is set)."""
        if self.seed is None:
            return np.random.default_rng(np.random.randint(0, 2**31 - 1))
        path = results.get('img_path')
        key = osp.basename(path) if path else str(results.get('sample_idx', 0))
        return np.random.default_rng(
            [int(self.seed), zlib.crc32(key.encode()),
             int(results.get('sop_repeat_idx', 0))])

    @staticmethod
    def _as_3ch(img: np.ndarray, where: str) -> np.ndarray:
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'SubimageOverlap expects an (H, W, 3) or (H, W) image, '
                             f'got shape {img.shape} for {where}')
        if img.dtype != np.uint8:
            img = np.clip(img, 0, 255).astype(np.uint8)
        return img

    def get_indices(self, dataset) -> list:
        """Index of the negative's source for ``MultiImageMixDataset`` (none when
        ``p_neg == 0``, so no image is loaded for nothing)."""
        if self.p_neg <= 0:
            return []
        return [int(np.random.randint(0, len(dataset)))]

    # ---------------------------------------------------------------- transform
    def transform(self, results: dict) -> dict:
        where = results.get('img_path', '<in-memory image>')
        img = self._as_3ch(results['img'], where)
        H, W = img.shape[:2]
        rng = self.rng_for(results)

        negative = self.p_neg > 0 and rng.random() < self.p_neg
        if negative:
            mix = results.get('mix_results') or []
            if not mix:
                raise KeyError(
                    f'SubimageOverlap(p_neg={self.p_neg}) needs another image for '
                    f'negatives ({where}): wrap the dataset in MultiImageMixDataset '
                    'and put SubimageOverlap in the wrapper\'s pipeline.')
            src = self._as_3ch(mix[0]['img'], mix[0].get('img_path', 'mix_results'))
            box = sample_box(rng, *src.shape[:2], self.scale, self.ratio)
            crop = crop_box(src, box)
            mask = np.zeros((H, W), np.uint8)
        else:
            box = sample_box(rng, H, W, self.scale, self.ratio, self.allow_partial,
                             self.min_overlap)
            crop = crop_box(img, box, self.fill)
            mask = box_mask(box, H, W)

        sub = cv2.resize(crop, (W, H),
                         interpolation=_INTERPOLATIONS[self.interpolation])
        rgb_img, rgb_sub = img[..., ::-1], sub[..., ::-1]
        if self.photometric is not None:
            rgb_sub = photometric_jitter(rgb_sub, rng, **self.photometric)
        if self.to_rgb:
            img, sub = rgb_img, rgb_sub
        else:
            sub = rgb_sub[..., ::-1]

        results['img'] = np.ascontiguousarray(np.concatenate([img, sub], axis=2))
        results['gt_seg_map'] = mask
        seg_fields = list(results.get('seg_fields', []))
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        results['seg_fields'] = seg_fields
        results['sop_box'] = tuple(int(v) for v in box)
        results['sop_negative'] = bool(negative)
        results['img_shape'] = (H, W)
        results['ori_shape'] = (H, W)
        results['flip'] = False
        results['flip_direction'] = None
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, ratio={self.ratio}, '
                f'photometric={self.photometric}, allow_partial={self.allow_partial}, '
                f'p_neg={self.p_neg}, to_rgb={self.to_rgb}, seed={self.seed})')
