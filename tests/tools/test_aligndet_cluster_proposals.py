"""tools/aligndet_cluster_proposals.py: RoI features -> PCA -> k-means cluster ids
for DETR pre-training, end to end (the PCA and k-means functions themselves:
tests/aligndet/test_clustering.py)."""
import json
import os.path as osp

from mmengine.config import Config

from mmpad_test_utils import gt_boxes_as_proposals
from tools import aligndet_cluster_proposals as clustering

TINY_BACKBONE = dict(
    type='ResNet', depth=18, base_channels=8, num_stages=4, out_indices=(3, ),
    frozen_stages=4, norm_cfg=dict(type='BN', requires_grad=False),
    norm_eval=True, style='pytorch', init_cfg=None)


def test_cluster_ids_written_as_classes(demo_data, tmp_path, capsys):
    src = str(tmp_path / 'proposals.json')
    original = gt_boxes_as_proposals(demo_data, src)
    cfg = str(tmp_path / 'backbone.py')
    Config(dict(model=dict(backbone=TINY_BACKBONE))).dump(cfg)
    outs = []
    for run in range(2):
        out = str(tmp_path / f'clusters{run}.json')
        assert clustering.main([
            src, '--img-dir', osp.join(demo_data, 'flir/train'), '--out', out,
            '--config', cfg, '--scale', '320', '256', '--pca-dim', '8',
            '--clusters', '4', '--seed', '0']) == 0
        outs.append(json.load(open(out)))
    data = outs[0]
    assert [c['name'] for c in data['categories']] == [
        f'cluster_{i}' for i in range(1, 5)]
    assert len(data['annotations']) == len(original['annotations'])
    ids = [a['category_id'] for a in data['annotations']]
    assert set(ids) == {1, 2, 3, 4}
    assert [a['bbox'] for a in data['annotations']] == \
        [a['bbox'] for a in original['annotations']]
    assert data['info']['clusters']['pca_dim'] == 8
    assert ids == [a['category_id'] for a in outs[1]['annotations']]  # seeded
    assert 'k-means: 4 clusters' in capsys.readouterr().out


def test_bad_inputs_fail_with_the_file_name(demo_data, tmp_path, capsys):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    assert clustering.main([str(bad), '--img-dir', '.', '--out', 'x.json']) == 2
    assert 'bad.json' in capsys.readouterr().err
    empty = tmp_path / 'empty.json'
    empty.write_text(json.dumps(dict(images=[], annotations=[])))
    assert clustering.main([str(empty), '--img-dir', '.', '--out', 'x.json']) == 2
    assert 'no proposals' in capsys.readouterr().err
    missing = tmp_path / 'missing.json'
    missing.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='nope.jpg', height=10, width=10)],
        annotations=[dict(id=1, image_id=1, bbox=[0, 0, 5, 5], category_id=1)])))
    cfg = str(tmp_path / 'backbone.py')
    Config(dict(model=dict(backbone=TINY_BACKBONE))).dump(cfg)
    assert clustering.main([str(missing), '--img-dir', str(tmp_path), '--out',
                            str(tmp_path / 'o.json'), '--config', cfg]) == 2
    assert 'nope.jpg' in capsys.readouterr().err
