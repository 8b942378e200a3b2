"""LoadImageFromFileSafe on files that are subtly good or subtly bad (issue #13):
trailing bytes after the end marker are loaded; garbage where a JPEG's compressed
data should be is skipped; images above max_pixels are skipped before decoding;
warnings for file names that are not UTF-8 reach the log."""
import logging
import os
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmengine.logging import MMLogger

import mmpad  # noqa: F401  (registers the transform)
from mmpad.core import bad_samples
from mmpad.core.bad_samples import BadSampleError, printable
from mmpad.core.image_check import inspect_image_bytes
from mmpad.datasets.transforms.loading import (DEFAULT_MAX_PIXELS,
                                               LoadImageFromFileSafe)
from mmpad.core.arg_check import InvalidArgumentError

from bad_data import encode, infrared_like


class Utf8Log:
    """A UTF-8 file handler on the current MMLogger (as mmengine's own), which
    records logging errors instead of printing them."""

    def __init__(self, path):
        self.path = path
        self.errors = []
        outer = self

        class Handler(logging.FileHandler):
            def handleError(self, record):  # noqa: N802
                outer.errors.append(record)

        self.handler = Handler(path, mode='a', encoding='utf-8')
        self.handler.setFormatter(logging.Formatter('%(levelname)s %(message)s'))

    def __enter__(self):
        MMLogger.get_current_instance().addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        MMLogger.get_current_instance().removeHandler(self.handler)
        self.handler.close()

    def text(self):
        self.handler.flush()
        with open(self.path, encoding='utf-8') as f:
            return f.read()


def entropy_span(jpg: bytes):
    """(start, end) of the compressed data of a baseline JPEG's single scan."""
    pos = 2
    while True:
        assert jpg[pos] == 0xFF
        code = jpg[pos + 1]
        length = struct.unpack_from('>H', jpg, pos + 2)[0]
        if code == 0xDA:
            start = pos + 2 + length
            end = jpg.rindex(b'\xff\xd9')
            return start, end
        pos += 2 + length


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack('>I', len(body)) + ctype + body + struct.pack(
        '>I', zlib.crc32(body, zlib.crc32(ctype)) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height (8-bit grey) with one tiny IDAT:
    every chunk and CRC is valid; decoding it would allocate width * height."""
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', ihdr) +
            png_chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + png_chunk(b'IEND', b''))


def jpeg_declaring(jpg: bytes, width: int, height: int) -> bytes:
    """``jpg`` with the frame header's size replaced."""
    i = jpg.index(b'\xff\xc0')
    return jpg[:i + 5] + struct.pack('>HH', height, width) + jpg[i + 9:]


@pytest.fixture
def img():
    return infrared_like(96, 128, 7)


def _same_as_stock(path, **kwargs):
    ref = LoadImageFromFile(**kwargs)(dict(img_path=path))['img']
    out = LoadImageFromFileSafe(strict=True, **kwargs)(dict(img_path=path))
    assert out is not None and np.array_equal(out['img'], ref), path


# ------------------------------------------------------------ trailing bytes
def test_trailing_bytes_after_the_end_marker_are_loaded(tmp_path, img):
    """Good data used to be lost: the end marker was looked for in the last KiB
    only, so a JPEG with a long camera trailer or a PNG with appended data was
    reported as truncated while every decoder reads it."""
    rng = np.random.default_rng(0)
    jpg, png = encode(img, '.jpg'), encode(np.dstack([img] * 3), '.png')
    trailers = {
        'long': rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        'markers': b'\xff\xd8\xff\xe0' + b'\x00' * 2000 + b'\xff\xd9junk',
        'zip': b'PK\x03\x04' + bytes(range(256)) * 20,
        'text': b'camera trailer ' * 300,
    }
    for name, trailer in trailers.items():
        for ext, data in (('jpg', jpg), ('png', png)):
            p = str(tmp_path / f'{name}.{ext}')
            with open(p, 'wb') as f:
                f.write(data + trailer)
            assert inspect_image_bytes(data + trailer).problem is None, p
            for kwargs in (dict(), dict(imdecode_backend='pillow')):
                _same_as_stock(p, **kwargs)
    assert bad_samples.counts()['files'] == {}


def test_truncation_is_still_detected(tmp_path, img):
    jpg, png = encode(img, '.jpg'), encode(img, '.png')
    for cut in (0.3, 0.9, len(jpg) - 2):
        data = jpg[:cut if isinstance(cut, int) else int(len(jpg) * cut)]
        assert inspect_image_bytes(data).problem[0] == 'truncated'
    # trailing bytes do not hide a truncation: an EOI only in the trailer
    assert inspect_image_bytes(jpg[:len(jpg) // 2] + b'\x00' * 10).problem[0] in (
        'truncated', 'corrupt')
    assert inspect_image_bytes(png[:-12]).problem[0] == 'truncated'
    assert inspect_image_bytes(png[:-12] + b'\x00' * 2000).problem[0] in (
        'truncated', 'corrupt')


# ------------------------------------------------------------ garbage body
def test_garbage_body_jpeg_is_skipped_with_one_warning(tmp_path, img):
    """A JPEG whose markers are valid but whose compressed data is random bytes:
    the stock loader returns noise without a word."""
    jpg = encode(img, '.jpg')
    start, end = entropy_span(jpg)
    rng = np.random.default_rng(1)
    garbage = jpg[:start] + rng.integers(0, 256, end - start,
                                         dtype=np.uint8).tobytes() + jpg[end:]
    p = str(tmp_path / 'garbage_body.jpg')
    with open(p, 'wb') as f:
        f.write(garbage)
    assert LoadImageFromFile()(dict(img_path=p))['img'].shape == (96, 128, 3)
    with Utf8Log(str(tmp_path / 'log.txt')) as log:
        load = LoadImageFromFileSafe()
        assert load(dict(img_path=p)) is None
        assert load(dict(img_path=p)) is None
        lines = [ln for ln in log.text().splitlines() if 'garbage_body.jpg' in ln]
    assert len(lines) == 1 and 'corrupt JPEG' in lines[0], lines
    assert bad_samples.counts()['files'] == {'corrupt': 1}
    with pytest.raises(BadSampleError, match='garbage_body.jpg: corrupt JPEG'):
        LoadImageFromFileSafe(strict=True)(dict(img_path=p))


def test_garbage_without_marker_bytes_is_caught_by_the_decoder(tmp_path, img):
    """Random compressed data that contains no 0xFF byte passes the structural
    walk; libjpeg's "Corrupt JPEG data" warnings while decoding catch it."""
    jpg = encode(img, '.jpg')
    start, end = entropy_span(jpg)
    rng = np.random.default_rng(2)
    body = rng.integers(0, 255, end - start, dtype=np.uint8).tobytes()  # no 0xFF
    data = jpg[:start] + body + jpg[end:]
    assert inspect_image_bytes(data).problem is None
    p = str(tmp_path / 'quiet_garbage.jpg')
    with open(p, 'wb') as f:
        f.write(data)
    with pytest.raises(BadSampleError,
                       match='quiet_garbage.jpg: the JPEG decoder reports damaged'):
        LoadImageFromFileSafe(strict=True)(dict(img_path=p))
    # off: the structural check alone lets it through
    assert LoadImageFromFileSafe(check_jpeg_data=False)(dict(img_path=p)) is not None


def test_good_jpeg_variants_pass_the_structural_walk(tmp_path, img):
    colour = np.dstack([img, 255 - img, img // 2])
    variants = {
        'progressive': cv2.imencode('.jpg', colour,
                                    [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1],
        'restarts': cv2.imencode('.jpg', colour,
                                 [cv2.IMWRITE_JPEG_RST_INTERVAL, 2])[1],
        'optimized': cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_OPTIMIZE, 1])[1],
        'q100': cv2.imencode('.jpg', colour, [cv2.IMWRITE_JPEG_QUALITY, 100])[1],
    }
    for name, buf in variants.items():
        data = buf.tobytes()
        assert inspect_image_bytes(data).problem is None, name
        p = str(tmp_path / f'{name}.jpg')
        with open(p, 'wb') as f:
            f.write(data)
        _same_as_stock(p)
    # a restart marker out of sequence is garbage
    data = variants['restarts'].tobytes()
    i = data.index(b'\xff\xd1')
    bad = data[:i] + b'\xff\xd3' + data[i + 2:]
    assert inspect_image_bytes(bad).problem[0] == 'corrupt'
    assert 'RST1 was due' in inspect_image_bytes(bad).problem[1]


# ------------------------------------------------------------ max_pixels
def test_max_pixels_is_checked_from_the_header_before_decoding(tmp_path, img):
    """A 1-gigapixel PNG / JPEG (header only, a few bytes of data) would take
    gigabytes to decode; it is skipped from its header, in milliseconds."""
    assert DEFAULT_MAX_PIXELS == 2**28
    bomb_png = str(tmp_path / 'bomb.png')
    with open(bomb_png, 'wb') as f:
        f.write(png_declaring(32000, 32000))
    bomb_jpg = str(tmp_path / 'bomb.jpg')
    with open(bomb_jpg, 'wb') as f:
        f.write(jpeg_declaring(encode(img, '.jpg'), 32000, 32000))
    with Utf8Log(str(tmp_path / 'log.txt')) as log:
        t0 = time.perf_counter()
        for p in (bomb_png, bomb_jpg):
            assert LoadImageFromFileSafe()(dict(img_path=p)) is None
        assert time.perf_counter() - t0 < 1.0
        text = log.text()
    for name in ('bomb.png', 'bomb.jpg'):
        line = next(ln for ln in text.splitlines() if name in ln)
        assert '32000x32000 pixels' in line and '1024.0 Mpx' in line
        assert 'max_pixels=268435456' in line and 'not decoded' in line
    assert bad_samples.counts()['files'] == {'too_large': 2}

    # the limit is the decoded size; also checked after decoding (no header size)
    p = str(tmp_path / 'normal.png')
    cv2.imwrite(p, img)
    assert LoadImageFromFileSafe(max_pixels=96 * 128)(dict(img_path=p)) is not None
    with pytest.raises(BadSampleError, match=r'normal.png: 128x96 pixels'):
        LoadImageFromFileSafe(max_pixels=96 * 128 - 1, strict=True)(
            dict(img_path=p))
    assert LoadImageFromFileSafe(max_pixels=None)(dict(img_path=p)) is not None
    for bad in (0, -5, 1.5e9, '100', True):
        with pytest.raises(InvalidArgumentError, match='max_pixels'):
            LoadImageFromFileSafe(max_pixels=bad)


def test_declared_sizes_of_other_formats(img):
    for ext in ('.png', '.jpg', '.bmp', '.tiff', '.webp'):
        ok, buf = cv2.imencode(ext, img)
        if not ok:
            continue
        info = inspect_image_bytes(buf.tobytes())
        assert (info.width, info.height) == (128, 96), ext
        assert info.problem is None, (ext, info.problem)


# ------------------------------------------------------------ non-UTF-8 names
def test_warnings_for_non_utf8_file_names_reach_the_log(tmp_path, capfd):
    raw = os.path.join(os.fsencode(str(tmp_path)), b'caf\xe9_\xff.jpg')
    with open(raw, 'wb') as f:
        f.write(b'')  # empty -> skipped
    name = os.fsdecode(raw)  # what os.listdir gives: lone surrogates
    assert os.path.basename(name) in os.listdir(str(tmp_path))
    with Utf8Log(str(tmp_path / 'log.txt')) as log:
        assert LoadImageFromFileSafe()(dict(img_path=name)) is None
        text = log.text()
    assert not log.errors, 'the warning was lost in a logging error'
    assert 'caf\\xe9_\\xff.jpg: the file is empty' in text
    assert 'Logging error' not in capfd.readouterr().err
    with pytest.raises(BadSampleError) as info:
        LoadImageFromFileSafe(strict=True)(dict(img_path=name))
    assert 'caf\\xe9_\\xff.jpg' in str(info.value)
    str(info.value).encode('utf-8')  # printable anywhere
    assert info.value.path == name   # the real path is kept for the program
    assert printable(b'a\xffb') == 'a\\xffb' and printable('ok') == 'ok'
