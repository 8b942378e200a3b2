"""Run mmpad tools in a subprocess the way a user does."""
import os
import subprocess
import sys
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run_tool(args: List[str], data_root: Optional[str] = None,
             env: Optional[Dict[str, str]] = None, timeout: int = 600,
             check: bool = True, hang_note: str = '') -> subprocess.CompletedProcess:
    """Run ``args`` (e.g. ``['tools/train.py', cfg]``) from the repo root with the
    venv's python; ``.py`` scripts are run with ``sys.executable``.

    ``timeout`` only catches hangs: set it far above the measured time (the tools the
    tests run take seconds to a few minutes) and say what was measured in
    ``hang_note``, which the failure message repeats."""
    full_env = dict(os.environ)
    full_env.setdefault('OMP_NUM_THREADS', '1')
    full_env['PYTHONUNBUFFERED'] = '1'
    full_env['PATH'] = BIN + os.pathsep + full_env.get('PATH', '')
    if data_root is not None:
        full_env['MMPAD_DATA_ROOT'] = data_root
    if env:
        full_env.update(env)
    cmd = list(args)
    if cmd[0].endswith('.py'):
        cmd = [sys.executable] + cmd
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else err.stdout
        raise AssertionError(
            f'{" ".join(cmd)} did not finish within {timeout} s, far above its '
            f'measured time: a hang? {hang_note}\n--- stdout so far ---\n'
            f'{(out or "")[-4000:]}') from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(cmd)} exited with {proc.returncode}\n'
            f'--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


def free_port() -> str:
    """A free TCP port for torchrun's rendezvous."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def selective_search_proposals(demo_data: str, out: str) -> str:
    """Selective-search proposals (AlignDet preset) for the FLIR demo train images,
    written by tools/generate_proposals.py as a COCO JSON at ``out``."""
    from tools.generate_proposals import main as generate_proposals
    train = os.path.join(demo_data, 'flir', 'train')
    assert generate_proposals([
        '--img-dir', train, '--ann-file',
        os.path.join(train, 'thermal_annotations.json'), '--preset', 'aligndet',
        '--out-json', out, '--workers', '1']) == 0
    return out


def gt_boxes_as_proposals(demo_data: str, out: str) -> dict:
    """The FLIR demo's ground-truth train boxes as one-category 'proposals' (no
    selective search needed); written to ``out``, returned as a dict."""
    import json
    with open(os.path.join(demo_data, 'flir', 'train',
                           'thermal_annotations.json')) as f:
        data = json.load(f)
    for ann in data['annotations']:
        ann['category_id'] = 1
    data['categories'] = [dict(id=1, name='selective_search')]
    with open(out, 'w') as f:
        json.dump(data, f)
    return data


def seeded_backbone(cls, adapter_cfg, **kwargs):
    """``cls(adapter_cfg=adapter_cfg, **kwargs)`` built and initialised under seed 0."""
    import torch
    torch.manual_seed(0)
    model = cls(adapter_cfg=adapter_cfg, **kwargs)
    model.init_weights()
    return model


def randomise_(module, std: float = 0.05) -> None:
    """Overwrite every parameter of ``module`` with N(0, std^2) draws, in place."""
    import torch
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, std)


def load_module(path: str, name: Optional[str] = None):
    """The module at ``path`` (relative to the repo, e.g. ``'tools/train.py'``),
    executed in this process: a tool's ``main`` called in-process saves the ~6 s
    import of the OpenMMLab stack a subprocess pays (the command lines themselves
    are tested through :func:`run_tool`)."""
    import importlib.util
    if name is None:
        name = 'mmpad_' + os.path.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
