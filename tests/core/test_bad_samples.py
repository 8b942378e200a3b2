"""Bad input files (issue #9): one report, one warning per file, counts shared with
DataLoader workers, ``strict`` raises; MSIPDataset with bad images, a bad RoI file and
2 workers over 2 epochs."""
import multiprocessing as mp
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

import mmpad  # noqa: F401  (registers the transforms and the dataset)
from mmpad.core import bad_samples
from mmpad.core.bad_samples import BadSampleError
from mmpad.pad.msip import MSIPDataset

from bad_data import (BAD_IMAGES, BAD_ROI_TEXT, DEEP_PNG, LogFile,
                      write_bad_images, write_good_images)

N_GOOD = 6


@pytest.fixture
def bad_msip(tmp_path):
    """MSIP root: 6 good JPEGs, the bad images, a 16-bit PNG and a RoI file with
    garbage lines for the first good image."""
    thermal = tmp_path / 'msip' / 's' / 'thermal'
    good = write_good_images(str(thermal), N_GOOD)
    write_bad_images(str(thermal))
    (tmp_path / 'msip' / 's' / 'roi').mkdir()
    (tmp_path / 'msip' / 's' / 'roi' / '0000000.txt').write_text(BAD_ROI_TEXT)
    return str(tmp_path / 'msip'), [str(thermal / n) for n in good + [DEEP_PNG]]


def _pipeline(strict=False):
    return [dict(type='LoadImageFromFileSafe', min_size=64, strict=strict),
            dict(type='ObjectSensitiveRandomRoICrop', size=32, min_size=16,
                 min_roi_size=8),
            dict(type='PackInputs')]


def test_report_warns_once_counts_every_time_and_strict_raises(tmp_path):
    path = str(tmp_path / 'a.jpg')
    with LogFile(str(tmp_path / 'log.txt')) as log:
        assert bad_samples.report(path, 'truncated JPEG', kind='truncated')
        assert not bad_samples.report(path, 'truncated JPEG', kind='truncated')
        assert bad_samples.report(path, '16-bit', kind='high_bit_depth')
        bad_samples.report(str(tmp_path / 'r.txt'), '3 bad lines', kind='bad_roi_lines',
                           n=3)
        assert log.count('a.jpg') == 2            # once per (file, kind)
        assert log.count('truncated JPEG') == 1
    c = bad_samples.counts()
    assert c['files'] == {'truncated': 1, 'high_bit_depth': 1, 'bad_roi_lines': 1}
    assert c['events'] == {'truncated': 2, 'high_bit_depth': 1, 'bad_roi_lines': 3}
    assert (c['skipped'], c['converted'], c['cleaned']) == (1, 1, 1)
    assert c['bad_files'] == 2 and c['skip_events'] == 2
    assert bad_samples.summary() == (
        'bad data: 1 file skipped (truncated 1; 2 skips in all), 1 file converted '
        '(high_bit_depth 1), 1 file cleaned (bad_roi_lines 1: 3 entries)')

    with pytest.raises(BadSampleError, match=r'bad sample .*b\.jpg: empty') as info:
        bad_samples.report(str(tmp_path / 'b.jpg'), 'empty', strict=True,
                           kind='empty_file')
    assert info.value.path.endswith('b.jpg') and info.value.kind == 'empty_file'
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.path == info.value.path
    assert isinstance(BadSampleError('one message'), RuntimeError)
    assert bad_samples.counts()['files'].get('empty_file') is None  # strict: not counted
    with pytest.raises(ValueError, match='unknown kind'):
        bad_samples.report(path, 'x', kind='no_such_kind')
    bad_samples.reset()
    assert bad_samples.summary() == 'bad data: none'


def _child_reports(paths):
    for p in paths:
        bad_samples.report(p, 'empty', kind='empty_file')


@pytest.mark.timeout(60)
def test_counts_and_warned_files_are_shared_with_forked_processes(tmp_path):
    ctx = mp.get_context('fork')
    paths = [str(tmp_path / f'{i}.jpg') for i in range(3)]
    with LogFile(str(tmp_path / 'log.txt')) as log:
        procs = [ctx.Process(target=_child_reports, args=(paths, )) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
            assert p.exitcode == 0
        # the main process sees the children's counts and knows they warned
        c = bad_samples.counts()
        assert c['files'] == {'empty_file': 3} and c['events'] == {'empty_file': 6}
        assert not bad_samples.report(paths[0], 'empty', kind='empty_file')
        for i in range(3):
            assert log.count(f'{i}.jpg') == 1


@pytest.mark.timeout(120)
def test_msip_dataloader_two_workers_two_epochs(bad_msip, tmp_path):
    root, good = bad_msip
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = MSIPDataset(data_root=root, pipeline=_pipeline())
    assert len(ds) == N_GOOD + 1 + len(BAD_IMAGES)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2,
                                         collate_fn=pseudo_collate, shuffle=True)
    with LogFile(str(tmp_path / 'log.txt')) as log:
        for epoch in range(2):
            seen = []
            for batch in loader:
                seen += [s.img_path for s in batch['data_samples']]
                assert all(tuple(x.shape) == (3, 32, 32) for x in batch['inputs'])
            assert len(seen) == len(ds)             # every bad index was replaced
            assert set(good) <= set(seen), epoch    # every good sample came out
            assert not any(osp.basename(p) in BAD_IMAGES for p in seen)
        for name in list(BAD_IMAGES) + [DEEP_PNG, '0000000.txt']:
            assert log.count(name) == 1, (name, log.text())
    c = bad_samples.counts()
    expected = {}
    for kind in BAD_IMAGES.values():
        expected[kind] = expected.get(kind, 0) + 1
    expected.update(high_bit_depth=1, bad_roi_lines=1)
    assert c['files'] == expected
    assert c['skipped'] == len(BAD_IMAGES) and c['converted'] == 1
    assert c['skip_events'] >= 2 * len(BAD_IMAGES)      # each epoch meets them all
    assert c['events']['bad_roi_lines'] >= 2 * 3        # 3 bad lines, read per epoch


@pytest.mark.timeout(60)
def test_strict_raises_in_the_main_process_naming_the_file(bad_msip):
    root, _ = bad_msip
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = MSIPDataset(data_root=root, pipeline=_pipeline(strict=True))
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2,
                                         collate_fn=pseudo_collate)
    names = '|'.join(n.replace('.', r'\.') for n in BAD_IMAGES)
    batches = iter(loader)
    try:
        with pytest.raises(BadSampleError, match=f'bad sample .*({names})'):
            for _ in batches:
                pass
    finally:  # the traceback keeps the iterator alive: stop its workers now
        batches._shutdown_workers()


@pytest.mark.timeout(60)
def test_only_bad_files_ends_with_an_error_not_a_hang(tmp_path):
    thermal = tmp_path / 's' / 'thermal'
    write_bad_images(str(thermal))
    os.remove(thermal / DEEP_PNG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = MSIPDataset(data_root=str(tmp_path), pipeline=_pipeline(), max_refetch=50)
    with LogFile(str(tmp_path / 'log.txt')) as log:
        with pytest.raises(Exception, match='Cannot find valid image'):
            ds[0]
        assert all(log.count(n) <= 1 for n in BAD_IMAGES)
    assert bad_samples.counts()['skip_events'] == 51


def test_msip_unloadable_sample_and_bad_rois_go_through_the_tracker(tmp_path):
    """MSIPDataset's own catch (stock loader: any exception) and load_rois."""
    import cv2
    t = tmp_path / 's' / 'thermal'
    t.mkdir(parents=True)
    cv2.imwrite(str(t / '0000000.jpg'), np.full((16, 16), 80, np.uint8))
    (t / '0000001.jpg').write_bytes(b'not a jpeg')
    (tmp_path / 's' / 'roi').mkdir()
    roi = tmp_path / 's' / 'roi' / '0000000.txt'
    roi.write_text(BAD_ROI_TEXT)
    stock = [dict(type='mmpretrain.LoadImageFromFile')]
    with LogFile(str(tmp_path / 'log.txt')) as log:
        ds = MSIPDataset(data_root=str(tmp_path), pipeline=stock, load_rois=True)
        assert ds.get_data_info(0)['rois'].tolist() == [[10, 10, 60, 50],
                                                        [20, 15, 70, 60]]
        np.random.seed(0)
        for _ in range(3):
            assert ds[1]['img_path'].endswith('0000000.jpg')
        assert log.count('0000001.jpg') == 1 and log.count('0000000.txt') == 1
        assert 'line 2' in log.text()
    assert bad_samples.counts()['files'] == {'load_error': 1, 'bad_roi_lines': 1}
    events = bad_samples.counts()['events']   # ds[1]'s random replacement may be 1
    assert events['load_error'] >= 3 and events['bad_roi_lines'] == 3
    with pytest.raises(BadSampleError, match=r'0000000\.txt: .*line 2'):
        MSIPDataset(data_root=str(tmp_path), pipeline=stock, load_rois=True,
                    strict=True)
    for kwargs in (dict(skip_unreadable=False), dict(strict=True),
                   dict(test_mode=True)):
        ds = MSIPDataset(data_root=str(tmp_path), pipeline=stock, **kwargs)
        with pytest.raises(BadSampleError, match=r'0000001\.jpg'):
            ds[1]


def test_a_stuck_lock_degrades_to_per_process_warnings_not_a_hang(tmp_path,
                                                                  monkeypatch):
    """A worker killed inside the (tiny) critical section leaves the lock taken."""
    state = bad_samples._STATE
    monkeypatch.setattr(bad_samples, '_LOCK_TIMEOUT_S', 0.05)
    assert state.lock.acquire(timeout=1)
    try:
        with LogFile(str(tmp_path / 'log.txt')) as log:
            assert bad_samples.report('/x/stuck.jpg', 'empty', kind='empty_file')
            assert not bad_samples.report('/x/stuck.jpg', 'empty', kind='empty_file')
            assert log.count('lock is stuck') == 1 and log.count('stuck.jpg') == 1
        assert bad_samples.counts()['events'] == {'empty_file': 2}
    finally:
        state.lock.release()
        state._broken.value = 0
