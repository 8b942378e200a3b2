"""`make demo` at its smallest setting: every stage runs through the real tools and
produces its output, and the report lists every stage's metrics and pictures."""
import json
import os.path as osp

from mmpad_test_utils import run_tool

STAGES = ['data', 'rois', 'pad_pretrain', 'pad_convert', 'pad_det', 'pad_seg',
          'aligndet', 'sop', 'params', 'pictures']


def test_demo_quick_runs_every_stage(tmp_path):
    work = tmp_path / 'demo'
    proc = run_tool(['tools/demo.py', '--quick', '--work-dir', str(work)],
                    timeout=1800)
    assert 'report:' in proc.stdout
    state = json.load(open(work / 'stages.json'))
    assert [s for s in STAGES if state.get(s, {}).get('status') != 'done'] == []

    # outputs of the stages
    assert osp.isdir(work / 'data' / 'msip')
    assert list((work / 'data' / 'msip').glob('*/roi/*.txt'))
    assert osp.isfile(state['pad_pretrain']['checkpoints']['pad'])
    for path in state['pad_convert']['checkpoints'].values():
        assert osp.isfile(path)
    assert osp.isfile(state['aligndet']['proposals'])
    assert osp.isfile(state['sop']['checkpoint'])
    pad_params = state['params']['params']['(d) PAD-MAE ViT-B, r=64']
    assert pad_params['adapter'] == 1_226_496
    for pic in state['pictures']['pictures']:
        assert osp.isfile(pic) and pic.endswith('.png')
    names = ' '.join(osp.basename(p) for p in state['pictures']['pictures'])
    for expected in ('mae_reconstructions', 'sop_masks', 'loss_curves', 'summary'):
        assert expected in names

    # the report lists every stage, its metrics and the pictures
    report = open(work / 'report.md').read()
    for stage in STAGES:
        assert f'| {stage} |' in report
    for stage in ('pad_det', 'pad_seg', 'aligndet', 'sop'):
        for key, value in state[stage]['metrics'].items():
            assert str(value) in report, (stage, key)
    assert '1,226,496' in report
    assert report.count('![') == len(state['pictures']['pictures'])

    # a second run skips every finished stage
    proc = run_tool(['tools/demo.py', '--quick', '--work-dir', str(work)])
    assert proc.stdout.count('done earlier, skipped') == len(STAGES)
