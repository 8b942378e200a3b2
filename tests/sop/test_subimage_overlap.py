"""SubimageOverlap: the box, the mask, the sub-image and the seeding."""
import cv2
import numpy as np
import pytest

import mmpad  # noqa: F401
from mmpad.sop.subimage_overlap import (SubimageOverlap,
                                                        box_area_inside,
                                                        photometric_jitter)


def _image(h=60, w=80, seed=0):
    """A textured BGR image (no two rows / columns alike)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _results(img, path='/data/tile_000.jpg', **extra):
    return dict(img=img, img_path=path, img_shape=img.shape[:2],
                ori_shape=(999, 999), flip=True, flip_direction='horizontal',
                seg_fields=[], **extra)


def test_mask_is_the_box_inside_the_image():
    t = SubimageOverlap(photometric=False)
    np.random.seed(0)
    for i in range(200):
        img = _image(48 + i % 5, 64 + i % 7, seed=i)
        H, W = img.shape[:2]
        out = t(_results(img))
        x0, y0, w, h = out['sop_box']
        mask = out['gt_seg_map']
        assert mask.shape == (H, W) and mask.dtype == np.uint8
        assert 0 <= x0 and 0 <= y0 and x0 + w <= W and y0 + h <= H
        assert mask.sum() == w * h
        assert mask[y0:y0 + h, x0:x0 + w].all()
        # side fraction and aspect within the sampling ranges (up to rounding)
        s_h, s_w = h / H, w / W
        assert 0.15 - 1.5 / H <= np.sqrt(s_h * s_w) <= 0.5 + 1.5 / H
        assert 0.75 * 0.8 <= s_w / s_h <= 4 / 3 * 1.25


def test_sub_image_is_the_resized_crop_without_augmentation():
    img = _image(60, 80)
    out = SubimageOverlap(photometric=False, seed=3)(_results(img.copy()))
    x0, y0, w, h = out['sop_box']
    expected = cv2.resize(img[y0:y0 + h, x0:x0 + w], (80, 60),
                          interpolation=cv2.INTER_LINEAR)
    six = out['img']
    assert six.shape == (60, 80, 6) and six.dtype == np.uint8
    np.testing.assert_array_equal(six[..., :3], img[..., ::-1])  # BGR -> RGB
    np.testing.assert_array_equal(six[..., 3:], expected[..., ::-1])


def test_to_rgb_false_keeps_bgr():
    img = _image()
    out = SubimageOverlap(photometric=False, to_rgb=False, seed=1)(_results(img.copy()))
    x0, y0, w, h = out['sop_box']
    np.testing.assert_array_equal(out['img'][..., :3], img)
    np.testing.assert_array_equal(
        out['img'][..., 3:], cv2.resize(img[y0:y0 + h, x0:x0 + w], (80, 60)))


def test_meta_describes_the_parent():
    out = SubimageOverlap(seed=0)(_results(_image()))
    assert out['ori_shape'] == (60, 80) and out['img_shape'] == (60, 80)
    assert out['flip'] is False and out['flip_direction'] is None
    assert out['seg_fields'] == ['gt_seg_map']
    assert out['sop_negative'] is False


def test_seeded_boxes_reproduce_from_seed_and_file_name():
    t = SubimageOverlap(photometric=True, seed=7)
    img = _image()
    a = t(_results(img.copy(), path='/x/a.jpg'))
    state = np.random.get_state()
    b = t(_results(img.copy(), path='/elsewhere/a.jpg'))  # same file name
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # global rng untouched
    assert a['sop_box'] == b['sop_box']
    np.testing.assert_array_equal(a['img'], b['img'])  # augmentation too
    boxes_other_files = {t(_results(img.copy(), path=f'/x/{i}.jpg'))['sop_box']
                         for i in range(20)}
    assert len(boxes_other_files) > 15
    other_seed = SubimageOverlap(photometric=True, seed=8)
    assert other_seed(_results(img.copy(), path='/x/a.jpg'))['sop_box'] != a['sop_box']
    repeats = {t(_results(img.copy(), path='/x/a.jpg', sop_repeat_idx=r))['sop_box']
               for r in range(10)}
    assert len(repeats) > 7


def test_unseeded_boxes_follow_numpy_global_seed():
    t = SubimageOverlap(photometric=False)
    np.random.seed(123)
    first = [t(_results(_image()))['sop_box'] for _ in range(5)]
    np.random.seed(123)
    again = [t(_results(_image()))['sop_box'] for _ in range(5)]
    assert first == again and len(set(first)) > 1


def test_partial_overlap_mask_is_the_intersection():
    t = SubimageOverlap(photometric=False, allow_partial=True, min_overlap=0.25)
    np.random.seed(0)
    outside = 0
    for i in range(200):
        img = _image(seed=i)
        out = t(_results(img.copy()))
        x0, y0, w, h = out['sop_box']
        inside = box_area_inside((x0, y0, w, h), 60, 80)
        assert out['gt_seg_map'].sum() == inside >= 0.25 * w * h
        if inside < w * h:
            outside += 1
            # S's part outside the parent is black
            crop = np.zeros((h, w, 3), np.uint8)
            ys, xs = max(y0, 0), max(x0, 0)
            ye, xe = min(y0 + h, 60), min(x0 + w, 80)
            crop[ys - y0:ye - y0, xs - x0:xe - x0] = img[ys:ye, xs:xe]
            np.testing.assert_array_equal(
                out['img'][..., 3:], cv2.resize(crop, (80, 60))[..., ::-1])
    assert outside > 50


def test_negative_takes_sub_image_from_another_image():
    t = SubimageOverlap(photometric=False, p_neg=1.0, seed=0)
    img, other = _image(seed=1), _image(50, 70, seed=2)
    out = t(_results(img.copy(), mix_results=[dict(img=other, img_path='o.jpg')]))
    assert out['sop_negative'] is True and out['gt_seg_map'].sum() == 0
    x0, y0, w, h = out['sop_box']
    assert x0 + w <= 70 and y0 + h <= 50
    np.testing.assert_array_equal(
        out['img'][..., 3:], cv2.resize(other[y0:y0 + h, x0:x0 + w], (80, 60))[..., ::-1])
    assert t.get_indices(list(range(10)))[0] in range(10)
    assert SubimageOverlap(p_neg=0.0).get_indices(list(range(10))) == []
    with pytest.raises(KeyError, match='MultiImageMixDataset'):
        t(_results(img.copy()))


def test_photometric_augments_only_the_sub_image():
    img = _image()
    plain = SubimageOverlap(photometric=False, seed=5)(_results(img.copy()))
    aug = SubimageOverlap(photometric=True, seed=5)(_results(img.copy()))
    assert plain['sop_box'] == aug['sop_box']
    np.testing.assert_array_equal(plain['img'][..., :3], aug['img'][..., :3])
    assert np.abs(plain['img'][..., 3:].astype(int) - aug['img'][..., 3:]).mean() > 1


def test_photometric_brightness_by_hand():
    img = _image(8, 8)
    out = photometric_jitter(img, np.random.default_rng(11), brightness=0.3,
                             contrast=0, saturation=0, hue=0, blur_prob=0,
                             noise_std=(0, 0))
    rng = np.random.default_rng(11)
    rng.permutation(4)
    factor = rng.uniform(0.7, 1.3)
    expected = np.clip(np.rint(np.clip(img.astype(np.float32) * factor, 0, 255)), 0, 255)
    np.testing.assert_array_equal(out, expected.astype(np.uint8))


def test_photometric_hue_rotates_colour():
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200  # RGB red
    out = photometric_jitter(red, np.random.default_rng(0), brightness=0, contrast=0,
                             saturation=0, hue=0.5, blur_prob=0, noise_std=(0, 0))
    assert out.shape == red.shape and not np.array_equal(out, red)
    assert out.max() == 200  # a hue rotation keeps the value (max channel)


def test_grayscale_input_and_packing():
    from mmseg.datasets.transforms import PackSegInputs
    gray = _image()[..., 0]
    out = SubimageOverlap(seed=0)(_results(gray))
    packed = PackSegInputs(meta_keys=('img_path', 'ori_shape', 'img_shape',
                                      'sop_box'))(out)
    assert tuple(packed['inputs'].shape) == (6, 60, 80)
    sample = packed['data_samples']
    assert tuple(sample.gt_sem_seg.data.shape) == (1, 60, 80)
    assert sample.metainfo['sop_box'] == out['sop_box']


def test_registered_under_both_names_and_bad_input():
    from mmseg.registry import TRANSFORMS
    assert TRANSFORMS.get('RandomSubimageOverlap') is SubimageOverlap
    assert TRANSFORMS.get('SubimageOverlap') is SubimageOverlap
    with pytest.raises(ValueError, match='tile_000.jpg'):
        SubimageOverlap()(_results(np.zeros((10, 10, 4), np.uint8)))
    with pytest.raises(ValueError, match='scale'):
        SubimageOverlap(scale=(0.6, 0.5))
    with pytest.raises(ValueError, match='unknown photometric'):
        SubimageOverlap(photometric=dict(brightnes=0.2))
