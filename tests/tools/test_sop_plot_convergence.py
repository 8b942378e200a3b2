"""tools/plot_convergence.py: mIoU curves of twin runs from scalars.json."""
import json
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
import plot_convergence as pc  # noqa: E402


def _work_dir(root, name, curve):
    vis = root / name / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    rows = []
    for step, miou in curve:
        rows.append(dict(lr=0.01, loss=1.0, step=step - 1))   # a training line
        rows.append(dict(aAcc=80.0, mIoU=miou, mAcc=50.0, step=step))
    (vis / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
    return str(root / name)


def test_curves_summary_and_png(tmp_path, capsys):
    imnet = _work_dir(tmp_path, 'imnet', [(1000, 20.0), (2000, 30.0), (3000, 38.0),
                                          (4000, 40.0)])
    sop = _work_dir(tmp_path, 'sop', [(1000, 31.0), (2000, 39.0), (3000, 40.5),
                                      (4000, 41.0)])
    png = tmp_path / 'plots' / 'curve.png'
    rc = pc.main(['--run', f'ImageNet={imnet}', '--run', f'SOP={sop}',
                  '--out', str(png), '--at', '1500', '2000', '500'])
    assert rc == 0
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    out = capsys.readouterr().out
    # 95 % of ImageNet's final 40.0 = 38.0: ImageNet reaches it at 3000, SOP at 2000
    assert 'target: 95 % of ImageNet final = 38.00' in out
    assert 'ImageNet: final 40.00 at 4000' in out
    assert 'reaches target at 3000 (1.00x' in out
    assert 'SOP: final 41.00 at 4000' in out and 'reaches target at 2000 (0.67x' in out
    assert '@1500: 31.00, @2000: 39.00, @500: -' in out


def test_read_curve_and_helpers(tmp_path):
    path = tmp_path / 'scalars.json'
    path.write_text('{"mIoU": 10, "step": 100}\n\n{"mIoU": 12, "step": 50}\n'
                    '{"mIoU": 11, "step": 100}\n')
    curve = pc.read_curve(str(path))
    assert curve == [(50, 12.0), (100, 11.0)]  # sorted; last value of a step wins
    assert pc.value_at(curve, 75) == 12.0 and pc.value_at(curve, 10) is None
    assert pc.iters_to_reach(curve, 11.5) == 50 and pc.iters_to_reach(curve, 13) is None


def test_errors(tmp_path, capsys):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"mIoU": 1, "step": 1}\n{oops\n')
    assert pc.main(['--run', f'a={bad}', '--out', str(tmp_path / 'x.png')]) == 2
    assert 'bad.json:2: malformed JSON' in capsys.readouterr().err
    empty = tmp_path / 'train_only.json'
    empty.write_text('{"loss": 1, "step": 1}\n')
    assert pc.main(['--run', str(empty), '--out', str(tmp_path / 'x.png')]) == 2
    assert 'no "mIoU" entries' in capsys.readouterr().err
    assert pc.main(['--run', str(tmp_path), '--out', str(tmp_path / 'x.png')]) == 2
    assert 'no */vis_data/scalars.json' in capsys.readouterr().err
