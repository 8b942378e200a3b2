"""``LoadImageFromFileSafe``: mmcv's ``LoadImageFromFile`` that recognises bad image
files, reports them (:mod:`mmpad.core.bad_samples`) and skips them.

Registered in mmengine's root ``TRANSFORMS`` registry (the one mmcv's transforms live
in), so mmpretrain, mmdet and mmseg configs all find it by ``type``.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.registry import TRANSFORMS

from mmpad.core import bad_samples
from mmpad.core.image_check import (JPEG_MAGIC, PNG_MAGIC, ImageInfo,
                                    inspect_image_bytes)
from mmpad.core.arg_check import (check_bool, check_choice, check_int,
                                   check_size)

_JPEG = JPEG_MAGIC
_PNG = PNG_MAGIC
_KNOWN_MAGIC = (_JPEG, _PNG, b'BM', b'II*\x00', b'MM\x00*', b'GIF87a', b'GIF89a',
                b'RIFF')

#: default ``max_pixels``: 2**28 = 268,435,456 pixels, a 16384 x 16384 image. That is
#: 1.5 times Pillow's own decompression-bomb limit (Pillow refuses images above
#: 178,956,970 pixels, so every image the ``pillow`` backend reads passes) and more
#: than large aerial / remote-sensing tiles need (a 10000 x 10000 orthophoto tile is
#: 100 Mpx); decoded as 3-channel uint8 it takes 805 MB, which a DataLoader worker
#: can hold. The ~1 gigapixel decompression bomb (3 GB decoded, copied again by the
#: pipeline) is refused from its header. Whole scenes larger than 2**28 pixels
#: (e.g. the biggest DOTA v2 images, 20000 x 20000) need ``max_pixels`` raised or
#: ``None`` (no limit); the warning says so.
DEFAULT_MAX_PIXELS = 1 << 28

#: libjpeg warnings that mean the pixels are damaged. "N extraneous bytes before
#: marker 0xd9" (data left over after the last scan was decoded) is harmless when N
#: is small, as some cameras write it; when N is a large share of the file, the
#: decoder made up the image from a fraction of garbage data (see
#: :func:`_split_jpeg_warnings`).
_JPEG_WARNING = re.compile(
    r'(Corrupt JPEG data[^\n]*|Premature end of JPEG file|Invalid JPEG file '
    r'structure[^\n]*|Huffman table 0x[0-9a-f]+ was not defined[^\n]*|'
    r'Unsupported marker type[^\n]*)')
_EXTRANEOUS = re.compile(r'(\d+) extraneous bytes before marker 0xd9')
#: up to this many extraneous bytes before EOI (or 1 % of the file) are harmless
_BENIGN_EXTRANEOUS_BYTES = 64


#: ``color_type`` -> reduction factor -> OpenCV flag of a reduced-size decode
_REDUCED_FLAGS = {
    'grayscale': {2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                  8: cv2.IMREAD_REDUCED_GRAYSCALE_8},
    'color': {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
              8: cv2.IMREAD_REDUCED_COLOR_8},
}


def check_image_bytes(data: bytes) -> Optional[Tuple[str, str]]:
    """Problems visible without decoding (:func:`mmpad.core.image_check.
    inspect_image_bytes`): ``None`` or ``(kind, problem)`` with kind
    ``'empty_file'``, ``'truncated'`` (a JPEG that ends before its first EOI, a PNG
    that ends before IEND, a BMP / WebP shorter than its header says) or
    ``'corrupt'`` (a broken marker / chunk structure, garbage where a JPEG's
    compressed data should be). Bytes after the end marker are allowed. Files of
    other or unknown formats pass; the decoder decides."""
    return inspect_image_bytes(data).problem


class _Fd2Capture:
    """Collect what C libraries (libjpeg inside OpenCV) write to file descriptor 2
    during a call. One temporary file per process; what is not a libjpeg warning
    is written back to the real stderr afterwards, so nothing is lost."""

    def __init__(self) -> None:
        self.pid = None
        self.file = None
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def capture(self):
        out: List[str] = []
        with self.lock:
            try:
                if self.pid != os.getpid():
                    self.file = tempfile.TemporaryFile()
                    self.pid = os.getpid()
                self.file.seek(0)
                self.file.truncate()
                try:
                    sys.stderr.flush()
                except Exception:  # noqa: BLE001 - a replaced / closed stderr
                    pass
                saved = os.dup(2)
            except OSError:  # no fd 2, no temp dir: decode without capturing
                yield out
                return
            try:
                os.dup2(self.file.fileno(), 2)
                yield out
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                self.file.seek(0)
                out.append(self.file.read().decode('utf-8', 'replace'))


_FD2 = _Fd2Capture()


def _split_jpeg_warnings(text: str, size: int) -> Tuple[List[str], str]:
    """(damage warnings, the rest of the text) of what libjpeg wrote while
    decoding a ``size``-byte JPEG."""
    found, rest = [], []
    for line in text.splitlines(keepends=True):
        m = _JPEG_WARNING.search(line)
        if not m:
            rest.append(line)
            continue
        extra = _EXTRANEOUS.search(line)
        if extra and int(extra.group(1)) <= max(_BENIGN_EXTRANEOUS_BYTES,
                                                size // 100):
            continue  # a few bytes of padding before EOI: harmless
        found.append(m.group(1).strip())
    return found, ''.join(rest)


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
    memory. A bad file is reported with :func:`mmpad.core.bad_samples.report`
    (one warning per file per run, counted, even across DataLoader workers) and the
    transform returns ``None``, on which mmengine's ``BaseDataset`` draws another
    sample (training); with ``strict=True`` it raises
    :class:`~mmpad.core.bad_samples.BadSampleError` naming the file.

    Detected: missing / unreadable file (``unreadable``), zero bytes
    (``empty_file``), a JPEG that ends before its end-of-image marker (OpenCV
    would decode it with a grey bottom part), a PNG that ends before IEND, BMP /
    WebP shorter than their header says (``truncated``); a broken JPEG marker
    structure, garbage where a JPEG's compressed data should be (found by walking
    the entropy-coded segments, and by the libjpeg "Corrupt JPEG data" warnings
    of OpenCV's decoder, ``check_jpeg_data``), a PNG with a bad chunk or CRC, or a
    file that does not decode (``corrupt``); files that are no image
    (``not_an_image``); images larger than ``max_pixels`` (``too_large``: the
    size is read from the header, before decoding, for JPEG, PNG, BMP, GIF, WebP
    and TIFF); images smaller than ``min_size`` (``too_small``). Bytes after the
    end marker (padding, camera trailers) are fine: such files are loaded, as by
    the stock loader.

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
        max_pixels: largest accepted ``height * width``; ``None``: no limit.
            Defaults to :data:`DEFAULT_MAX_PIXELS` (2**28, a 16384 x 16384 tile).
        check_jpeg_data: with the ``cv2`` backend, skip JPEGs for which libjpeg
            reports damaged data while decoding (its warnings on file
            descriptor 2 are collected during the call; other output is passed
            through). The structural check runs whatever this is.
        lazy_decode: for a JPEG (``cv2`` backend, ``color`` or ``grayscale``),
            check the file but leave the decoding to the next transform: the
            sample gets ``img_lazy`` (a :class:`LazyImage`) and ``img_shape``
            from the header instead of ``img``. Only a transform that reads
            ``img_lazy`` may follow (``ObjectSensitiveRandomRoICrop``, which can
            then decode at a reduced size, its ``reduced_decode``). Other files
            are decoded here as usual.
        **kwargs: :class:`mmcv.transforms.LoadImageFromFile` arguments
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``backend_args``, ...). ``ignore_empty`` is accepted and ignored: bad
            files are always skipped unless ``strict``.
    """

    def __init__(self, min_size: Union[int, Sequence[int]] = 0, strict: bool = False,
                 high_bit_depth: str = 'rescale',
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                 check_jpeg_data: bool = True, lazy_decode: bool = False,
                 **kwargs) -> None:
        owner = type(self).__name__
        self.min_size = check_size(owner, 'min_size', min_size, lo=0)
        self.strict = check_bool(owner, 'strict', strict)
        self.high_bit_depth = check_choice(owner, 'high_bit_depth', high_bit_depth,
                                           ('rescale', 'shift'))
        self.max_pixels = check_int(owner, 'max_pixels', max_pixels, lo=1,
                                    allow_none=True)
        self.check_jpeg_data = check_bool(owner, 'check_jpeg_data', check_jpeg_data)
        self.lazy_decode = check_bool(owner, 'lazy_decode', lazy_decode)
        for name in ('to_float32', 'ignore_empty'):
            if name in kwargs:
                check_bool(owner, name, kwargs[name])
        if 'color_type' in kwargs:
            check_choice(owner, 'color_type', kwargs['color_type'],
                         ('color', 'grayscale', 'unchanged',
                          'color_ignore_orientation',
                          'grayscale_ignore_orientation'))
        if 'imdecode_backend' in kwargs:
            check_choice(owner, 'imdecode_backend', kwargs['imdecode_backend'],
                         ('cv2', 'turbojpeg', 'pillow', 'tifffile'))
        super().__init__(**kwargs)

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

    def _decode(self, data: bytes, fmt: Optional[str],
                reduce: int = 1) -> Tuple[Optional[np.ndarray], str, List[str]]:
        """(image or None, decoder error text, libjpeg damage warnings)."""
        capture = (self.check_jpeg_data and fmt == 'jpeg' and
                   self.imdecode_backend == 'cv2')
        error, warnings = '', []
        img = None
        ctx = _FD2.capture() if capture else contextlib.nullcontext([])
        with ctx as captured:
            try:
                if reduce > 1:
                    img = cv2.imdecode(np.frombuffer(data, np.uint8),
                                       _REDUCED_FLAGS[self.color_type][reduce])
                else:
                    img = mmcv.imfrombytes(data, flag=self.color_type,
                                           backend=self.imdecode_backend)
            except Exception as e:  # noqa: BLE001 - decoder errors vary by backend
                error = f' ({type(e).__name__}: {e})'
        if captured:
            warnings, rest = _split_jpeg_warnings(captured[0], len(data))
            if rest:
                try:
                    os.write(2, rest.encode('utf-8', 'replace'))
                except OSError:
                    pass
        return img, error, warnings

    def _too_large(self, filename: str, w: int, h: int, where: str) -> None:
        return self._bad(
            filename, 'too_large',
            f'{w}x{h} pixels (w x h, {w * h / 1e6:.1f} Mpx{where}) exceed '
            f'max_pixels={self.max_pixels} ({self.max_pixels / 1e6:.1f} Mpx); '
            f'raise max_pixels (or set it to None) to load such images')

    def _load_checked(self, filename: str) -> Optional[Tuple[bytes, ImageInfo]]:
        """The file's bytes and header info, or ``None`` (reported) if the file
        cannot be read, is visibly broken or too large by its header."""
        try:
            data = self._read(filename)
        except (OSError, ValueError) as e:  # missing, permissions, backend errors
            return self._bad(filename, 'unreadable',
                             f'cannot read the file ({type(e).__name__}: {e})')
        info = inspect_image_bytes(data)
        if info.problem is not None:
            return self._bad(filename, *info.problem)
        if self.max_pixels is not None and info.width and info.height and \
                info.width * info.height > self.max_pixels:
            return self._too_large(filename, info.width, info.height,
                                   ', declared in its header; not decoded')
        return data, info

    def _too_small(self, filename: str, h: int, w: int) -> bool:
        if h < self.min_size[0] or w < self.min_size[1]:
            self._bad(filename, 'too_small',
                      f'{h}x{w} pixels (h x w), smaller than min_size '
                      f'{self.min_size[0]}x{self.min_size[1]}')
            return True
        return False

    def decode_checked(self, filename: str, data: bytes, info: ImageInfo,
                       reduce: int = 1) -> Optional[np.ndarray]:
        """Decode ``data`` with every check of :meth:`transform`; ``None`` (reported)
        for a bad image. ``reduce`` 2, 4 or 8 decodes a JPEG at that fraction of
        its size (libjpeg DCT scaling, ``cv2.IMREAD_REDUCED_*``: ``ceil(h / r) x
        ceil(w / r)`` pixels, a fraction of the work); ``min_size`` and
        ``max_pixels`` are then checked on the full size."""
        img = None
        error = ''
        warnings: List[str] = []
        if png_bit_depth(data) == 16 and self.color_type != 'unchanged' and \
                self.high_bit_depth != 'shift':
            img = self._decode_high_bit_depth(data, filename)
        else:
            img, error, warnings = self._decode(data, info.fmt, reduce)
        if warnings:
            return self._bad(filename, 'corrupt',
                             f'the JPEG decoder reports damaged image data '
                             f'({"; ".join(dict.fromkeys(warnings))})')
        if img is None or img.size == 0:
            if data.startswith(_KNOWN_MAGIC):
                return self._bad(filename, 'corrupt',
                                 f'the decoder cannot read this image{error}')
            return self._bad(filename, 'not_an_image',
                             f'not an image file (starts with {data[:8]!r}){error}')
        h, w = img.shape[:2]
        if reduce > 1 and info.width and info.height:
            h, w = info.height, info.width
        if self.max_pixels is not None and h * w > self.max_pixels:
            return self._too_large(filename, w, h, ' decoded')
        if self._too_small(filename, h, w):
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        return img

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        loaded = self._load_checked(filename)
        if loaded is None:
            return None
        data, info = loaded
        if self.lazy_decode and self._can_reduce(data, info):
            if self._too_small(filename, info.height, info.width):
                return None
            results['img_lazy'] = LazyImage(self, filename, data, info)
            results['img_shape'] = (info.height, info.width)
            results['ori_shape'] = (info.height, info.width)
            return results
        img = self.decode_checked(filename, data, info)
        if img is None:
            return None
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def _can_reduce(self, data: bytes, info: ImageInfo) -> bool:
        """Lazy (reduced-size) decoding applies: a JPEG with a declared size and no
        Exif block (whose orientation could swap the decoded height and width),
        decoded by OpenCV in colour or gray, not to float."""
        return (info.fmt == 'jpeg' and bool(info.width) and bool(info.height) and
                self.imdecode_backend == 'cv2' and not self.to_float32 and
                self.color_type in _REDUCED_FLAGS and
                data.find(b'Exif\x00\x00', 0, 1 << 16) < 0)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(min_size={self.min_size}, '
                f'strict={self.strict}, high_bit_depth={self.high_bit_depth!r}, '
                f'max_pixels={self.max_pixels}, '
                f'check_jpeg_data={self.check_jpeg_data}, '
                f'lazy_decode={self.lazy_decode}, '
                f'to_float32={self.to_float32}, color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r}, '
                f'backend_args={self.backend_args})')


class LazyImage:
    """A checked, not yet decoded image file left by
    ``LoadImageFromFileSafe(lazy_decode=True)``: ``shape`` is ``(h, w)`` from the
    header; :meth:`decode` runs the loader's decoding and checks (``None``, reported,
    for a bad image)."""

    __slots__ = ('loader', 'filename', 'data', 'info')

    def __init__(self, loader: LoadImageFromFileSafe, filename: str, data: bytes,
                 info: ImageInfo) -> None:
        self.loader, self.filename, self.data, self.info = loader, filename, data, info

    @property
    def shape(self) -> Tuple[int, int]:
        return self.info.height, self.info.width

    def decode(self, reduce: int = 1) -> Optional[np.ndarray]:
        """The image at ``1 / reduce`` of its size (1, 2, 4 or 8)."""
        if reduce not in (1, 2, 4, 8):
            raise ValueError(f'LazyImage.decode: reduce must be 1, 2, 4 or 8, '
                             f'not {reduce!r}')
        return self.loader.decode_checked(self.filename, self.data, self.info, reduce)

    def size_mismatch(self, shape: Tuple[int, int], reduce: int) -> None:
        """Report (skip, or raise if ``strict``) an image whose decoded size is not
        the one its header declares."""
        self.loader._bad(
            self.filename, 'corrupt',
            f'decoded at 1/{reduce} to {shape[0]}x{shape[1]} pixels (h x w), but the '
            f'header declares {self.info.height}x{self.info.width}')


__all__ = ['LoadImageFromFileSafe', 'LazyImage', 'check_image_bytes', 'png_bit_depth',
           'rescale_to_uint8', 'DEFAULT_MAX_PIXELS']
