"""tools/browse_pipeline.py writes the RoI-crop and proposal PNGs."""
import os
import os.path as osp
import sys

import cv2
import numpy as np

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))), 'tools'))
import browse_pipeline  # noqa: E402


def test_roi_crops_and_proposals_pngs(demo_data, tmp_path, capsys):
    out = str(tmp_path / 'browse')
    msip = osp.join(demo_data, 'msip')
    assert browse_pipeline.main(['rois', '--msip', msip, '--subsets', 'aerial',
                                 '--num', '2', '--crops', '3', '--out', out]) == 0
    pngs = sorted(os.listdir(out))
    assert pngs == ['aerial_thermal_0000000_roi_crops.png',
                    'aerial_thermal_0000003_roi_crops.png']
    src = cv2.imread(osp.join(msip, 'aerial/thermal/0000000.jpg'))
    canvas = cv2.imread(osp.join(out, pngs[0]))
    h, w = src.shape[:2]
    assert canvas.shape[0] == h + 96 + 8 and canvas.shape[1] >= w
    # RoIs are drawn in green on top of the (grey) image
    assert (np.abs(canvas[:h, :w].astype(int) - src.astype(int)).sum(axis=2) > 0).any()
    assert 'crops: 6' in capsys.readouterr().out
    flir = osp.join(demo_data, 'flir/val')
    assert browse_pipeline.main(['proposals', '--img-dir', flir, '--num', '1',
                                 '--out', out]) == 0
    assert 'thermal_8_bit_FLIR_00001_proposals.png' in os.listdir(out)
