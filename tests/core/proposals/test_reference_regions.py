"""Regions identical to ``selectivesearch`` 0.4 on gray and colour scenes at the
three sizes (320x256, 640x512, 1280x1024), PAD parameters.

The reference regions were recorded with ``selectivesearch`` 0.4 (scikit-image
0.26, numpy 1.26) on the numpy-generated scenes of :mod:`proposal_scenes`
(tests/helpers) and are stored in ``reference/selectivesearch04_regions.npz``, so
the comparison runs without the package; where it is installed
(``requirements/bench.txt``) the package is also run on the smallest scenes.
"""
import os.path as osp
import warnings

import numpy as np
import pytest

from mmpad.core.proposals import selective_search
from proposal_scenes import SIZES, digest, scene

FIXTURE = osp.join(osp.dirname(osp.abspath(__file__)), 'reference',
                   'selectivesearch04_regions.npz')
CASES = [(colour, i) for colour in (False, True) for i in range(len(SIZES))]


def _case(colour, i):
    h, w = SIZES[i]
    return f'{"colour" if colour else "gray"}_{w}x{h}', scene(h, w, colour, i + 10 * colour)


@pytest.fixture(scope='module')
def reference():
    with np.load(FIXTURE) as data:
        return dict(data)


@pytest.mark.parametrize('colour,i', CASES,
                         ids=[_case(c, i)[0] for c, i in CASES])
def test_regions_identical_to_recorded_reference(reference, colour, i):
    key, img = _case(colour, i)
    if str(reference[key + '_digest']) != digest(img):
        pytest.fail(f'{FIXTURE}: scene {key} differs from the one the reference was '
                    'recorded on (numpy changed a random stream?); re-record it with '
                    'selectivesearch 0.4')
    ours = selective_search(img, 600, 0.9, 30)
    np.testing.assert_array_equal(ours.rects, reference[key + '_rects'])
    np.testing.assert_array_equal(ours.sizes, reference[key + '_sizes'])


def test_control_segment_numbering_changes_the_regions(reference, monkeypatch):
    """The comparison sees the segments' numbering: the same segments numbered in
    reverse raster order (as a union-find that reported its roots' order would)
    give other regions, or the same ones in another order."""
    import sys
    ss_mod = sys.modules['mmpad.core.proposals.search']
    key, img = _case(False, 1)
    segment = ss_mod._segment

    def reversed_numbering(*args):
        seg, k = segment(*args)
        return (k - 1 - seg).astype(np.int32), k

    monkeypatch.setattr(ss_mod, '_segment', reversed_numbering)
    other = selective_search(img, 600, 0.9, 30)
    ref = reference[key + '_rects']
    assert other.rects.shape != ref.shape or not (other.rects == ref).all()


@pytest.mark.parametrize('colour', [False, True], ids=['gray', 'colour'])
def test_regions_identical_to_selectivesearch_package(colour):
    ss = pytest.importorskip('selectivesearch')
    _, img = _case(colour, 0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        _, regions = ss.selective_search(img, scale=600, sigma=0.9, min_size=30)
    ours = selective_search(img, 600, 0.9, 30)
    np.testing.assert_array_equal(ours.rects, np.array([r['rect'] for r in regions]))
    np.testing.assert_array_equal(ours.sizes, np.array([r['size'] for r in regions]))
