"""ObjectSensitiveRandomRoICrop: the sampling statistics of the PAD authors' RoI crop."""
import hashlib
import json
import math
import os.path as osp

import numpy as np
import pytest

import mmpad  # noqa: F401  (registers the transform)
from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop

H, W = 256, 320


@pytest.fixture(autouse=True)
def _fresh_stats():
    ObjectSensitiveRandomRoICrop.reset_stats()
    np.random.seed(0)
    yield


def _draw(t, rois, n):
    return [t.roi_crop_params((H, W), np.asarray(rois)) for _ in range(n)]


def test_share_of_large_crops_and_crop_invariants():
    t = ObjectSensitiveRandomRoICrop()
    rois = [[10, 10, 100, 80], [150, 60, 120, 150], [0, 0, 319, 255], [40, 120, 60, 50]]
    n = 4000
    params = _draw(t, rois, n)
    share_large = t.stats['large_requested'] / n
    assert abs(share_large - 0.15) < 4 * math.sqrt(0.15 * 0.85 / n)
    accepted = [p for p in params if p is not None]
    assert len(accepted) > 0.9 * n
    for oh, ow, th, tw in accepted:
        assert ow >= 0 and oh >= 0
        assert ow + tw <= W - 1 and oh + th <= H - 1          # clipped to W-1 / H-1
        assert tw >= 60 and th >= 60
    # crops are jittered: many distinct boxes, sizes spread around the RoIs
    assert len(set(accepted)) > n // 4


def test_large_crops_cover_15_percent():
    t = ObjectSensitiveRandomRoICrop(large_crop_prob=1.0)
    params = _draw(t, [[10, 10, 100, 80], [150, 60, 120, 150]], 500)
    ok = [p for p in params if p is not None]
    assert ok and all(th * tw / (H * W) >= 0.15 for _, _, th, tw in ok)


def test_small_corner_roi_matches_hand_computation():
    """RoI (0, 0, 40, 40): w' = max(40*U(0.7,1.5), 60) = 60 always, and the crop
    survives clipping only if round(40*U(-.4,.4)) >= 10 in x and in y:
    p = ((0.4 - 0.2375) / 0.8)^2 per attempt; large crops (60x60 < 15 %) never
    succeed. Expected RoI-crop share = 0.85 * (1 - (1 - p)^20)."""
    t = ObjectSensitiveRandomRoICrop()
    n = 4000
    params = _draw(t, [[0, 0, 40, 40]], n)
    p = ((0.4 - 0.2375) / 0.8) ** 2
    expected = 0.85 * (1 - (1 - p) ** 20)
    share = sum(q is not None for q in params) / n
    assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / n)
    assert all(q == (q[0], q[1], 60, 60) for q in params if q is not None)


def test_rois_outside_or_small_are_never_used():
    t = ObjectSensitiveRandomRoICrop()
    bad = [[-1, 0, 80, 80], [300, 0, 40, 40], [0, 0, 39, 200], [10, 10, 200, 30]]
    assert all(p is None for p in _draw(t, bad, 50))


def test_no_rois_falls_back_to_random_resized_crop():
    t = ObjectSensitiveRandomRoICrop(size=32)
    img = np.zeros((H, W, 3), np.uint8)
    areas = []
    for _ in range(300):
        r = t.transform(dict(img=img.copy(), rois=np.zeros((0, 4))))
        assert r['roi_crop'] == 'fallback_no_roi' and r['img'].shape == (32, 32, 3)
        x1, y1, x2, y2 = r['crop_bbox']
        assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H
        areas.append((x2 - x1) * (y2 - y1) / (H * W))
    s = ObjectSensitiveRandomRoICrop.get_stats()
    assert s['fallback_rate'] == 1.0 and s['fallback_no_roi'] == 300
    # RandomResizedCrop(scale=(0.2, 1)): areas spread over [0.2, 1] (~0.6 mean)
    assert min(areas) >= 0.2 - 0.02 and 0.45 < np.mean(areas) < 0.75


def test_not_random_uses_the_roi_itself():
    t = ObjectSensitiveRandomRoICrop(random=False)
    assert _draw(t, [[30, 40, 50, 60]], 3) == [(40, 30, 60, 50)] * 3


def test_p_alias_and_output(tmp_path):
    from mmpretrain.registry import TRANSFORMS
    t = TRANSFORMS.build(dict(type='mmpretrain.ObjectSensitiveRandomRoICrop',
                              size=64, p=0.85))
    assert math.isclose(t.large_crop_prob, 0.15)
    img = np.random.randint(0, 255, (H, W, 3), np.uint8)
    r = t(dict(img=img, rois=np.array([[100, 80, 90, 90]])))
    assert r['img'].shape == (64, 64, 3) and r['img_shape'] == (64, 64)
    assert r['roi_crop'] == 'roi'
    x1, y1, x2, y2 = r['crop_bbox']
    assert 0 <= x1 < x2 <= W - 1 and 0 <= y1 < y2 <= H - 1


def test_roi_files_missing_empty_and_malformed_do_not_stop(tmp_path):
    t = ObjectSensitiveRandomRoICrop(size=32)
    img = np.zeros((H, W, 3), np.uint8)
    (tmp_path / 'empty.txt').write_text('')
    (tmp_path / 'bad.txt').write_text('10,10,100,100\nnot,a,box\n1,2,3\n')
    (tmp_path / 'binary.txt').write_bytes(b'\xff\xfe\x00\x81')
    r = t(dict(img=img.copy(), roi_path=str(tmp_path / 'missing.txt')))
    assert r['roi_crop'] == 'fallback_no_roi'
    r = t(dict(img=img.copy(), roi_path=str(tmp_path / 'empty.txt')))
    assert r['roi_crop'] == 'fallback_no_roi'
    r = t(dict(img=img.copy(), roi_path=str(tmp_path / 'binary.txt')))
    assert r['roi_crop'] == 'fallback_no_roi'
    kinds = {t(dict(img=img.copy(), roi_path=str(tmp_path / 'bad.txt')))['roi_crop']
             for _ in range(20)}
    assert 'roi' in kinds                      # the good line is used
    s = ObjectSensitiveRandomRoICrop.get_stats()
    assert s['missing_roi_file'] == 1 and s['empty_roi_file'] == 1
    assert s['unreadable_roi_file'] == 1 and s['bad_roi_lines'] == 2 * 20


def test_gray_fast_resize_gives_the_same_pixels():
    import mmcv
    rng = np.random.default_rng(0)
    for backend in ('pillow', 'cv2'):
        t = ObjectSensitiveRandomRoICrop(size=(100, 120), backend=backend)
        for shape in ((37, 53), (300, 250)):
            g = rng.integers(0, 256, shape).astype(np.uint8)
            img = np.repeat(g[..., None], 3, 2)
            ref = mmcv.imresize(img, (120, 100), interpolation='bicubic',
                                backend=backend)
            np.testing.assert_array_equal(t._resize(img), ref)
        colour = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
        np.testing.assert_array_equal(
            t._resize(colour), mmcv.imresize(colour, (120, 100),
                                             interpolation='bicubic', backend=backend))


# ------------------------------------------------ outputs recorded before the rework
# tests/pad/fixtures/roi_crop_reference.json holds the crops of the version before the
# gray / lazy-decode paths existed (3-channel images only), for the random stream
# below: regenerate it only from that version (``python tests/pad/test_roi_crop.py``
# with it first on PYTHONPATH), never from the code under test.
REFERENCE = osp.join(osp.dirname(__file__), 'fixtures', 'roi_crop_reference.json')


def _reference_inputs():
    """Gray images as 3 equal channels (two sizes), one colour image, RoIs with
    valid, outside and too-small boxes, and samples without RoIs."""
    rng = np.random.default_rng(1234)
    grays = [rng.integers(0, 256, (256, 320), dtype=np.uint8),
             rng.integers(0, 256, (512, 640), dtype=np.uint8)]
    colour = rng.integers(0, 256, (256, 320, 3), dtype=np.uint8)
    rois = [rng.integers(0, 200, (12, 4)) + [0, 0, 30, 30],
            np.concatenate([rng.integers(0, 400, (12, 4)) + [0, 0, 40, 40],
                            [[-5, 0, 100, 100], [600, 500, 100, 100]]]),
            np.zeros((0, 4), np.int64),
            np.array([[-5, 0, 100, 100], [10, 10, 20, 200]])]  # every draw rejected
    return grays, colour, rois


def _reference_calls(n: int = 48):
    """(input image, rois, gray index or None) of each call, in order."""
    grays, colour, rois = _reference_inputs()
    calls = []
    for k in range(n):
        g = k % 3
        if g < 2:
            which = 2 if k % 4 == 0 else 3 if k % 5 == 0 else g
            calls.append((np.repeat(grays[g][..., None], 3, 2), rois[which], g))
        else:
            calls.append((colour, rois[0], None))
    return calls


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _record(crop_cls, size=(96, 112)) -> list:
    out = []
    t = crop_cls(size=size)
    np.random.seed(7)
    for img, rois, _ in _reference_calls():
        r = t.transform(dict(img=img, rois=rois))
        out.append(dict(kind=r['roi_crop'], bbox=[int(v) for v in r['crop_bbox']],
                        shape=list(r['img'].shape), sha256=_sha(r['img'])))
    return out


def test_crops_identical_to_the_recorded_version():
    with open(REFERENCE) as f:
        ref = json.load(f)
    assert len({r['kind'] for r in ref}) == 3           # roi, both fallbacks covered
    assert _record(ObjectSensitiveRandomRoICrop) == ref


def test_gray_2d_crops_equal_channel_0_of_the_recorded_3_channel_crops():
    """The same random stream on the same gray images given as one channel: the
    same boxes, and pixels equal to a channel of the 3-channel crop."""
    with open(REFERENCE) as f:
        ref = json.load(f)
    t = ObjectSensitiveRandomRoICrop(size=(96, 112))
    np.random.seed(7)
    n_gray = 0
    for (img, rois, g), want in zip(_reference_calls(), ref):
        one = np.ascontiguousarray(img[..., 0]) if g is not None else img
        r = t.transform(dict(img=one, rois=rois))
        assert [int(v) for v in r['crop_bbox']] == want['bbox']
        if g is not None:
            n_gray += 1
            assert r['img'].shape == (96, 112)
            assert _sha(np.repeat(r['img'][..., None], 3, 2)) == want['sha256']
    assert n_gray == 32


def test_recorded_reference_detects_a_changed_resize():
    """Control: a resize with another filter does not match the recording."""
    import mmcv

    class Bilinear(ObjectSensitiveRandomRoICrop):
        def _resize(self, crop):
            return mmcv.imresize(crop, tuple(self.scale[::-1]),
                                 interpolation='bilinear', backend=self.backend)
    with open(REFERENCE) as f:
        ref = json.load(f)
    got = _record(Bilinear)
    assert [g['bbox'] for g in got] == [r['bbox'] for r in ref]
    assert all(g['sha256'] != r['sha256'] for g, r in zip(got, ref))


def test_in_place_gray_resize_gives_the_pixels_of_the_copied_crop():
    """The 2-D path hands Pillow the image rows in place; same pixels as resizing
    the copied crop, at the image's edges too (the last rows fall back)."""
    import mmcv
    t = ObjectSensitiveRandomRoICrop(size=(50, 70))
    img = np.random.default_rng(5).integers(0, 256, (H, W), dtype=np.uint8)
    for oh, ow, th, tw in [(0, 0, 60, 60), (10, 250, 100, 70), (H - 61, 3, 60, 90),
                           (0, 0, H - 1, W), (H - 60, W - 60, 60, 60)]:
        want = mmcv.imresize(np.ascontiguousarray(img[oh:oh + th, ow:ow + tw]),
                             (70, 50), interpolation='bicubic', backend='pillow')
        got = t._resize_gray_region(img, (oh, ow, th, tw))
        if oh + th == H and ow > 0:
            assert got is None                        # would map past the buffer
        else:
            np.testing.assert_array_equal(got, want)
    assert t._resize_gray_region(img[:, ::2], (0, 0, 60, 60)) is None


def test_device_resize_mode_returns_the_unresized_crop():
    t = ObjectSensitiveRandomRoICrop(size=64, resize='device')
    img = np.random.randint(0, 255, (H, W), np.uint8)
    r = t(dict(img=img, rois=np.array([[100, 80, 90, 90]])))
    x1, y1, x2, y2 = r['crop_bbox']
    np.testing.assert_array_equal(r['img'], img[y1:y2, x1:x2])
    assert r['img_shape'] == (y2 - y1, x2 - x1)


def test_bad_new_options_name_the_field():
    from mmpad.core.arg_check import InvalidArgumentError
    with pytest.raises(InvalidArgumentError, match='reduced_decode'):
        ObjectSensitiveRandomRoICrop(reduced_decode=3)
    with pytest.raises(InvalidArgumentError, match='resize'):
        ObjectSensitiveRandomRoICrop(resize='gpu')
    with pytest.raises(KeyError, match='img_lazy'):
        ObjectSensitiveRandomRoICrop()(dict(rois=np.zeros((0, 4))))


if __name__ == '__main__':  # write the reference (only from the version before)
    import os
    os.makedirs(osp.dirname(REFERENCE), exist_ok=True)
    with open(REFERENCE, 'w') as f:
        f.write('[\n' + ',\n'.join(json.dumps(r) for r in
                                   _record(ObjectSensitiveRandomRoICrop)) + '\n]\n')
    print('wrote', REFERENCE)
