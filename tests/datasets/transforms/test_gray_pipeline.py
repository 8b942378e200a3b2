"""The PAD train pipeline with gray infrared kept as one channel until the data
preprocessor, lazy (reduced-size) JPEG decoding, and the device-side RoI resize:
the same batch tensors as the 3-channel pipeline where the mode is exact, and
controls that show the comparison sees a different mode."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.dataset.base_dataset import Compose

import mmpad  # noqa: F401  (registers the transforms)
from mmpad.core import bad_samples
from mmpad.pad.msip import MSIP_MEAN, MSIP_STD
from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop

from bad_data import BAD_IMAGES, write_bad_images

MEAN, STD = list(MSIP_MEAN), list(MSIP_STD)


def _smooth_gray(rng, h, w):
    """Infrared-like content (smooth blobs + noise), so that resampling modes give
    close but not equal pixels."""
    small = rng.uniform(0, 255, (h // 16 + 1, w // 16 + 1)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 6, (h, w)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope='module')
def jpegs(tmp_path_factory):
    """Four 640x512 one-channel JPEGs and one 3-channel (colour) JPEG of the same
    kind of content, each with RoIs of all sizes."""
    d = tmp_path_factory.mktemp('gray_jpegs')
    rng = np.random.default_rng(3)
    samples = []
    for i in range(5):
        img = _smooth_gray(rng, 512, 640)
        if i == 4:
            img = np.stack([img, np.roll(img, 3, 1), np.roll(img, 7, 0)], 2)
        path = str(d / f'{i}.jpg')
        assert cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        wh = rng.integers(60, 500, (10, 2))
        xy = rng.integers(0, 100, (10, 2))
        samples.append(dict(img_path=path, rois=np.concatenate([xy, wh], 1)))
    return samples


def _pipeline(gray: bool, lazy: bool = False, reduced: int = 1, resize='cpu',
              large: float = 0.15, size: int = 224):
    load = dict(type='LoadImageFromFileSafe', min_size=60, lazy_decode=lazy)
    if gray:
        load['color_type'] = 'grayscale'
    return Compose([
        load,
        dict(type='mmpretrain.ObjectSensitiveRandomRoICrop', size=size,
             large_crop_prob=large, reduced_decode=reduced, resize=resize),
        dict(type='mmpretrain.RandomFlip', prob=0.5),
        dict(type='mmpretrain.PackInputs', meta_keys=('img_path', 'crop_bbox'))])


def _run(pipeline, samples, seed=0, rounds=3):
    np.random.seed(seed)
    return [pipeline(dict(s)) for _ in range(rounds) for s in samples]


def _stock(batch):
    from mmpretrain.models.utils.data_preprocessor import SelfSupDataPreprocessor
    pre = SelfSupDataPreprocessor(mean=MEAN, std=STD, to_rgb=True)
    return pre(default_collate(batch), training=True)['inputs']


def _ours(batch, collate=default_collate, **kw):
    from mmpad.pad.data_preprocessor import InfraredSelfSupDataPreprocessor
    pre = InfraredSelfSupDataPreprocessor(mean=MEAN, std=STD, to_rgb=True, **kw)
    return pre(collate(batch), training=True)['inputs']


def test_gray_once_gives_the_3_channel_batch(jpegs):
    gray = _run(_pipeline(gray=True), jpegs[:4])
    three = _run(_pipeline(gray=False), jpegs[:4])
    assert gray[0]['inputs'].shape == (1, 224, 224)
    assert three[0]['inputs'].shape == (3, 224, 224)
    for g, t in zip(gray, three):
        np.testing.assert_array_equal(g['data_samples'].crop_bbox,
                                      t['data_samples'].crop_bbox)
    a, b = _ours(gray), _stock(three)
    assert a.shape == b.shape == (12, 3, 224, 224) and a.dtype == b.dtype
    assert torch.equal(a, b)


def test_pad_config_pipeline_and_preprocessor_are_the_gray_once_ones(jpegs, repo_root):
    """The PAD configs' loader decodes gray and their preprocessor, built from the
    config, turns the gray batch (also as a list of views) into the stock one."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'pad', '_base_',
                                   'msip_pretrain_100e.py'))
    assert cfg.train_dataloader.dataset.pipeline[0].color_type == 'grayscale'
    pre = MODELS.build(cfg.data_preprocessor)
    gray = default_collate(_run(_pipeline(gray=True), jpegs[:2], rounds=1))
    want = _stock(_run(_pipeline(gray=False), jpegs[:2], rounds=1))
    assert torch.equal(pre(gray, True)['inputs'], want)
    views = pre(dict(gray, inputs=[gray['inputs']] * 2), True)['inputs']
    assert len(views) == 2 and all(torch.equal(v, want) for v in views)


def test_lazy_decode_without_reduction_is_exact(jpegs):
    lazy = _run(_pipeline(gray=True, lazy=True), jpegs[:4])
    eager = _run(_pipeline(gray=True), jpegs[:4])
    for a, b in zip(lazy, eager):
        assert torch.equal(a['inputs'], b['inputs'])


def test_reduced_decode_differs_slightly_control(jpegs):
    """Control for the exact comparisons above: decoding at 1/2 (large crops, so
    that most are >= 2x the output) gives the same boxes, other pixels, close to the
    exact ones."""
    kw = dict(gray=True, large=1.0, size=112)
    reduced = _run(_pipeline(lazy=True, reduced=2, **kw), jpegs[:4])
    exact = _run(_pipeline(**kw), jpegs[:4])
    n_diff = 0
    for a, b in zip(reduced, exact):
        np.testing.assert_array_equal(a['data_samples'].crop_bbox,
                                      b['data_samples'].crop_bbox)
        diff = (a['inputs'].float() - b['inputs'].float()).abs().mean().item()
        n_diff += diff > 0
        assert diff < 1.5                                # gray levels, on average
    assert n_diff >= 6


def test_colour_jpeg_decoded_gray_is_not_the_3_channel_batch_control(jpegs):
    """Control: a 3-channel JPEG decoded to gray (its luma) is another input; the
    comparison of the exact test sees it."""
    gray = _run(_pipeline(gray=True), jpegs[4:])
    three = _run(_pipeline(gray=False), jpegs[4:])
    assert not torch.equal(_ours(gray), _stock(three))


def test_device_resize_on_cpu_is_close_to_the_pillow_resize(jpegs):
    cpu = _run(_pipeline(gray=True), jpegs[:4])
    dev = _run(_pipeline(gray=True, resize='device'), jpegs[:4])
    assert any(d['inputs'].shape[1:] != (224, 224) for d in dev)
    a = _ours(dev, collate=pseudo_collate, roi_resize=224)
    b = _ours(cpu)
    assert a.shape == b.shape == (12, 3, 224, 224)
    err = (a - b).abs().mean().item() * STD[0]            # in gray levels
    assert err < 1.0
    # control: another random stream (other crops) is far
    other = _ours(_run(_pipeline(gray=True, resize='device'), jpegs[:4], seed=1),
                  collate=pseudo_collate, roi_resize=224)
    assert (other - b).abs().mean().item() * STD[0] > 10 * err


def test_device_resize_needs_a_list_of_crops(jpegs):
    dev = _run(_pipeline(gray=True), jpegs[:1], rounds=2)
    with pytest.raises(TypeError, match='pseudo_collate'):
        _ours(dev, collate=lambda b: dict(pseudo_collate(b), inputs=None),
              roi_resize=224)


def test_mean_with_wrong_length_names_the_field():
    from mmpad.pad.data_preprocessor import InfraredSelfSupDataPreprocessor
    with pytest.raises(ValueError, match='num_channels'):
        InfraredSelfSupDataPreprocessor(mean=[1, 2], std=[1, 2])


@pytest.mark.parametrize('name', sorted(BAD_IMAGES))
def test_bad_files_are_skipped_with_lazy_decoding(tmp_path, name):
    write_bad_images(str(tmp_path))
    pipe = _pipeline(gray=True, lazy=True, reduced=2)
    path = osp.join(str(tmp_path), name)
    assert pipe(dict(img_path=path, rois=np.zeros((0, 4)))) is None
    assert sum(bad_samples.counts()['files'].values()) == 1
    ObjectSensitiveRandomRoICrop.reset_stats()


def test_damage_found_while_decoding_late_is_skipped_once(tmp_path):
    """Compressed data without 0xFF bytes passes the structural checks of the lazy
    loader; libjpeg's warnings, seen when the RoI crop decodes, skip the sample."""
    from bad_data import encode, infrared_like
    jpg = encode(infrared_like(256, 320, 7), '.jpg')
    start = jpg.index(b'\xff\xda')
    start += 2 + int.from_bytes(jpg[start + 2:start + 4], 'big')
    end = jpg.rindex(b'\xff\xd9')
    body = np.random.default_rng(2).integers(0, 255, end - start, dtype=np.uint8)
    path = str(tmp_path / 'quiet_garbage.jpg')
    with open(path, 'wb') as f:
        f.write(jpg[:start] + body.tobytes() + jpg[end:])
    pipe = _pipeline(gray=True, lazy=True, reduced=2)
    assert Compose(pipe.transforms[:1])(dict(img_path=path))['img_lazy'] is not None
    assert pipe(dict(img_path=path, rois=np.zeros((0, 4)))) is None
    assert bad_samples.counts()['files'] == {'corrupt': 1}
