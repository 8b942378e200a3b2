"""tools/dist_train.sh with NNODES=2, run as two local "nodes": two launches of the
script on this machine, one process each, NODE_RANK 0 and 1, the same MASTER_ADDR
and PORT. The two torchrun agents must meet at the rendezvous and form one job of
world size 2 that trains one model (the tiny PAD-MAE demo, 2 iterations)."""
import json
import os
import os.path as osp
import subprocess

from mmpad_test_utils import BIN, REPO, free_port

PAD_CFG = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')
HELPERS = osp.join(REPO, 'tests', 'helpers')


def _launch(cfg, work, data_root, nnodes, node_rank, port):
    env = dict(os.environ, PYTHON=os.sys.executable, OMP_NUM_THREADS='1',
               PYTHONUNBUFFERED='1', MMPAD_DATA_ROOT=data_root,
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
               NNODES=str(nnodes), NODE_RANK=str(node_rank),
               MASTER_ADDR='127.0.0.1', PORT=port,
               PYTHONPATH=os.pathsep.join(
                   [HELPERS] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    return subprocess.Popen(['bash', 'tools/dist_train.sh', str(cfg), '1',
                             '--work-dir', str(work)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _wait(procs, timeout=600):
    """Outputs of the launches; a timeout only catches a hang (each run took about
    25 s; a node whose peer never comes waits at the rendezvous)."""
    outs = []
    try:
        for proc in procs:
            outs.append(proc.communicate(timeout=timeout)[0])
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
        raise AssertionError('a "node" did not finish in 600 s (about 25 s '
                             'measured): the rendezvous hung?') from None
    return outs


def test_two_local_nodes_form_one_job(demo_data, tmp_path):
    reports = tmp_path / 'reports'
    cfg = tmp_path / 'pad_two_nodes.py'
    cfg.write_text(
        f"_base_ = ['{PAD_CFG}']\n"
        "custom_imports = dict(imports=['rank_report'], allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DelayedScaleHook', ratio=0.6),\n"
        "    dict(type='GradientSyncCheckHook'),\n"
        f"    dict(type='RankReportHook', out_dir='{reports}')]\n"
        "default_hooks = dict(checkpoint=None)\n"
        # 10 images, 2 ranks x batch 4: 2 iterations per epoch
        "train_cfg = dict(max_epochs=1)\n"
        "randomness = dict(seed=3)\n")
    port = free_port()
    work = tmp_path / 'work'  # one work dir, as on a shared file system
    procs = [_launch(cfg, work, demo_data, 2, node, port) for node in (0, 1)]
    outs = _wait(procs)
    for node, (proc, out) in enumerate(zip(procs, outs)):
        assert proc.returncode == 0, f'node {node}:\n{out[-6000:]}'
    # rank 0 (node 0) logs for the job
    assert 'GradientSyncCheckHook: gradients of' in outs[0]
    assert 'identical on all 2 ranks in 2 checked steps' in outs[0]
    assert 'all weights identical after training' in outs[0]
    assert 'Distributed training: True' in outs[0]

    ranks = [json.load(open(reports / f'rank{r}.json')) for r in (0, 1)]
    for node, rep in enumerate(ranks):
        # one process per node: global rank = node rank, local rank 0
        assert rep['rank'] == node and rep['world_size'] == 2
        assert rep['env']['GROUP_RANK'] == str(node)
        assert rep['env']['LOCAL_RANK'] == '0' and rep['env']['WORLD_SIZE'] == '2'
        assert rep['env']['MASTER_PORT'] == port
        assert rep['iters'] == 2
    assert ranks[0]['pid'] != ranks[1]['pid']
    # the nodes trained on different samples, yet hold the same weights: the
    # gradients were reduced across the two launches
    # (10 samples, RoI crops of 6 images: 5 per rank, in batches of 4 and 1)
    assert len(ranks[0]['samples']) == len(ranks[1]['samples']) == 5
    assert ranks[0]['samples'] != ranks[1]['samples']
    assert ranks[0]['weights'] == ranks[1]['weights']


def test_node_rank_out_of_range_is_refused(tmp_path):
    proc = subprocess.run(['bash', 'tools/dist_train.sh', PAD_CFG, '1'], cwd=REPO,
                          env=dict(os.environ, NNODES='2', NODE_RANK='2'),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert 'NODE_RANK (2) must be in 0..1 (NNODES=2)' in proc.stderr
