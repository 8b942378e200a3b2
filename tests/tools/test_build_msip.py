"""tools/build_msip.py on a miniature fake source tree: every extraction rule."""
import filecmp
import os
import os.path as osp
import sys

import cv2
import numpy as np

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))), 'tools'))
import build_msip  # noqa: E402


def _img(path, value=100, shape=(8, 8)):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.full(shape, value, np.uint8))


def _fake_sources(root):
    s = {}
    s['dronevehicle'] = d = osp.join(root, 'DroneVehicle/train/trainimgr')
    for n in ('00003.jpg', '00001.jpg', '00002.jpg'):
        _img(osp.join(d, n), 150, (220, 230))
    s['scut_fir_pedestrian'] = d = osp.join(root, 'SCUT/videos')
    for f in range(1, 26):
        _img(osp.join(d, 'set00/V000', f'{f}.jpg'), 30 + f)
    for f in range(1, 13):                     # frame 11 is dark -> dropped
        _img(osp.join(d, 'set01/V001', f'{f}.jpg'), 10 if f == 11 else 60 + f)
    s['llvip'] = d = osp.join(root, 'LLVIP/infrared/train')
    for f in range(3):
        _img(osp.join(d, f'19000{f}.jpg'), 90 + f)
    s['aerial'] = d = osp.join(root, 'aerial')
    for f in range(5):
        _img(osp.join(d, f'{f}.jpg'), 120 + f)
    s['ship'] = d = osp.join(root, 'ship')
    _img(osp.join(d, 'a/1.jpg'))
    _img(osp.join(d, 'a/2.png'))
    _img(osp.join(d, 'b/1.jpg'))
    s['security'] = d = osp.join(root, 'security')
    _img(osp.join(d, 'x.jpg'))
    _img(osp.join(d, 'y.bmp'))
    s['lsotb_tir'] = d = osp.join(root, 'LSOTB/TrainingData')
    for f in range(1, 22):                     # unpadded names: numeric order matters
        _img(osp.join(d, 'TIR_001/seqA', f'{f}.jpg'), 40 + f)
    s['lasher'] = d = osp.join(root, 'LasHeR/trainingset')
    for f in range(1, 12):
        _img(osp.join(d, 'seq1/infrared', f'i{f}.jpg'), 50 + f)
        _img(osp.join(d, 'seq1/visible', f'v{f}.jpg'), 50 + f)
    return s


def test_build_counts_per_rule_resume_and_validate(tmp_path, capsys):
    src = _fake_sources(str(tmp_path / 'src'))
    out = str(tmp_path / 'MSIP')
    argv = ['--out', out, '--workers', '1'] + \
        [a for k, v in src.items() for a in ('--source', f'{k}={v}')]
    assert build_msip.main(argv) == 0
    expected = dict(dronevehicle=3, scut_fir_pedestrian=4, llvip=3, aerial=3, ship=3,
                    security=2, lsotb_tir=3, lasher=2)
    for name, n in expected.items():
        files = sorted(os.listdir(osp.join(out, name, 'thermal')))
        assert len(files) == n, name
    text = capsys.readouterr().out
    assert 'total' in text and str(sum(expected.values())) in text
    # DroneVehicle: original names, 100-px border cropped
    assert sorted(os.listdir(osp.join(out, 'dronevehicle/thermal'))) == \
        ['00001.jpg', '00002.jpg', '00003.jpg']
    assert cv2.imread(osp.join(out, 'dronevehicle/thermal/00001.jpg'), 0).shape == \
        (20, 30)

    def same(subset, idx, source):
        return filecmp.cmp(osp.join(out, subset, 'thermal', f'{idx:07d}' +
                                    osp.splitext(source)[1].lower()), source,
                           shallow=False)
    # every 10th frame in numeric order, dark frame dropped, ids 0000000...
    scut = src['scut_fir_pedestrian']
    picks = [f'{scut}/set00/V000/1.jpg', f'{scut}/set00/V000/11.jpg',
             f'{scut}/set00/V000/21.jpg', f'{scut}/set01/V001/1.jpg']
    assert all(same('scut_fir_pedestrian', i, p) for i, p in enumerate(picks))
    ls = src['lsotb_tir']
    assert [same('lsotb_tir', i, f'{ls}/TIR_001/seqA/{f}.jpg')
            for i, f in enumerate((1, 11, 21))] == [True] * 3
    la = src['lasher']
    assert same('lasher', 1, f'{la}/seq1/infrared/i11.jpg')
    assert same('aerial', 2, f'{src["aerial"]}/4.jpg')
    assert same('ship', 1, f'{src["ship"]}/a/2.png')          # keeps .png
    # resume: a second run writes nothing new
    assert build_msip.main(argv) == 0
    text = capsys.readouterr().out
    row = [ln for ln in text.splitlines() if ln.startswith('lsotb_tir')][0]
    assert row.split()[-4:-1] == ['52925', '0', '3']            # written 0, existing 3
    # validation of the built tree (a RoI file with a bad line is reported)
    os.makedirs(osp.join(out, 'llvip/roi'))
    with open(osp.join(out, 'llvip/roi/0000000.txt'), 'w') as f:
        f.write('1,2,40,40\noops\n')
    assert build_msip.main(['--validate', out, '--check-images', '--workers', '1']) == 0
    text = capsys.readouterr().out
    assert '0000000.txt:2' in text and '0 error(s)' in text
    # a corrupt image fails validation, naming the file
    with open(osp.join(out, 'llvip/thermal/0000001.jpg'), 'wb') as f:
        f.write(b'broken')
    assert build_msip.main(['--validate', out, '--check-images', '--workers', '1']) == 1
    assert 'llvip/thermal/0000001.jpg' in capsys.readouterr().out


def test_bad_arguments(tmp_path, capsys):
    assert build_msip.main(['--out', str(tmp_path), '--source', 'nope=/x']) == 2
    assert 'unknown source' in capsys.readouterr().out
