"""`make demo` as the README tells a newcomer to run it: the default setting, every
stage through the real tools, a report with every method's numbers and pictures; a
stage that fails does not stop the others, and the demo says so and exits non-zero.
"""
import json
import os.path as osp
import shutil

import pytest

from mmpad_test_utils import run_tool

STAGES = ['data', 'rois', 'pad_pretrain', 'pad_convert', 'pad_det', 'pad_seg',
          'aligndet', 'sop', 'params', 'pictures']


@pytest.mark.timeout(0)  # the demo run has its own hang limit (conftest.py)
def test_make_demo_runs_every_stage(demo_run):
    """What `make demo` runs (tools/demo.py without options) finishes, exit 0."""
    proc, state, work = demo_run['proc'], demo_run['state'], demo_run['work']
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert 'report:' in proc.stdout and 'demo finished in' in proc.stdout
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
    for expected in ('mae_reconstructions', 'sop_masks', 'loss_curves', 'summary',
                     'roi_crops', 'proposals'):
        assert expected in names, names
    # every training run the demo made is recorded (the robustness test replays them)
    runs = [r for s in STAGES for r in state[s].get('runs', [])]
    assert len(runs) == 12, [r['name'] for r in runs]

    # the report lists every stage, its time, its metrics and the pictures
    report = open(work / 'report.md').read()
    assert 'Total time: **' in report
    for stage in STAGES:
        assert f'| {stage} |' in report
    for stage in ('pad_det', 'pad_seg', 'aligndet', 'sop'):
        assert state[stage]['metrics']
        for key, value in state[stage]['metrics'].items():
            assert str(value) in report, (stage, key)
    assert '1,226,496' in report
    assert '## Failures' not in report
    assert report.count('![') == len(state['pictures']['pictures'])


@pytest.mark.timeout(0)
def test_make_demo_second_run_skips_finished_stages(demo_run):
    proc = run_tool(['tools/demo.py', '--work-dir', str(demo_run['work'])])
    assert proc.stdout.count('done earlier, skipped') == len(STAGES)


def _broken_flir_data(tmp_path) -> str:
    """Generated data whose FLIR annotation file is cut off mid-way, as an
    interrupted copy leaves it."""
    root = str(tmp_path / 'data')
    run_tool(['tools/generate_demo_data.py', root, '--preset', 'tiny'])
    ann = osp.join(root, 'flir', 'train', 'thermal_annotations.json')
    text = open(ann).read()
    with open(ann, 'w') as f:
        f.write(text[:len(text) // 2])
    return root


def test_failed_stage_does_not_stop_the_demo(tmp_path):
    """AlignDet's data is broken: its stage fails with the error line and its log;
    a stage whose input was not made is skipped with the reason; the independent
    stage runs; the report shows both; the exit code is non-zero. A rerun retries
    the failed stage and not the finished one."""
    data = _broken_flir_data(tmp_path)
    work = tmp_path / 'demo'
    args = ['tools/demo.py', '--quick', '--data-root', data, '--work-dir', str(work),
            '--stages', 'data,pad_convert,aligndet,params']
    proc = run_tool(args, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    state = json.load(open(work / 'stages.json'))
    assert state['data']['status'] == 'done'
    assert state['params']['status'] == 'done'  # after the failed stage
    assert state['pad_convert']['status'] == 'skipped'
    assert 'needs stage pad_pretrain (not run)' in state['pad_convert']['error']
    failed = state['aligndet']
    assert failed['status'] == 'failed'
    assert osp.isfile(failed['log'])
    assert 'thermal_annotations.json' in failed['error'], failed['error']
    assert 'FAILED' in proc.stderr and failed['log'] in proc.stderr
    assert 'not done (pad_convert, aligndet)' in proc.stderr

    report = open(work / 'report.md').read()
    assert '## Failures' in report
    assert '| aligndet | failed |' in report and '| pad_convert | skipped |' in report
    assert osp.relpath(failed['log'], work) in report
    assert '**failed**' in report and 'Total time: **' in report

    # rerun: the failed stage is tried again, the finished ones are not
    proc = run_tool(args, check=False)
    assert proc.returncode == 1
    assert 'aligndet: done earlier' not in proc.stdout
    assert 'params: done earlier, skipped' in proc.stdout
    assert 'data: done earlier, skipped' in proc.stdout

    # with the data repaired, the same command finishes the failed stage
    shutil.rmtree(data)
    run_tool(['tools/generate_demo_data.py', data, '--preset', 'tiny'])
    proc = run_tool(args[:-1] + ['data,aligndet,params'])
    assert proc.returncode == 0
    state = json.load(open(work / 'stages.json'))
    assert state['aligndet']['status'] == 'done' and state['aligndet']['metrics']


def test_error_line_picks_the_reason():
    from tools import demo
    lines = ['Iter(train) [10/40] loss: 1.2\n', 'Traceback (most recent call last):\n',
             '  File "x.py", line 3\n',
             'mmpad.engine.hooks.NonFiniteLossError: iteration 37: loss=nan\n', '\n']
    assert demo.error_line(lines).startswith('mmpad.engine.hooks.NonFiniteLossError')
    assert demo.error_line(['all good\n', 'last words\n']) == 'last words'
    assert demo.error_line([]) == '(no output)'
