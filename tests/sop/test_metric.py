"""SOPIoUMetric: foreground IoU over a data set, by hand."""
import pytest
import torch

import mmpad  # noqa: F401
from mmpad.sop.metric import SOPIoUMetric, foreground_counts


def _sample(pred, gt):
    return dict(pred_sem_seg=dict(data=torch.tensor(pred)[None]),
                gt_sem_seg=dict(data=torch.tensor(gt)[None]), img_path='x.jpg')


def test_counts_by_hand():
    pred = torch.tensor([[1, 1, 0], [0, 1, 255]])
    gt = torch.tensor([[1, 0, 0], [1, 1, 255]])
    assert foreground_counts(pred, gt) == (2, 4, 3, 3)
    # an ignored target pixel does not count even if predicted
    assert foreground_counts(torch.ones(1, 2), torch.tensor([[1, 255]])) == (1, 1, 1, 1)


def test_metric_aggregates_over_images():
    m = SOPIoUMetric()
    m.dataset_meta = dict(classes=('background', 'subimage'))
    m.process({}, [_sample([[1, 1], [0, 0]], [[1, 0], [0, 0]]),     # I=1 U=2
                   _sample([[1, 1], [1, 1]], [[1, 1], [1, 0]]),     # I=3 U=4
                   _sample([[0, 0], [0, 0]], [[0, 0], [0, 0]])])    # empty: IoU 1
    res = m.evaluate(3)
    assert res['sop/IoU'] == pytest.approx(100 * 4 / 6, abs=0.01)
    assert res['sop/mIoU_img'] == pytest.approx(100 * (0.5 + 0.75 + 1) / 3, abs=0.01)
    assert res['sop/precision'] == pytest.approx(100 * 4 / 6, abs=0.01)
    assert res['sop/recall'] == pytest.approx(100 * 4 / 4, abs=0.01)


def test_shape_mismatch_is_reported():
    m = SOPIoUMetric()
    with pytest.raises(ValueError, match='x.jpg'):
        m.process({}, [_sample([[1, 1]], [[1], [0]])])
