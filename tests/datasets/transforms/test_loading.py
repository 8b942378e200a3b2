"""LoadImageFromFileSafe: which bad files are recognised, what is skipped, converted
or raised, and that good files load exactly as with mmcv's LoadImageFromFile."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmengine.registry import DefaultScope

import mmpad  # noqa: F401  (registers the transform)
from mmpad.core import bad_samples
from mmpad.core.bad_samples import BadSampleError
from mmpad.datasets.transforms.loading import LoadImageFromFileSafe

from bad_data import (BAD_IMAGES, DEEP_MAX, DEEP_PNG, LogFile, encode,
                      infrared_like, write_bad_images)


@pytest.fixture(scope='module')
def bad_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('bad_images')
    write_bad_images(str(d))
    return str(d)


@pytest.mark.parametrize('name', sorted(BAD_IMAGES))
def test_bad_file_is_skipped_with_one_warning_or_raised_when_strict(
        bad_dir, tmp_path, name):
    path = osp.join(bad_dir, name)
    load = LoadImageFromFileSafe(min_size=64)
    with LogFile(str(tmp_path / 'log.txt')) as log:
        assert load(dict(img_path=path)) is None
        assert load(dict(img_path=path)) is None
        assert log.count(name) == 1
    kind = BAD_IMAGES[name]
    assert bad_samples.counts()['files'] == {kind: 1}
    assert bad_samples.counts()['events'] == {kind: 2}
    with pytest.raises(BadSampleError, match=f'bad sample .*{name}: ') as info:
        LoadImageFromFileSafe(min_size=64, strict=True)(dict(img_path=path))
    assert info.value.kind == kind and info.value.path == path


def test_the_stock_loader_accepts_a_truncated_jpeg_silently(bad_dir):
    """Why the marker check is needed: OpenCV decodes the first 60 % of the file and
    fills the rest with grey."""
    path = osp.join(bad_dir, 'bad_trunc_jpg.jpg')
    img = LoadImageFromFile()(dict(img_path=path))['img']
    assert img.shape == (96, 128, 3)
    assert LoadImageFromFileSafe()(dict(img_path=path)) is None


def test_missing_file_and_min_size(tmp_path):
    load = LoadImageFromFileSafe()
    assert load(dict(img_path=str(tmp_path / 'nowhere.jpg'))) is None
    assert bad_samples.counts()['files'] == {'unreadable': 1}
    p = str(tmp_path / 'wide.png')
    cv2.imwrite(p, infrared_like(40, 200))
    assert LoadImageFromFileSafe(min_size=40)(dict(img_path=p)) is not None
    assert LoadImageFromFileSafe(min_size=41)(dict(img_path=p)) is None
    assert LoadImageFromFileSafe(min_size=(40, 100))(dict(img_path=p)) is not None
    assert LoadImageFromFileSafe(min_size=(40, 201))(dict(img_path=p)) is None
    with pytest.raises(ValueError, match='min_size'):
        LoadImageFromFileSafe(min_size=(1, 2, 3))


def test_16bit_png_is_rescaled_not_black(bad_dir, tmp_path):
    path = osp.join(bad_dir, DEEP_PNG)
    stock = LoadImageFromFile()(dict(img_path=path))['img']
    assert stock.max() <= DEEP_MAX >> 8            # OpenCV keeps the high byte
    with LogFile(str(tmp_path / 'log.txt')) as log:
        for _ in range(2):
            out = LoadImageFromFileSafe(strict=True)(dict(img_path=path))
        assert log.count(DEEP_PNG) == 1 and 'values 0..4000' in log.text()
    img = out['img']
    assert img.dtype == np.uint8 and img.shape == (96, 128, 3)
    assert img.min() == 0 and img.max() == 255 and 120 < img.mean() < 135
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED).astype(np.float64)
    assert np.abs(img[..., 0] - raw * 255 / DEEP_MAX).max() <= 0.5 + 1e-6
    assert (img[..., 0] == img[..., 2]).all()
    assert bad_samples.counts()['files'] == {'high_bit_depth': 1}
    assert bad_samples.counts()['converted'] == 1
    assert bad_samples.counts()['bad_files'] == 0   # converted is not bad
    gray = LoadImageFromFileSafe(color_type='grayscale')(dict(img_path=path))['img']
    assert gray.shape == (96, 128) and gray.max() == 255
    shift = LoadImageFromFileSafe(high_bit_depth='shift')(dict(img_path=path))['img']
    assert np.array_equal(shift, stock)
    raw16 = LoadImageFromFileSafe(color_type='unchanged')(dict(img_path=path))['img']
    assert raw16.dtype == np.uint16 and raw16.max() == DEEP_MAX
    const = str(tmp_path / 'const16.png')
    cv2.imwrite(const, np.full((70, 70), 1234, np.uint16))
    assert LoadImageFromFileSafe()(dict(img_path=const))['img'].max() == 0


def test_good_files_load_exactly_like_the_stock_loader(tmp_path):
    img = infrared_like(70, 90, 5)
    colour = np.dstack([img, 255 - img, img // 2])
    files = {'a.jpg': img, 'b.png': colour, 'c.bmp': img, 'd.jpg': colour}
    for name, arr in files.items():
        cv2.imwrite(str(tmp_path / name), arr)
    # JPEG with padding / a trailer after its end marker is not truncated
    jpg = encode(img, '.jpg')
    (tmp_path / 'pad.jpg').write_bytes(jpg + b'\x00' * 300)
    (tmp_path / 'trailer.jpg').write_bytes(jpg + b'camera trailer ' * 20)
    for name in list(files) + ['pad.jpg', 'trailer.jpg']:
        for kwargs in (dict(), dict(color_type='grayscale'), dict(to_float32=True),
                       dict(imdecode_backend='pillow')):
            ref = LoadImageFromFile(**kwargs)(dict(img_path=str(tmp_path / name)))
            out = LoadImageFromFileSafe(min_size=64, strict=True, **kwargs)(
                dict(img_path=str(tmp_path / name)))
            assert out['img'].dtype == ref['img'].dtype
            assert np.array_equal(out['img'], ref['img']), (name, kwargs)
            assert out['img_shape'] == ref['img_shape'] == ref['ori_shape']
    assert bad_samples.counts()['files'] == {}


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
def test_found_from_every_host_scope(scope):
    import importlib
    registry = importlib.import_module(f'{scope}.registry').TRANSFORMS
    with DefaultScope.overwrite_default_scope(scope):
        t = registry.build(dict(type='LoadImageFromFileSafe', min_size=(8, 16)))
    assert isinstance(t, LoadImageFromFileSafe) and t.min_size == (8, 16)


def test_sop_pipeline_skips_images_smaller_than_the_crop(demo_data, tmp_path,
                                                        repo_root):
    """SOP pre-training pipelines (mmseg): with the stock loader an 8x8 image goes
    through RandomCrop (which crops to the image when it is smaller) and
    SubimageOverlap as an 8x8 sample; the safe loader's min_size=crop_size skips
    it, and the other bad files (demo pipeline, which also resizes)."""
    import os
    from mmengine.config import Config
    from mmseg.registry import DATASETS
    base = Config.fromfile(osp.join(repo_root, 'configs/sop/_base_/sop_pretrain_loveda.py'))
    assert base.train_pipeline[0] == dict(type='LoadImageFromFileSafe',
                                          min_size=(512, 512))
    cfg = Config.fromfile(osp.join(
        repo_root, 'configs/sop/demo/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py'))
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert pipeline[0] == dict(type='LoadImageFromFileSafe', min_size=(64, 64))
    img_dir = tmp_path / 'imgs'
    write_bad_images(str(img_dir))
    src = osp.join(demo_data, 'soda', 'JPEGImages')
    good = sorted(os.listdir(src))[:3]
    for n in good:
        os.symlink(osp.join(src, n), img_dir / n)
    with DefaultScope.overwrite_default_scope('mmseg'):
        stock = DATASETS.build(dict(
            type='SOPUnlabeledDataset', data_prefix=dict(img_path=str(img_dir)),
            pipeline=[dict(type='LoadImageFromFile')] + list(base.train_pipeline[1:])))
        small = [i for i in range(len(stock))
                 if stock.get_data_info(i)['img_path'].endswith('bad_small.jpg')][0]
        sample = stock.prepare_data(small)
        assert tuple(sample['inputs'].shape) == (6, 8, 8)   # smaller than the crop
        ds = DATASETS.build(dict(
            type='SOPUnlabeledDataset', data_prefix=dict(img_path=str(img_dir)),
            pipeline=pipeline))
        np.random.seed(0)
        with LogFile(str(tmp_path / 'log.txt')) as log:
            out = [ds[i] for i in range(len(ds))]
            assert all(log.count(n) == 1 for n in BAD_IMAGES)
    assert all(tuple(o['inputs'].shape) == (6, 64, 64) for o in out)
    assert not any(osp.basename(o['data_samples'].img_path) in BAD_IMAGES for o in out)
    assert bad_samples.counts()['skipped'] == len(BAD_IMAGES)
