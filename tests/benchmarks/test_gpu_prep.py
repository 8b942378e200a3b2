"""The GPU check kit (benchmarks/gpu/): the derived figures of bench_pad.py, the
summary of run_pad_gpu.sh's records, the scripts' syntax and, opt-in, the whole CPU
dry run (``run_pad_gpu.sh --tiny``) on the carried wheels."""
import importlib.util
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GPU = osp.join(REPO, 'benchmarks', 'gpu')


def _module(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def bench_pad():
    return _module(osp.join(REPO, 'benchmarks', 'bench_pad.py'), 'bench_pad_under_test')


@pytest.fixture(scope='module')
def summarize():
    return _module(osp.join(GPU, 'summarize.py'), 'gpu_summarize_under_test')


def _worker(mode: str, step_s: float, gflops: float, mem: float, batch: int = 512):
    return dict(arch='b', mode=mode, batch=batch, fb_s=step_s * 0.9, step_s=step_s,
                gflops=gflops, cuda_peak_mb=mem, optim_state_mb=1.0, trainable=1,
                total_params=2)


def test_throughput_and_mfu(bench_pad):
    # 512 images x 50 GFLOPs in 0.1 s: 5,120 images/s, 256 TFLOP/s, 256 / 790 MFU
    r = bench_pad.throughput(_worker('pad', 0.1, 512 * 50.0, 1.0))
    assert r['images_per_s'] == pytest.approx(5120)
    assert r['tflops'] == pytest.approx(256)
    assert r['mfu'] == pytest.approx(256 / 790)
    # control: the same FLOPs in twice the time halve the MFU
    assert bench_pad.throughput(_worker('pad', 0.2, 512 * 50.0, 1.0))['mfu'] == \
        pytest.approx(r['mfu'] / 2)


def test_pair_record_ratios(bench_pad):
    rec = bench_pad.pair_record(_worker('pad', 0.06, 600.0, 30.0),
                                _worker('full', 0.10, 1000.0, 60.0))
    assert rec['flop_floor'] == pytest.approx(0.6)
    assert rec['step_ratio'] == pytest.approx(0.6)
    assert rec['step_vs_floor'] == pytest.approx(0.0, abs=1e-12)
    assert rec['cuda_mem_ratio'] == pytest.approx(0.5)
    assert 'mfu' in rec['pad'] and 'mfu' in rec['full']
    # control: a PAD step 10 % slower than its floor shows as +10 %
    slow = bench_pad.pair_record(_worker('pad', 0.066, 600.0, 30.0),
                                 _worker('full', 0.10, 1000.0, 60.0))
    assert slow['step_vs_floor'] == pytest.approx(0.10)


def _probe(path, losses, held, deltas, scales):
    os.makedirs(path, exist_ok=True)
    with open(osp.join(path, 'probe.jsonl'), 'w') as f:
        for i, (loss, h, d, s) in enumerate(zip(losses, held, deltas, scales)):
            f.write(json.dumps(dict(iter=i + 1, epoch=i // 2, loss=loss, loss_scale=s,
                                    scale_delta=d, scale_held=h)) + '\n')


def test_train_summary(summarize, tmp_path):
    good = tmp_path / 'train_fp16'
    _probe(str(good), [2.0, 1.8, 1.6, 1.4, 1.2, 1.0], [True] * 3 + [False] * 3,
           [0.0, 0.0, 0.0, 0.01, 0.02, 0.03], [65536.0] * 2 + [32768.0] * 4)
    (good / 'adapter_only_epoch_3.pth').write_bytes(b'x' * 10)
    s = summarize.train_summary(str(good))
    assert s['all_finite'] and s['loss_decreased'] and s['scale_frozen_then_learning']
    assert s['held_iters'] == 3 and s['released_iters'] == 3
    assert s['loss_scale_changes'] == [(1, 65536.0), (3, 32768.0)]
    assert s['adapter_checkpoints'] == {'adapter_only_epoch_3.pth': 10}
    # controls: a scale that moved while held, a loss that rose, a NaN
    bad = tmp_path / 'train_bad'
    _probe(str(bad), [1.0, 1.2, math.nan, 1.4, 1.6, 1.8], [True] * 3 + [False] * 3,
           [0.0, 0.5, 0.5, 0.6, 0.7, 0.8], [None] * 6)
    s = summarize.train_summary(str(bad))
    assert not s['all_finite']
    assert not s['scale_frozen_then_learning']
    assert s['adapter_checkpoints'] == {}
    rising = tmp_path / 'train_rising'
    _probe(str(rising), [1.0, 1.1, 1.2, 1.3, 1.4, 1.5], [False] * 6, [0.1] * 6,
           [None] * 6)
    s = summarize.train_summary(str(rising))
    assert not s['loss_decreased'] and not s['scale_frozen_then_learning']


def test_summary_files(summarize, bench_pad, tmp_path):
    work, out = tmp_path / 'work', tmp_path / 'out'
    work.mkdir()
    (work / 'steps.tsv').write_text('install\t0\t3\nbench_b512\t124\t200\n'
                                    'bench_l512\t125\t0\ndata\t1\t2\n')
    rec = bench_pad.pair_record(_worker('pad', 0.1, 512 * 50.0, 30.0),
                                _worker('full', 0.15, 512 * 80.0, 60.0))
    rec['pad']['max_batch'] = dict(fits=4096, oom_at=8192, cap=8192, error=None)
    rec['full']['max_batch'] = dict(fits=8192, oom_at=None, cap=8192, error=None)
    (work / 'bench_b512.json').write_text(json.dumps(dict(pairs=[rec])))
    _probe(str(work / 'train_fp16'), [2.0, 1.0], [True, False], [0.0, 0.1],
           [1.0, 1.0])
    summarize.main([str(work), str(out)])
    res = json.load(open(out / 'results.json'))
    assert res['best_pad_b']['images_per_s'] == pytest.approx(5120)
    assert [s['status'] for s in res['steps']] == ['ok', 'timed out', 'skipped',
                                                   'failed']
    md = (out / 'summary.md').read_text()
    assert 'MFU 32.4 %' in md and 'not met' in md
    assert '| 4096 |' in md and '| >= 8192 |' in md  # OOM at 8192 / the cap reached
    assert '- not measured' in md  # control: no loader.json, nothing invented
    (work / 'loader.json').write_text(json.dumps(dict(cpus=16, rows=[dict(
        workers=16, batch=256, images_per_s=3000.0)])))
    summarize.main([str(work), str(out)])
    assert 'starves the GPU' in (out / 'summary.md').read_text()


@pytest.mark.parametrize('script', ['build_wheels.sh', 'run_pad_gpu.sh'])
def test_script_syntax(script):
    proc = subprocess.run(['bash', '-n', osp.join(GPU, script)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_cpu_dry_run(tmp_path):
    """run_pad_gpu.sh --tiny on the carried wheels (every step at tiny sizes, about
    4 to 9 minutes on 2 cores); opt in with MMPAD_GPU_DRY_RUN=1."""
    wheels = osp.join(GPU, 'wheels')
    if not (osp.isdir(wheels) and any(f.endswith('.whl') for f in os.listdir(wheels))):
        pytest.skip('benchmarks/gpu/wheels is empty: run benchmarks/gpu/build_wheels.sh')
    if os.environ.get('MMPAD_GPU_DRY_RUN') != '1':
        pytest.skip('the CPU dry run takes minutes: set MMPAD_GPU_DRY_RUN=1')
    env = dict(os.environ, OUT=str(tmp_path / 'out'), WORK=str(tmp_path / 'work'),
               PY=os.environ.get('MMPAD_GPU_DRY_RUN_PY', sys.executable))
    proc = subprocess.run(['bash', osp.join(GPU, 'run_pad_gpu.sh'), '--tiny'], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.load(open(tmp_path / 'out' / 'results.json'))
    assert [s['step'] for s in res['steps'] if s['status'] != 'ok'] == []
    for run in ('train_fp16', 'train_bf16'):
        t = res['train'][run]
        assert t['all_finite'] and t['scale_frozen_then_learning']
        assert t['adapter_checkpoints']
