"""tools/make_label_fraction_splits.py: nested, seeded label-fraction subsets."""
import math
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
import make_label_fraction_splits as splits  # noqa: E402


def test_subsets_are_nested_sized_and_seeded():
    names = [f'img_{i:04d}' for i in range(250)]
    fracs = (1, 5, 10, 25, 50, 100)
    a = splits.fraction_subsets(names, fracs, seed=0)
    assert [len(a[f]) for f in fracs] == [max(1, math.ceil(f * 2.5)) for f in fracs]
    for small, big in zip(fracs, fracs[1:]):
        assert set(a[small]) <= set(a[big])
    assert a[100] == sorted(names)
    assert splits.fraction_subsets(names, fracs, seed=0) == a
    b = splits.fraction_subsets(names, fracs, seed=1)
    assert b[10] != a[10] and len(b[10]) == len(a[10])
    assert len(splits.fraction_subsets(names[:3], [1], seed=0)[1]) == 1


def test_cli_on_generated_soda(demo_data, tmp_path, capsys):
    soda = osp.join(demo_data, 'soda')
    out = tmp_path / 'splits'
    train_list = osp.join(soda, 'ImageSets/Segmentation/train_infrared.txt')
    rc = splits.main([osp.join(soda, 'JPEGImages'), '--out-dir', str(out),
                      '--ann-file', train_list,
                      '--fractions', '25', '50', '100', '--seeds', '0', '1'])
    assert rc == 0
    assert '8 training images' in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f'train_{f}pct_seed{s}.txt' for f in (25, 50, 100) for s in (0, 1))
    lines = (out / 'train_25pct_seed0.txt').read_text().split()
    assert len(lines) == 2 and all(osp.isfile(osp.join(soda, 'JPEGImages', n + '.jpg'))
                                   for n in lines)
    # the split file is an mmseg ann_file
    from mmseg.datasets import BaseSegDataset
    ds = BaseSegDataset(data_root=soda, ann_file=str(out / 'train_50pct_seed1.txt'),
                        data_prefix=dict(img_path='JPEGImages',
                                         seg_map_path='SegmentationClass'),
                        metainfo=dict(classes=tuple(str(i) for i in range(21))))
    assert len(ds) == 4 and osp.isfile(ds.get_data_info(0)['seg_map_path'])


def test_cli_errors(tmp_path, capsys):
    assert splits.main([str(tmp_path / 'nope'), '--out-dir', str(tmp_path)]) == 2
    assert 'does not exist' in capsys.readouterr().err
    (tmp_path / 'imgs').mkdir()
    assert splits.main([str(tmp_path / 'imgs'), '--out-dir', str(tmp_path)]) == 2
    assert 'no images' in capsys.readouterr().err
