"""Crafted checkpoints (tests/core/checkpoint/checkpoint_attacks.py) are refused on every path
that loads a checkpoint, with one error naming the file and the refused global,
and their payload never runs; the real checkpoints still load.

Controls: under the allow-list mmpad had before (the real ``getattr``, numpy's
real ``_reconstruct`` / ``dtype``), the code chains *do* run their payload, and
plain ``torch.load(weights_only=False)`` runs the classic ``__reduce__`` ones, so
the marker checks can fail.
"""
import http.server
import logging
import os.path as osp
import threading

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

import mmpad  # noqa: F401  (installs the loader)
from mmpad.core.checkpoint.loading import (TRUST_ENV, UnsafeCheckpointError,
                                    torch_load_checked)
from mmpad_test_utils import load_module, run_tool
from tests.core.checkpoint.checkpoint_attacks import (CHAINS, CODE_CHAINS,
                                            old_allow_list, splice, toy_cfg,
                                            write_chain)
from tests.core.checkpoint import checkpoint_attacks

ALL = sorted(CHAINS)


@pytest.fixture(autouse=True)
def _untrusted(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


@pytest.fixture(scope='module')
def template(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('template') / 'template.pth')
    torch.save({'meta': {'epoch': 1, 'iter': 3, 'seed': 0},
                'state_dict': {'w': torch.ones(2)}}, path)
    return path


@pytest.fixture(scope='module')
def crafted(tmp_path_factory, template):
    """name -> (checkpoint path, marker path) for every chain."""
    d = tmp_path_factory.mktemp('crafted')
    out = {}
    for name in ALL:
        marker = str(d / f'PWNED_{name}')
        out[name] = (write_chain(name, template, str(d / f'{name}.pth'),
                                 marker), marker)
    return out


def _assert_refused(err, path, name):
    text = str(err)
    assert path in text, text
    assert CHAINS[name].refused in text, text
    assert TRUST_ENV in text and '\n' not in text


def _assert_no_payload(crafted, name=None):
    names = [name] if name else ALL
    ran = [n for n in names if osp.exists(crafted[n][1])]
    assert not ran, f'payload ran: {ran}'


# ------------------------------------------------------------------ controls
@pytest.mark.parametrize('name', CODE_CHAINS)
def test_control_the_chain_runs_code_without_the_mechanism(name, template,
                                                           tmp_path):
    marker = str(tmp_path / 'PWNED')
    path = write_chain(name, template, str(tmp_path / 'c.pth'), marker)
    if CHAINS[name].kind == 'object':
        torch.load(path, weights_only=False)
    else:
        with torch.serialization.safe_globals(old_allow_list()):
            torch.load(path, weights_only=True)
    assert osp.exists(marker)


def test_control_old_list_lets_a_checkpoint_rewrite_the_statistics(template,
                                                                   tmp_path):
    path = write_chain('statistics_table_pollution', template,
                       str(tmp_path / 'c.pth'), '')
    table = HistoryBuffer._statistics_methods
    saved = dict(table)
    try:
        with torch.serialization.safe_globals(old_allow_list()):
            torch.load(path, weights_only=True)
        assert table['mean'] is HistoryBuffer.max
    finally:
        table.clear()
        table.update(saved)


# ------------------------------------------------------------ refused on ...
@pytest.mark.parametrize('name', ALL)
def test_the_loader(name, crafted):
    path, _ = crafted[name]
    with pytest.raises(UnsafeCheckpointError) as err:
        torch_load_checked(path)
    _assert_refused(err.value, path, name)
    assert err.value.refused and CHAINS[name].refused in err.value.refused
    _assert_no_payload(crafted, name)
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean


@pytest.mark.parametrize('name', ALL)
def test_mmengine_checkpoint_loader(name, crafted):
    path, _ = crafted[name]
    for load in (CheckpointLoader.load_checkpoint, _load_checkpoint):
        with pytest.raises(UnsafeCheckpointError) as err:
            load(path, map_location='cpu')
        _assert_refused(err.value, path, name)
    _assert_no_payload(crafted, name)


@pytest.mark.parametrize('name', ALL)
def test_runner_load_from(name, crafted, tmp_path):
    from mmengine.registry import RUNNERS
    path, _ = crafted[name]
    runner = RUNNERS.build(toy_cfg(tmp_path, max_epochs=1, load_from=path))
    with pytest.raises(UnsafeCheckpointError) as err:
        runner.train()
    _assert_refused(err.value, path, name)
    assert runner.iter == 0
    _assert_no_payload(crafted, name)


@pytest.fixture(scope='module')
def real_epoch(tmp_path_factory):
    """A work dir with epoch_1.pth written by a real Runner."""
    from mmengine.registry import RUNNERS
    work = tmp_path_factory.mktemp('real')
    RUNNERS.build(toy_cfg(work, max_epochs=1)).train()
    return str(work / 'epoch_1.pth')


@pytest.mark.parametrize('name', [n for n in ALL if CHAINS[n].kind == 'ops'])
def test_resume_of_a_real_checkpoint_with_a_chain_spliced_in(
        name, real_epoch, tmp_path):
    """The chain spliced into a Runner's epoch_1.pth (still a valid file with
    valid checksums, the original content intact) in the work dir: auto-resume
    picks it and refuses it."""
    from mmengine.registry import RUNNERS
    work = tmp_path / 'work'
    work.mkdir()
    marker = str(tmp_path / 'PWNED')
    path = str(work / 'epoch_1.pth')
    splice(real_epoch, CHAINS[name].build(marker), path)
    (work / 'last_checkpoint').write_text(path)
    with pytest.raises(UnsafeCheckpointError) as err:
        runner = RUNNERS.build(toy_cfg(work, max_epochs=2, resume=True))
        runner.train()
    _assert_refused(err.value, path, name)
    assert not osp.exists(marker)


def test_spliced_real_checkpoint_is_otherwise_intact(real_epoch, tmp_path):
    """The splice keeps the file loadable under the old list (the control for
    the resume test above: there, the refusal is the only thing in the way)."""
    marker = str(tmp_path / 'PWNED')
    path = splice(real_epoch, CHAINS['hb_setstate_exec'].build(marker),
                  str(tmp_path / 'epoch_1.pth'))
    with torch.serialization.safe_globals(old_allow_list()):
        ckpt = torch.load(path, weights_only=True)
    assert ckpt['meta']['epoch'] == 1 and osp.exists(marker)


@pytest.mark.parametrize('name', ALL)
def test_init_cfg_pretrained_on_a_pad_backbone(name, crafted):
    pytest.importorskip('mmdet')
    path, _ = crafted[name]
    backbone = checkpoint_attacks.tiny_pad_backbone(path)
    with pytest.raises(UnsafeCheckpointError) as err:
        backbone.init_weights()
    _assert_refused(err.value, path, name)
    _assert_no_payload(crafted, name)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.parametrize('name', ['hb_setstate_exec', 'reduce_exec'])
def test_https_scheme_downloads_then_refuses(name, crafted, tmp_path,
                                             monkeypatch):
    """init_cfg / load_from URLs (mmengine loads them with
    torch.hub.load_state_dict_from_url, i.e. weights_only=False) go through the
    same loader."""
    path, _ = crafted[name]
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    handler = lambda *a, **k: _Quiet(*a, directory=osp.dirname(path), **k)  # noqa
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f'http://127.0.0.1:{server.server_port}/{osp.basename(path)}'
        with pytest.raises(UnsafeCheckpointError) as err:
            CheckpointLoader.load_checkpoint(url, map_location='cpu')
    finally:
        server.shutdown()
        server.server_close()
    cached = str(tmp_path / 'torch' / 'hub' / 'checkpoints' / osp.basename(path))
    _assert_refused(err.value, cached, name)
    _assert_no_payload(crafted, name)


# --------------------------------------------------------- tools, as a user
DET_DEMO = 'configs/foundation/retinanet_r18-tiny_flir-demo.py'
TOOLS = {
    'test': lambda src, out: ['tools/test.py', DET_DEMO, src, '--work-dir',
                              out],
    'convert_pad_checkpoint': lambda src, out: [
        'tools/convert_pad_checkpoint.py', src, out + '.pth', '--target',
        'det'],
    'aligndet_to_mmdet': lambda src, out: ['tools/aligndet_to_mmdet.py', src,
                                           out + '.pth'],
    'sop_to_seg': lambda src, out: ['tools/sop_to_seg.py', src, out + '.pth'],
    'merge_adapter_checkpoint': lambda src, out: [
        'tools/merge_adapter_checkpoint.py', 'merge', src, src, out + '.pth'],
}
# every chain that runs code without the mechanism, through every tool (the
# structural ones reach the same loader; they are covered in-process above)
TOOL_CHAINS = CODE_CHAINS


@pytest.mark.parametrize('name', TOOL_CHAINS)
@pytest.mark.parametrize('tool', sorted(TOOLS))
def test_tools_exit_with_one_line(tool, name, crafted, tmp_path, demo_data):
    path, _ = crafted[name]
    proc = run_tool(TOOLS[tool](path, str(tmp_path / 'out')),
                    data_root=demo_data, check=False, timeout=300,
                    hang_note='each takes under 20 s')
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: ')]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert path in errors[0] and CHAINS[name].refused in errors[0]
    assert not osp.exists(str(tmp_path / 'out.pth'))
    _assert_no_payload(crafted, name)


# ------------------------------------------------------- the opt-out, logged
def test_trusted_opt_out_loads_and_warns(crafted, tmp_path, monkeypatch):
    import mmengine.logging
    path = write_chain('reduce_exec', crafted['reduce_exec'][0],
                       str(tmp_path / 'trusted.pth'),
                       str(tmp_path / 'RAN'))
    monkeypatch.setenv(TRUST_ENV, '1')
    logged = []
    real = mmengine.logging.print_log
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, *a, **k: (logged.append((msg, k)),
                                              real(msg, *a, **k)))
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert osp.exists(str(tmp_path / 'RAN'))  # trusted: the code ran
    assert ckpt['state_dict']['w'].sum() == 2
    warnings = [m for m, k in logged if k.get('level') == logging.WARNING]
    assert len(warnings) == 1
    assert TRUST_ENV in warnings[0] and path in warnings[0]


# ------------------------------------------------- real checkpoints still load
def _hub_state(name):
    hub = MessageHub.get_instance(name)
    for v in (0.5, 0.25, 0.125):
        hub.update_scalar('train/loss', v)
    hub.update_scalar('coco/bbox_mAP', np.float64(0.3))
    hub.update_info('iter', 3)
    hub.update_info('best_score', np.float32(0.3))
    return hub.state_dict()


def _stock_layouts():
    """The layouts OpenMMLab model-zoo checkpoints come in (tiny tensors)."""
    sd = {'backbone.conv1.weight': torch.randn(4, 3, 3, 3),
          'backbone.bn1.num_batches_tracked': torch.tensor(7)}
    engine_meta = dict(
        mmengine_version='0.10.7', seed=np.int64(42), experiment_name='x',
        time='20240101_000000', epoch=12, iter=100, cfg='model = dict()',
        message_hub=_hub_state('stock_layouts'))
    return {
        'mmdet3': dict(meta=dict(engine_meta, dataset_meta=dict(
            classes=('person', 'car'), palette=[(220, 20, 60), (0, 0, 142)])),
            state_dict=sd, optimizer=dict(state={}, param_groups=[dict(
                lr=0.02, params=[0, 1], betas=(0.9, 0.999))]),
            param_schedulers=[dict(base_values=[0.02], last_step=99,
                                   _get_lr_called_within_step=False)]),
        'mmseg1': dict(meta=dict(engine_meta, dataset_meta=dict(
            classes=('road', 'sky'), palette=[[128, 64, 128], [70, 130, 180]],
            label_map=None, reduce_zero_label=False)), state_dict=sd),
        'mmpretrain1': dict(meta=dict(engine_meta, dataset_meta=dict(
            classes=['a', 'b'])), state_dict=sd),
        'mmcv1_runner': dict(meta=dict(
            mmcv_version='1.7.0', CLASSES=('person', ), config='model = 1',
            epoch=12, iter=100, time='Mon Jan  1 00:00:00 2024',
            hook_msgs=dict(last_ckpt='x.pth')), state_dict=sd),
        'bare_state_dict': sd,
    }


@pytest.mark.parametrize('layout', sorted(_stock_layouts()))
def test_stock_layouts_load(layout, tmp_path):
    ckpt = _stock_layouts()[layout]
    path = str(tmp_path / f'{layout}.pth')
    torch.save(ckpt, path)
    legacy = str(tmp_path / f'{layout}_legacy.pth')  # torch < 1.6 format
    torch.save(ckpt, legacy, _use_new_zipfile_serialization=False)
    for p in (path, legacy):
        loaded = CheckpointLoader.load_checkpoint(p, map_location='cpu')
        state = loaded.get('state_dict', loaded)
        assert torch.equal(state['backbone.conv1.weight'],
                           ckpt.get('state_dict', ckpt)['backbone.conv1.weight'])
        if 'meta' in ckpt and 'message_hub' in ckpt['meta']:
            meta = loaded['meta']
            assert meta['seed'] == 42 and isinstance(meta['seed'], np.int64)
            buf = meta['message_hub']['log_scalars']['train/loss']
            assert type(buf) is HistoryBuffer
            assert buf.current() == 0.125 and buf.mean() == pytest.approx(
                0.875 / 3)
            assert meta['message_hub']['runtime_info']['best_score'] == \
                np.float32(0.3)
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean


def test_numpy1_written_checkpoint_loads(tmp_path):
    """numpy < 2 pickles arrays and scalars as numpy.core.multiarray.*"""
    import zipfile
    path = str(tmp_path / 'np2.pth')
    torch.save({'meta': {'seed': np.int64(3), 'arr': np.arange(4.)}}, path)
    old = str(tmp_path / 'np1.pth')
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, 'w') as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith('data.pkl'):
                data = data.replace(b'numpy._core.multiarray',
                                    b'numpy.core.multiarray')
            dst.writestr(info.filename, data)
    meta = torch_load_checked(old)['meta']
    assert meta['seed'] == 3 and meta['arr'].tolist() == [0., 1., 2., 3.]


def test_a_runner_checkpoint_round_trips(real_epoch):
    ckpt = torch_load_checked(real_epoch)
    plain = torch.load(real_epoch, weights_only=False)
    assert ckpt.keys() == plain.keys()
    for k, v in plain['state_dict'].items():
        assert torch.equal(ckpt['state_dict'][k], v)
    hub, ref = ckpt['message_hub'], plain['message_hub']
    assert hub['log_scalars'].keys() == ref['log_scalars'].keys()
    for k, buf in hub['log_scalars'].items():
        assert type(buf) is HistoryBuffer
        np.testing.assert_array_equal(buf.data[0], ref['log_scalars'][k].data[0])
    # numpy RNG state (RandomStateHook) comes back as a real uint32 array
    (states, ), (ref_states, ) = ckpt['rng_states'], plain['rng_states']
    assert type(states['numpy'][1]) is np.ndarray
    np.testing.assert_array_equal(states['numpy'][1], ref_states['numpy'][1])
    assert states['numpy'][1].dtype == np.uint32
    assert states['python'] == ref_states['python']
    assert torch.equal(states['torch'], ref_states['torch'])


def test_the_helper_module_is_the_loader_the_tools_use():
    """merge_adapter_checkpoint reads through mmpad's one reader, which loads
    local files with this very loader."""

    from mmpad.core.checkpoint import reader
    from mmpad.pad import adapter_merge
    tool = load_module('tools/merge_adapter_checkpoint.py', '_merge_tool')
    assert tool.load_state is adapter_merge.load_state
    assert adapter_merge.read_checkpoint is reader.read_checkpoint
    assert reader.torch_load_checked is torch_load_checked
    assert checkpoint_attacks.CHAINS is CHAINS


@pytest.mark.parametrize('mode', ['load_from', 'resume'])
def test_train_tool_exits_with_one_line(mode, crafted, tmp_path, demo_data):
    """tools/train.py with the chain as load_from, or as the newest checkpoint
    of the work dir it resumes (``--resume``)."""
    import shutil
    path, _ = crafted['hb_setstate_exec']
    work = tmp_path / 'work'
    work.mkdir()
    args = ['tools/train.py', 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py',
            '--work-dir', str(work)]
    if mode == 'resume':
        path = str(work / 'epoch_3.pth')
        shutil.copy(crafted['hb_setstate_exec'][0], path)
        args.append('--resume')
    else:
        args += ['--cfg-options', f'load_from={path}']
    proc = run_tool(args, data_root=demo_data, check=False, timeout=300,
                    hang_note='takes under 30 s')
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: ')]
    assert len(errors) == 1 and path in errors[0]
    assert 'builtins.getattr' in errors[0]
    _assert_no_payload(crafted, 'hb_setstate_exec')
