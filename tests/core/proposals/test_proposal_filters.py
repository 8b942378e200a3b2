"""PAD and AlignDet (SoCo) proposal filters on hand-made boxes."""
import numpy as np

from mmpad.core.proposals import (generate_proposals, nms_in_order, pad_roi_filter,
                             soco_filter, unique_rows)
from mmpad.core.proposals.roi_file import parse_roi_text, read_roi_file, write_roi_file


def test_pad_filter_boundaries():
    rects = np.array([
        [0, 0, 40, 40],     # kept: exactly 40 x 40
        [0, 0, 39, 80],     # w < 40
        [0, 0, 80, 39],     # h < 40
        [0, 0, 120, 40],    # aspect exactly 3: kept
        [0, 0, 121, 40],    # aspect > 3
        [0, 0, 40, 121],    # aspect > 3 (tall)
        [0, 0, 50, 50],     # kept only if its region has >= 600 pixels
    ])
    sizes = np.array([600, 5000, 5000, 5000, 5000, 5000, 599])
    keep = pad_roi_filter(rects, sizes)
    assert keep.tolist() == [True, False, False, True, False, False, False]


def test_soco_filter_boundaries():
    shape = (100, 100)          # sqrt(W*H) = 100 -> max side sqrt(w*h) = 80
    rects = np.array([
        [0, 0, 32, 32],     # kept
        [0, 0, 31, 40],     # w < 32
        [0, 0, 96, 32],     # ratio exactly 3: kept
        [0, 0, 97, 32],     # ratio > 3
        [0, 0, 32, 97],     # ratio < 1/3
        [0, 0, 80, 80],     # sqrt-area ratio exactly 0.8: kept
        [0, 0, 81, 80],     # > 0.8
    ])
    assert soco_filter(rects, shape).tolist() == [True, False, True, False, False,
                                                  True, False]


def test_unique_rows_and_nms_keep_order():
    r = np.array([[5, 5, 10, 10], [0, 0, 10, 10], [5, 5, 10, 10], [1, 0, 10, 10],
                  [50, 50, 10, 10]])
    assert unique_rows(r).tolist() == [[5, 5, 10, 10], [0, 0, 10, 10], [1, 0, 10, 10],
                                       [50, 50, 10, 10]]
    # IoU([0,0,10,10], [1,0,10,10]) = 90/110 > 0.5 -> the later one goes;
    # IoU([5,5..], [0,0..]) = 25/175 < 0.5 -> both stay
    assert nms_in_order(r, 0.5).tolist() == [[5, 5, 10, 10], [0, 0, 10, 10],
                                             [50, 50, 10, 10]]


def test_generate_proposals_presets(demo_data):
    import glob
    import cv2
    f = sorted(glob.glob(f'{demo_data}/flir/train/thermal_8_bit/*.jpeg'))[0]
    img = cv2.imread(f)
    h, w = img.shape[:2]
    pad = generate_proposals(img, 'pad')
    assert pad.dtype == np.int64 and pad.ndim == 2 and pad.shape[1] == 4
    assert len(pad) > 0
    assert (pad[:, 2:] >= 40).all()
    assert (np.maximum(pad[:, 2] / pad[:, 3], pad[:, 3] / pad[:, 2]) <= 3).all()
    assert len(unique_rows(pad)) == len(pad)
    assert (pad[:, 0] + pad[:, 2] < w).all() and (pad[:, 1] + pad[:, 3] < h).all()
    al = generate_proposals(img, 'aligndet')
    assert len(al) > 0 and soco_filter(al, img.shape).all()
    assert len(nms_in_order(al, 0.5)) == len(al)           # NMS 0.5 applied
    # deterministic, grayscale input accepted
    np.testing.assert_array_equal(generate_proposals(img[..., 0], 'pad'), pad)
    raw = generate_proposals(img, 'aligndet', nms_iou=None)
    assert len(raw) >= len(al)


def test_roi_file_roundtrip_and_bad_lines(tmp_path):
    p = str(tmp_path / 'roi' / '0000001.txt')
    write_roi_file(p, np.array([[1, 2, 40, 50], [0, 0, 60, 61]]))
    rois, problems = read_roi_file(p)
    assert rois.tolist() == [[1, 2, 40, 50], [0, 0, 60, 61]] and problems == []
    rois, problems = parse_roi_text('1,2,3,4\n\nfoo\n1,2,3\n5,6,-1,4\n7, 8, 9, 10\n',
                                    'x.txt')
    assert rois.tolist() == [[1, 2, 3, 4], [7, 8, 9, 10]]
    assert [m.split(':')[1] for m in problems] == ['3', '4', '5']
    assert all(m.startswith('x.txt:') for m in problems)
