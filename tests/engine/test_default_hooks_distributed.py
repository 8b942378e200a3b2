"""The two hooks ``MMPadRunner`` adds to every run, on 2 gloo ranks (CPU, DDP).

* ``RandomStateHook`` gathers the ranks' RNG states only in the iterations that
  write a checkpoint, and the checkpoint holds every rank's states of that moment
  (control: the states one iteration earlier differ, so a stale gather would fail);
* ``NonFiniteLossHook``: a NaN loss on one rank only makes both ranks skip
  (``action='skip'``) or raise (``'raise'``) at the same iteration, the weights
  untouched and equal on both ranks. Control: ranks that decide alone (the flag not
  all-reduced) let the good rank step with the bad rank's NaN gradients.

One spawn of the two ranks runs every scenario (tests/helpers/hook_ranks.py).
"""
import json
import math
import os.path as osp
import re

import pytest
import torch
import torch.multiprocessing as mp

import hook_ranks
from mmpad.core.checkpoint.loading import torch_load_checked
from mmpad_test_utils import free_port


@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('hook_ranks'))
    mp.spawn(hook_ranks.run, args=(free_port(), out), nprocs=2, join=True)

    def result(scenario, rank):
        with open(osp.join(out, f'{scenario}_rank{rank}.json')) as f:
            return json.load(f)
    return result


def test_rng_states_are_gathered_only_when_a_checkpoint_is_written(ranks):
    for rank in (0, 1):
        rows = ranks('rng', rank)['rows']
        # checkpoints after iterations 3 and 6: one all_gather_object each
        assert [r['gathers'] for r in rows] == [0, 0, 1, 0, 0, 1], rank


def test_the_checkpoint_holds_every_rank_s_states_of_that_moment(ranks):
    res = [ranks('rng', rank) for rank in (0, 1)]
    ckpt = torch_load_checked(osp.join(res[0]['work_dir'], 'iter_3.pth'),
                              map_location='cpu')
    saved = ckpt['rng_states']
    assert len(saved) == 2
    for rank in (0, 1):
        rows = res[rank]['rows']
        assert hook_ranks.rng_digest(saved[rank]) == rows[2]['rng'], rank
        # control: the generators moved during iteration 3, so states gathered
        # earlier (stale) would not match
        assert rows[1]['rng'] != rows[2]['rng']
    assert res[0]['rows'][2]['rng'] != res[1]['rows'][2]['rng']  # per-rank states


def _finite(weights):
    return all(math.isfinite(w) for w in weights)


def test_nan_on_one_rank_is_skipped_by_both(ranks):
    res = [ranks('skip', rank) for rank in (0, 1)]
    for r in res:
        assert r['error'] is None and r['skipped'] == [1]
        rows = r['rows']
        assert rows[hook_ranks.BAD_ITER]['weight'] == rows[hook_ranks.BAD_ITER - 1][
            'weight']  # the skipped update left the weights as they were
        assert _finite(r['final'])
    assert res[0]['final'] == res[1]['final']


def test_control_ranks_deciding_alone_diverge(ranks):
    res = [ranks('skip_local', rank) for rank in (0, 1)]
    bad = hook_ranks.BAD_ITER
    # rank 1 dropped its update; rank 0 stepped with the NaN gradients all-reduced
    # from rank 1
    assert res[1]['rows'][bad]['weight'] == res[1]['rows'][bad - 1]['weight']
    assert _finite(res[0]['rows'][bad - 1]['weight'])
    assert not _finite(res[0]['rows'][bad]['weight'])


def test_nan_on_one_rank_stops_both(ranks):
    res = [ranks('raise', rank) for rank in (0, 1)]
    assert re.search('iteration 3: on another rank', res[0]['error'])
    assert re.search('iteration 3: .*loss_b=nan', res[1]['error'])
    for r in res:
        assert len(r['rows']) == hook_ranks.BAD_ITER  # stopped in that iteration
        assert r['final'] == r['rows'][-1]['weight']  # before its update
    assert res[0]['final'] == res[1]['final']
    assert torch.isfinite(torch.tensor(res[0]['final'])).all()
