"""tools/train.py as a user on a CPU machine meets it: ``--amp`` (fp16 AMP needs a
GPU) is one error line, and ``--help`` says so; the example configs named in the
tools' docstrings and help texts exist."""
import glob
import os.path as osp
import re

import pytest
import torch

from mmpad_test_utils import REPO, load_module, run_tool

DEMO = 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py'


def _train_tool():
    return load_module('tools/train.py')


@pytest.mark.skipif(torch.cuda.is_available(), reason='about CPU-only machines')
def test_amp_on_cpu_is_one_clear_error(demo_data, tmp_path):
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', DEMO, '--amp', '--work-dir', str(work)],
                    data_root=demo_data, check=False, timeout=300,
                    hang_note='measured: about 10 s')
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert '--amp' in proc.stderr and 'needs a GPU' in proc.stderr
    assert 'Traceback' not in proc.stderr and 'AssertionError' not in proc.stderr
    assert not work.exists() or not any(work.iterdir())  # nothing was built


@pytest.mark.skipif(torch.cuda.is_available(), reason='about CPU-only machines')
def test_amp_config_on_cpu_names_the_field_and_the_way_out(demo_data):
    train = _train_tool()
    args = train.parse_args([osp.join(
        REPO, 'configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py')])
    cfg = train.build_cfg(args)
    problem = train.amp_device_problem(args, cfg)
    assert problem.startswith('optim_wrapper.type') and 'needs a GPU' in problem
    assert 'optim_wrapper.type=OptimWrapper' in problem
    # control: the demo (fp32 OptimWrapper) is not refused; with --amp it is
    demo = train.parse_args([osp.join(REPO, DEMO)])
    assert train.amp_device_problem(demo, train.build_cfg(demo)) is None
    demo_amp = train.parse_args([osp.join(REPO, DEMO), '--amp'])
    assert train.amp_device_problem(demo_amp, train.build_cfg(demo_amp))


def test_help_says_amp_needs_a_gpu():
    proc = run_tool(['tools/train.py', '--help'], timeout=120)
    text = ' '.join(proc.stdout.split())
    assert '--amp' in text and 'needs a GPU' in text


def test_configs_named_by_the_tools_exist():
    """Every ``configs/...py`` path in the tools' docstrings, help texts and
    launch scripts is a config of this repository."""
    missing = []
    for path in glob.glob(osp.join(REPO, 'tools', '*.py')) + glob.glob(
            osp.join(REPO, 'tools', '*.sh')):
        for ref in re.findall(r'configs/[\w./@-]+?\.py', open(path).read()):
            if not osp.isfile(osp.join(REPO, ref)):
                missing.append(f'{osp.basename(path)}: {ref}')
    assert missing == []
