"""``LoadImageFromFileSafe``: mmcv's ``LoadImageFromFile`` that recognises bad image
files, reports them (:mod:`mmpad.datasets.bad_samples`) and skips them.

Registered in mmengine's root ``TRANSFORMS`` registry (the one mmcv's transforms live
in), so mmpretrain, mmdet and mmseg configs all find it by ``type``.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.registry import TRANSFORMS

from mmpad.datasets import bad_samples

_JPEG = b'\xff\xd8\xff'
_PNG = b'\x89PNG\r\n\x1a\n'
_PNG_IEND = b'IEND\xaeB`\x82'
_TAIL = 1024  # bytes searched for the end marker (trailing padding / trailers)
_KNOWN_MAGIC = (_JPEG, _PNG, b'BM', b'II*\x00', b'MM\x00*', b'GIF87a', b'GIF89a',
                b'RIFF')


def check_image_bytes(data: bytes) -> Optional[Tuple[str, str]]:
    """Problems visible without decoding, from the header and the tail.

    Returns:
        ``None`` or ``(kind, problem)``: ``('empty_file', ...)`` for zero bytes,
        ``('truncated', ...)`` for a JPEG without its end-of-image marker (FFD9) or
        a PNG without its IEND chunk in the last 1 KiB, a BMP / WebP shorter than
        the size in its header. Files of other or unknown formats pass; the
        decoder decides.
    """
    if len(data) == 0:
        return 'empty_file', 'the file is empty (0 bytes)'
    if data.startswith(_JPEG):
        if not data.rstrip(b'\x00\r\n\t ').endswith(b'\xff\xd9') and \
                b'\xff\xd9' not in data[-_TAIL:]:
            return 'truncated', (f'truncated JPEG: no end-of-image marker (FFD9) '
                                 f'in its last {_TAIL} bytes ({len(data)} bytes)')
    elif data.startswith(_PNG):
        if _PNG_IEND not in data[-_TAIL:]:
            return 'truncated', (f'truncated PNG: no IEND chunk in its last {_TAIL} '
                                 f'bytes ({len(data)} bytes)')
    elif data.startswith(b'BM') and len(data) >= 6:
        declared = int.from_bytes(data[2:6], 'little')
        if declared and len(data) < declared:
            return 'truncated', (f'truncated BMP: {len(data)} of the {declared} '
                                 f'bytes its header declares')
    elif data.startswith(b'RIFF') and data[8:12] == b'WEBP':
        declared = int.from_bytes(data[4:8], 'little') + 8
        if len(data) < declared:
            return 'truncated', (f'truncated WebP: {len(data)} of the {declared} '
                                 f'bytes its header declares')
    return None


def png_bit_depth(data: bytes) -> int:
    """Bits per channel of a PNG (IHDR byte 24), 0 for other formats."""
    if data.startswith(_PNG) and len(data) > 24 and data[12:16] == b'IHDR':
        return data[24]
    return 0


def rescale_to_uint8(img: np.ndarray) -> Tuple[np.ndarray, int, int]:
    """Map the image's own [min, max] linearly onto [0, 255] (a constant image
    becomes 0); returns ``(uint8 image, min, max)``."""
    lo, hi = int(img.min()), int(img.max())
    if hi <= lo:
        return np.zeros(img.shape, np.uint8), lo, hi
    out = (img.astype(np.float32) - lo) * (255.0 / (hi - lo)) + 0.5
    return np.clip(out, 0, 255).astype(np.uint8), lo, hi


@TRANSFORMS.register_module()
class LoadImageFromFileSafe(LoadImageFromFile):
    """``LoadImageFromFile`` that skips bad files instead of crashing the run.

    On a good 8-bit file it returns exactly what ``LoadImageFromFile`` returns; the
    extra checks look at the first and last bytes of the file, which is already in
    memory. A bad file is reported with :func:`mmpad.datasets.bad_samples.report`
    (one warning per file per run, counted, even across DataLoader workers) and the
    transform returns ``None``, on which mmengine's ``BaseDataset`` draws another
    sample (training); with ``strict=True`` it raises
    :class:`~mmpad.datasets.bad_samples.BadSampleError` naming the file.

    Detected: missing / unreadable file (``unreadable``), zero bytes
    (``empty_file``), truncated JPEG (no FFD9 end marker: OpenCV would decode it with
    a grey bottom part), truncated PNG (no IEND), BMP / WebP shorter than their
    header says (``truncated``), files that are no image (``not_an_image``) or do
    not decode (``corrupt``), images smaller than ``min_size`` (``too_small``).

    16-bit PNGs (raw thermal data, typically 14 significant bits): OpenCV's colour
    decoding keeps the high byte, which makes 14-bit data almost black. By default
    (``high_bit_depth='rescale'``) the image is decoded unchanged and its own
    [min, max] range is mapped linearly onto [0, 255]; the file is reported once as
    ``high_bit_depth`` (``converted``) and the sample is used. ``'shift'`` keeps
    OpenCV's behaviour (high byte, not reported). ``color_type='unchanged'``
    returns the 16-bit data as is. (16-bit TIFFs are not recognised: they go
    through the normal decoder.)

    Args:
        min_size: smallest accepted ``min(h, w)`` (int) or ``(min_h, min_w)``; 0
            accepts every size. Set it to the crop the pipeline cuts.
        strict: raise on a bad file instead of skipping it.
        high_bit_depth: ``'rescale'`` or ``'shift'`` (see above).
        **kwargs: :class:`mmcv.transforms.LoadImageFromFile` arguments
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``backend_args``, ...). ``ignore_empty`` is accepted and ignored: bad
            files are always skipped unless ``strict``.
    """

    def __init__(self, min_size: Union[int, Sequence[int]] = 0, strict: bool = False,
                 high_bit_depth: str = 'rescale', **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(min_size, (int, np.integer)):
            min_size = (int(min_size), int(min_size))
        min_size = tuple(int(s) for s in min_size)
        if len(min_size) != 2 or min(min_size) < 0:
            raise ValueError(f'LoadImageFromFileSafe: min_size must be an int or '
                             f'(min_h, min_w) >= 0, got {min_size}')
        if high_bit_depth not in ('rescale', 'shift'):
            raise ValueError(f"LoadImageFromFileSafe: high_bit_depth must be "
                             f"'rescale' or 'shift', got {high_bit_depth!r}")
        self.min_size = min_size
        self.strict = strict
        self.high_bit_depth = high_bit_depth

    def _bad(self, path: str, kind: str, problem: str) -> None:
        bad_samples.report(path, problem, strict=self.strict, kind=kind,
                           source=type(self).__name__)
        return None

    def _read(self, filename: str) -> bytes:
        if self.file_client_args is not None:
            client = fileio.FileClient.infer_client(self.file_client_args, filename)
            return client.get(filename)
        return fileio.get(filename, backend_args=self.backend_args)

    def _decode_high_bit_depth(self, data: bytes, filename: str) -> Optional[np.ndarray]:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            return None
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]  # BGRA -> BGR
        img, lo, hi = rescale_to_uint8(img)
        if self.color_type.startswith('color') and img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        elif self.color_type.startswith('grayscale') and img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        bad_samples.report(
            filename, f'16-bit PNG (values {lo}..{hi}) rescaled from its own range '
            f'to 0..255 (OpenCV would keep the high byte only)', strict=False,
            kind='high_bit_depth', source=type(self).__name__)
        return img

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            data = self._read(filename)
        except (OSError, ValueError) as e:  # missing, permissions, backend errors
            return self._bad(filename, 'unreadable',
                             f'cannot read the file ({type(e).__name__}: {e})')
        found = check_image_bytes(data)
        if found is not None:
            return self._bad(filename, *found)

        img = None
        error = ''
        if png_bit_depth(data) == 16 and self.color_type != 'unchanged' and \
                self.high_bit_depth != 'shift':
            img = self._decode_high_bit_depth(data, filename)
        else:
            try:
                img = mmcv.imfrombytes(data, flag=self.color_type,
                                       backend=self.imdecode_backend)
            except Exception as e:  # noqa: BLE001 - decoder errors vary by backend
                error = f' ({type(e).__name__}: {e})'
        if img is None or img.size == 0:
            if data.startswith(_KNOWN_MAGIC):
                return self._bad(filename, 'corrupt',
                                 f'the decoder cannot read this image{error}')
            return self._bad(filename, 'not_an_image',
                             f'not an image file (starts with {data[:8]!r}){error}')
        h, w = img.shape[:2]
        if h < self.min_size[0] or w < self.min_size[1]:
            return self._bad(filename, 'too_small',
                             f'{h}x{w} pixels (h x w), smaller than min_size '
                             f'{self.min_size[0]}x{self.min_size[1]}')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(min_size={self.min_size}, '
                f'strict={self.strict}, high_bit_depth={self.high_bit_depth!r}, '
                f'to_float32={self.to_float32}, color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r}, '
                f'backend_args={self.backend_args})')


__all__ = ['LoadImageFromFileSafe', 'check_image_bytes', 'png_bit_depth',
           'rescale_to_uint8']
