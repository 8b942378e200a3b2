"""Fuzz-style inputs (issue #13): seeded generators of malformed images, RoI files and
proposal files, mixed with good ones.

Asserted for every input: nothing crashes with an unnamed error (the only errors
are mmpad's own, and they name the file), every skipped or cleaned file is warned
about once with its name (non-UTF-8 names included: the warning must reach the
log), and every good input is loaded (a good image exactly as mmcv's stock loader
loads it; a good RoI line is kept; a good image of a proposal file stays in the
dataset). The counts are printed (``pytest -s`` or the captured output of a
failure).
"""
import io
import json
import logging
import os
import os.path as osp
import struct
import zlib
from collections import Counter

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

import mmpad  # noqa: F401
from mmpad.core import bad_samples
from mmpad.aligndet.proposal_dataset import (AlignDetProposalDataset,
                                               ProposalFileError)
from mmpad.core.bad_samples import KINDS, BadSampleError, printable
from mmpad.pad.msip import MSIPDataset
from mmpad.pad.roi_reading import read_rois_reported
from mmpad.datasets.transforms.loading import LoadImageFromFileSafe
from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop

SEED = 20261201


class Records(logging.Handler):
    """Every message logged on the current MMLogger; logging errors (a message
    that cannot be encoded) are collected, not printed."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []
        self.errors = []

    def emit(self, record):
        try:
            msg = record.getMessage()
            msg.encode('utf-8')  # what a UTF-8 file / terminal handler does
            self.messages.append(msg)
        except Exception:  # noqa: BLE001
            self.errors.append(record)

    def __enter__(self):
        MMLogger.get_current_instance().addHandler(self)
        return self

    def __exit__(self, *exc):
        MMLogger.get_current_instance().removeHandler(self)

    def naming(self, name):
        return [m for m in self.messages if printable(name) in m]


def _report(title, counts):
    print(f'\n[fuzz] {title}: ' + ', '.join(f'{k} {v}' for k, v in counts.items()))


# =================================================================== images
def _photo(rng, h, w, c):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 60 + 120 * yy / max(h - 1, 1) + 30 * np.sin(xx / 5.0)
    img = base[..., None] + rng.normal(0, 8, (h, w, c))
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img[..., 0] if c == 1 else img


def _enc(img, ext, params=()):
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok, ext
    return buf.tobytes()


def _pil(img, fmt, mode=None, **kw):
    from PIL import Image
    im = Image.fromarray(img)
    if mode:
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(ctype, body):
    return struct.pack('>I', len(body)) + ctype + body + struct.pack(
        '>I', zlib.crc32(body, zlib.crc32(ctype)) & 0xFFFFFFFF)


def _flip_bits(rng, data, lo, hi, n):
    b = bytearray(data)
    for pos in rng.integers(lo, max(lo + 1, hi), n):
        b[int(pos)] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def _entropy_start(jpg):
    pos = 2
    while jpg[pos + 1] != 0xDA:
        pos += 2 + struct.unpack_from('>H', jpg, pos + 2)[0]
    return pos + 2 + struct.unpack_from('>H', jpg, pos + 2)[0]


NON_UTF8 = [b'\xff\xfe', b'caf\xe9', b'\x80\x81', b'\xed\xa0\x80']  # the last:
# a UTF-16 surrogate encoded as UTF-8, also invalid


def generate_images(rng):
    """[(name bytes, data, expect)]: expect 'good' (stock loader reads it; must be
    loaded identically), 'converted' (16-bit: loaded, rescaled), 'bad' (must be
    skipped), 'any' (malformed in a way that may or may not be harmless)."""
    out = []

    def add(stem, ext, data, expect):
        name = f'{len(out):04d}_{stem}'.encode()
        if rng.random() < 0.15:  # some names are not valid UTF-8
            name += NON_UTF8[int(rng.integers(len(NON_UTF8)))]
        out.append((name + ext.encode(), data, expect))

    for i in range(12):  # good images of every kind
        h, w = int(rng.integers(1, 300)), int(rng.integers(1, 300))
        c = int(rng.choice([1, 3]))
        img = _photo(rng, h, w, c)
        add('jpg', '.jpg', _enc(img, '.jpg', [cv2.IMWRITE_JPEG_QUALITY,
                                                 int(rng.integers(5, 101))]), 'good')
        add('png', '.png', _enc(img, '.png'), 'good')
        add('prog', '.jpg', _enc(img, '.jpg', [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
            'good')
        add('rst', '.jpeg', _enc(img, '.jpg', [cv2.IMWRITE_JPEG_RST_INTERVAL,
                                                 int(rng.integers(1, 5))]), 'good')
        if i % 3 == 0:
            img3 = img if img.ndim == 3 else np.dstack([img] * 3)
            add('bmp', '.bmp', _enc(img, '.bmp'), 'good')
            add('tif', '.tif', _enc(img, '.tiff'), 'good')
            add('webp', '.webp', _enc(img3, '.webp'), 'good')
    rgb = _photo(rng, 64, 80, 3)
    add('cmyk', '.jpg', _pil(rgb, 'JPEG', mode='CMYK'), 'good')
    add('pil_exif', '.jpg', _pil(rgb, 'JPEG', exif=b'Exif\x00\x00MM\x00*\x00\x00'
                                 b'\x00\x08\x00\x00'), 'good')
    add('rgba', '.png', _enc(np.dstack([rgb, rgb[..., :1]]), '.png'), 'good')
    add('palette', '.png', _pil(rgb, 'PNG', mode='P'), 'good')
    add('la', '.png', _pil(rgb, 'PNG', mode='LA'), 'good')
    add('one', '.png', _enc(np.full((1, 1), 7, np.uint8), '.png'), 'good')
    add('one', '.jpg', _enc(np.full((1, 1, 3), 7, np.uint8), '.jpg'), 'good')
    add('png_as', '.jpg', _enc(rgb, '.png'), 'good')          # wrong extension
    add('jpg_as', '.png', _enc(rgb, '.jpg'), 'good')
    add('noext', '', _enc(rgb, '.jpg'), 'good')
    add('deep16', '.png', _enc((_photo(rng, 40, 50, 1).astype(np.uint16) * 64),
                               '.png'), 'converted')
    for i in range(10):  # trailing bytes after the end marker: good data
        img = _photo(rng, 50, 60, 3)
        trailer = rng.integers(0, 256, int(rng.integers(1, 6000)),
                               dtype=np.uint8).tobytes()
        if i % 3 == 0:
            trailer = b'\xff\xd9' + trailer + b'\xff\xd8'
        add('trail', '.jpg', _enc(img, '.jpg') + trailer, 'good')
        add('trail', '.png', _enc(img, '.png') + trailer, 'good')

    for i in range(10):  # bad: must be skipped
        img = _photo(rng, 80, 90, 3)
        jpg, png = _enc(img, '.jpg'), _enc(img, '.png')
        add('cut', '.jpg', jpg[:int(rng.integers(3, len(jpg) - 2))], 'bad')
        add('cut', '.png', png[:int(rng.integers(9, len(png) - 1))], 'bad')
        s = _entropy_start(jpg)
        add('garbage', '.jpg', jpg[:s] + rng.integers(
            0, 256, len(jpg) - s - 2, dtype=np.uint8).tobytes() + b'\xff\xd9', 'bad')
        add('random', '.jpg', rng.integers(0, 256, int(rng.integers(1, 3000)),
                                           dtype=np.uint8).tobytes(), 'bad')
    add('empty', '.jpg', b'', 'bad')
    add('empty', '.png', b'', 'bad')
    add('text', '.jpg', b'GIF89a? no, this is text\n' * 10, 'bad')
    add('magic_only', '.jpg', b'\xff\xd8\xff', 'bad')
    add('magic_only', '.png', b'\x89PNG\r\n\x1a\n', 'bad')
    add('html', '.png', b'<html><body>404 Not Found</body></html>', 'bad')
    ihdr = struct.pack('>IIBBBBB', 40000, 40000, 8, 2, 0, 0, 0)
    add('huge', '.png', b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', ihdr) + _chunk(
        b'IDAT', zlib.compress(b'\x00' * 100)) + _chunk(b'IEND', b''), 'bad')
    jpg = _enc(rgb, '.jpg')
    i = jpg.index(b'\xff\xc0')
    add('huge', '.jpg', jpg[:i + 5] + struct.pack('>HH', 65000, 65000) + jpg[i + 9:],
        'bad')
    bmp = bytearray(_enc(rgb, '.bmp'))
    bmp[18:26] = struct.pack('<ii', 60000, 60000)
    add('huge', '.bmp', bytes(bmp), 'bad')

    for i in range(30):  # bit flips: header or body, may or may not be harmless
        img = _photo(rng, 60, 70, int(rng.choice([1, 3])))
        ext = str(rng.choice(['.jpg', '.png', '.bmp']))
        data = _enc(img, ext)
        if i % 2:
            data = _flip_bits(rng, data, 0, min(200, len(data)), int(rng.integers(1, 4)))
        else:
            data = _flip_bits(rng, data, len(data) // 3, len(data) - 4,
                              int(rng.integers(1, 6)))
        add('flip', ext, data, 'any')
    return out


@pytest.mark.timeout(300)
def test_fuzz_images(tmp_path):
    rng = np.random.default_rng(SEED)
    folder = os.fsencode(str(tmp_path / 'imgs'))
    os.makedirs(folder)
    items = []
    for name, data, expect in generate_images(rng):
        with open(osp.join(folder, name), 'wb') as f:
            f.write(data)
        items.append((os.fsdecode(osp.join(folder, name)), expect))
    tally = Counter(tried=0, loaded=0, skipped=0, errors_named=0, good=0,
                    good_loaded=0)
    kinds = Counter()
    crashes = []
    load = LoadImageFromFileSafe()
    strict = LoadImageFromFileSafe(strict=True)
    with Records() as log:
        for path, expect in items:
            tally['tried'] += 1
            tally['good'] += expect in ('good', 'converted')
            base = osp.basename(path)
            before = dict(bad_samples.counts()['files'])
            try:
                out = load(dict(img_path=path))
            except Exception as e:  # noqa: BLE001
                crashes.append((base, f'{type(e).__name__}: {e}'))
                continue
            after = bad_samples.counts()['files']
            new = {k: after[k] - before.get(k, 0) for k in after
                   if after[k] != before.get(k, 0)}
            if out is None:
                tally['skipped'] += 1
                assert len(new) == 1 and set(new) <= set(KINDS), (base, new)
                kinds.update(new)
                assert len(log.naming(base)) == 1, (base, log.naming(base))
                try:
                    strict(dict(img_path=path))
                    crashes.append((base, 'strict loaded a skipped file'))
                except BadSampleError as e:
                    assert printable(base) in str(e), (base, str(e))
                    tally['errors_named'] += 1
                except Exception as e:  # noqa: BLE001
                    crashes.append((base, f'strict: {type(e).__name__}: {e}'))
                assert expect in ('bad', 'any'), f'good file {base} skipped: {new}'
            else:
                tally['loaded'] += 1
                assert expect in ('good', 'converted', 'any'), \
                    f'bad file {base} was loaded'
                tally['good_loaded'] += expect in ('good', 'converted')
                if expect == 'good':
                    ref = LoadImageFromFile()(dict(img_path=path))
                    assert ref is not None and np.array_equal(out['img'],
                                                              ref['img']), base
                    assert not new, (base, new)
        assert not log.errors, 'warnings lost in logging errors'
    _report('images', dict(tally, **{f'skipped as {k}': v for k, v in kinds.items()},
                           crashes=len(crashes)))
    assert not crashes, crashes
    expected = Counter(e for _, e in items)
    assert tally['good_loaded'] == tally['good'] == \
        expected['good'] + expected['converted']
    assert tally['skipped'] >= expected['bad']
    assert kinds['too_large'] >= 3 and kinds['empty_file'] == 2


# ================================================================ RoI files
GOOD_LINES = ['10,10,60,50', '0,0,5,5', ' 20 , 15 , 70 , 60 ', '3,4,0,0']
BAD_LINE_MAKERS = [
    lambda r: f'{"9" * int(r.integers(19, 40))},1,2,3',      # int64 overflow
    lambda r: f'1,{"-" + "9" * 25},2,3',
    lambda r: f'1,2,{2**31},4',                               # beyond int32
    lambda r: 'nan,1,2,3', lambda r: '1,inf,2,3', lambda r: '1.5,2,3,4',
    lambda r: '1e3,2,3,4', lambda r: 'x,y,w,h', lambda r: 'hello',
    lambda r: ','.join(['1'] * int(r.choice([1, 2, 3, 5, 6, 7]))),
    lambda r: '5,5,-4,9', lambda r: '5,5,4,-9', lambda r: '1,,2,3',
    lambda r: '1;2;3;4', lambda r: '\x00\x01\x02', lambda r: '１,２,ẞ,4',
    lambda r: '1,2,3,4' * 3000, lambda r: '[1, 2, 3, 4]',
]


def generate_roi_files(rng):
    """[(stem, bytes, good lines kept as (x, y, w, h), n bad lines, readable)]"""
    out = []
    for i in range(40):
        lines, good, bad = [], [], 0
        for _ in range(int(rng.integers(0, 8))):
            if rng.random() < 0.5:
                line = GOOD_LINES[int(rng.integers(len(GOOD_LINES)))]
                good.append(tuple(int(v) for v in line.split(',')))
            else:
                line = BAD_LINE_MAKERS[int(rng.integers(len(BAD_LINE_MAKERS)))](rng)
                bad += 1
            lines.append(line)
            if rng.random() < 0.2:
                lines.append('')  # blank lines are fine
        sep = '\r\n' if rng.random() < 0.3 else '\n'
        data = sep.join(lines).encode('utf-8')
        if rng.random() < 0.15:
            data = b'\xef\xbb\xbf' + data  # byte-order mark
        out.append((f'{i:07d}', data, good, bad, True))
    n = len(out)
    out.append((f'{n:07d}', b'', [], 0, True))
    out.append((f'{n + 1:07d}', b'\xff\xfe\x00\x81garbage', [], 0, False))
    out.append((f'{n + 2:07d}', rng.integers(0, 256, 500, dtype=np.uint8).tobytes(),
                [], 0, False))
    return out


@pytest.mark.timeout(300)
def test_fuzz_roi_files(tmp_path):
    rng = np.random.default_rng(SEED + 1)
    root = tmp_path / 'msip'
    thermal, roi = root / 's' / 'thermal', root / 's' / 'roi'
    thermal.mkdir(parents=True)
    roi.mkdir()
    files = generate_roi_files(rng)
    img = _photo(rng, 96, 128, 1)
    tally = Counter(tried=0, clean=0, cleaned=0, unreadable=0, errors_named=0,
                    good_lines=0, good_lines_kept=0)
    crashes = []
    with Records() as log:
        for stem, data, good, bad, readable in files:
            cv2.imwrite(str(thermal / f'{stem}.jpg'), img)
            path = str(roi / f'{stem}.txt')
            with open(path, 'wb') as f:
                f.write(data)
            tally['tried'] += 1
            try:
                rois, n_bad = read_rois_reported(path, False, 'fuzz', fallback='x')
            except Exception as e:  # noqa: BLE001
                crashes.append((stem, f'{type(e).__name__}: {e}'))
                continue
            if not readable:
                assert rois is None
                tally['unreadable'] += 1
            else:
                kept = [tuple(r) for r in rois.tolist()]
                assert kept == good, (stem, data[:200], kept, good)
                assert n_bad == bad, (stem, data[:200], n_bad, bad)
                tally['good_lines'] += len(good)
                tally['good_lines_kept'] += len(kept)
                tally['cleaned' if bad else 'clean'] += 1
            if bad or not readable:
                assert len(log.naming(f'{stem}.txt')) == 1, stem
                try:
                    read_rois_reported(path, True, 'fuzz', fallback='x')
                    crashes.append((stem, 'strict accepted a bad file'))
                except BadSampleError as e:
                    assert f'{stem}.txt' in str(e)
                    tally['errors_named'] += 1
                except Exception as e:  # noqa: BLE001
                    crashes.append((stem, f'strict: {type(e).__name__}: {e}'))
        # the dataset starts and keeps every image; the RoI crop reads every file
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            ds = MSIPDataset(data_root=str(root), load_rois=True, pipeline=[])
        assert len(ds) == len(files)
        crop = ObjectSensitiveRandomRoICrop(size=32, min_size=8, min_roi_size=1)
        frame = np.zeros((96, 128, 3), np.uint8)
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            for source in (dict(rois=info['rois']), dict(roi_path=info['roi_path'])):
                try:
                    assert crop(dict(img=frame.copy(), **source))['img'].shape == \
                        (32, 32, 3)
                except Exception as e:  # noqa: BLE001
                    crashes.append((info['roi_path'], f'{type(e).__name__}: {e}'))
        assert not log.errors
    _report('RoI files', dict(tally, crashes=len(crashes)))
    assert not crashes, crashes
    assert tally['good_lines_kept'] == tally['good_lines'] > 0


# =========================================================== proposal files
GARBAGE = ['1', '', 'x' * 300, 1.5, None, True, False, [], {}, [1, 2], {'a': [1]},
           -1, 0, 10**30, 99, float('nan'), float('inf'), [[[[]]]],
           {'id': {'id': {'id': 1}}}, [None, None, None, None]]


def _base_proposals(rng, n_img=4):
    images = [dict(id=i, file_name=f'{i:07d}.jpg', width=128, height=96)
              for i in range(1, n_img + 1)]
    anns = []
    for i in range(1, n_img + 1):
        for _ in range(3):
            x, y = int(rng.integers(0, 60)), int(rng.integers(0, 40))
            w, h = int(rng.integers(5, 60)), int(rng.integers(5, 50))
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=1,
                             bbox=[x, y, w, h], area=w * h, iscrowd=0))
    return dict(images=images, annotations=anns,
                categories=[dict(id=1, name='selective_search')])


def generate_proposal_files(rng):
    """[(name, text or bytes, touched image ids or None for 'whole file')]"""
    out = []
    for k in range(90):
        legit = set()
        data = _base_proposals(rng)
        value = GARBAGE[int(rng.integers(len(GARBAGE)))]
        where = int(rng.integers(0, 4))
        if where == 0:
            j = int(rng.integers(len(data['images'])))
            key = str(rng.choice(['id', 'file_name', 'width', 'height', 'extra']))
            touched = {data['images'][j]['id']}
            data['images'][j][key] = value
        elif where == 1:
            j = int(rng.integers(len(data['annotations'])))
            key = str(rng.choice(['id', 'image_id', 'category_id', 'bbox', 'area',
                                  'iscrowd', 'ignore', 'segmentation']))
            touched = {data['annotations'][j]['image_id']}
            if key in ('ignore', 'iscrowd') and value is True:
                touched = {-1}  # a valid flag: the box may be ignored silently
                legit.add(data['annotations'][j]['image_id'])
            data['annotations'][j][key] = value
            if key == 'image_id' and isinstance(value, int):
                touched.add(value)
        elif where == 2:
            j = int(rng.integers(len(data['annotations'])))
            c = int(rng.integers(4))
            touched = {data['annotations'][j]['image_id']}
            bbox = list(data['annotations'][j]['bbox'])
            bbox[c] = value
            data['annotations'][j]['bbox'] = bbox
        else:
            key = str(rng.choice(['images', 'annotations', 'categories']))
            touched = None
            if rng.random() < 0.3:
                data.pop(key)
            else:
                data[key] = value
        out.append((f'prop_{k:03d}.json', json.dumps(data), touched, legit))
    base = _base_proposals(rng)
    out += [
        ('top_list.json', json.dumps([base]), None),
        ('top_str.json', json.dumps('proposals'), None),
        ('top_null.json', 'null', None),
        ('empty.json', '', None),
        ('cut.json', json.dumps(base)[:200], None),
        ('latin1.json', json.dumps(base).replace('selective_search',
                                                 'sélective').encode('latin-1'),
         None),
        ('deep.json', '[' * 5000 + ']' * 5000, None),
        ('dup_img.json', json.dumps(dict(base, images=base['images'] +
                                         base['images'][:1])), None),
        ('orphans.json', json.dumps(dict(base, annotations=base['annotations'] + [
            dict(id=900, image_id=77, category_id=1, bbox=[1, 1, 5, 5])])), set()),
        ('renamed_cat.json', json.dumps(dict(base, categories=[
            dict(id=1, name='boxes')])), None),
        ('good.json', json.dumps(base), set()),
    ]
    return [o if len(o) == 4 else o + (set(), ) for o in out]


@pytest.mark.timeout(300)
def test_fuzz_proposal_files(tmp_path):
    rng = np.random.default_rng(SEED + 2)
    tally = Counter(tried=0, loaded=0, loaded_with_warning=0, errors_named=0,
                    images_kept=0, images_lost_with_warning=0)
    crashes = []
    for name, text, touched, legit in generate_proposal_files(rng):
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        original = _base_ids(text)
        tally['tried'] += 1
        with Records() as log:
            try:
                with DefaultScope.overwrite_default_scope('mmdet'):
                    ds = AlignDetProposalDataset(
                        ann_file=str(path), data_prefix=dict(img=str(tmp_path)),
                        metainfo=dict(classes=('selective_search', )), pipeline=[],
                        filter_cfg=dict(filter_empty_gt=True, min_size=32))
            except (ProposalFileError, BadSampleError) as e:
                if name not in str(e):
                    crashes.append((name, f'error without the file: {e}'))
                else:
                    tally['errors_named'] += 1
                continue
            except Exception as e:  # noqa: BLE001
                crashes.append((name, f'{type(e).__name__}: {str(e)[:300]}'))
                continue
            assert not log.errors
            tally['loaded'] += 1
            warned = bool(log.naming(name))
            tally['loaded_with_warning'] += warned
            ids = {ds.get_data_info(i)['img_id']: len(ds.get_data_info(i)['instances'])
                   for i in range(len(ds))}
            for img_id, n in original.items():
                untouched = touched is not None and img_id not in touched
                if img_id in legit:
                    continue
                if untouched:
                    assert ids.get(img_id) == n, (name, img_id, ids, original)
                    tally['images_kept'] += 1
                elif ids.get(img_id, 0) < n:
                    assert warned, (name, img_id, ids, 'lost without a warning')
                    tally['images_lost_with_warning'] += 1
                else:
                    tally['images_kept'] += 1
    _report('proposal files', dict(tally, crashes=len(crashes)))
    assert not crashes, crashes
    assert tally['loaded'] and tally['errors_named']


def _base_ids(text):
    """{image id: number of boxes} of the unmutated base (ids 1..4, 3 each)."""
    return {i: 3 for i in range(1, 5)}
