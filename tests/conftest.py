"""Shared fixtures: generated infrared-like data (tiny preset), repo paths."""
import os
import os.path as osp
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
HELPERS = osp.join(REPO, 'tests', 'helpers')
for path in (REPO, HELPERS):  # helpers: `from mmpad_test_utils import run_tool`
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory) -> str:
    """The embedded data sets (tiny preset, seed 0), generated once per session."""
    from mmpad.datasets.synthetic import generate_all
    root = str(tmp_path_factory.mktemp('demo_data'))
    generate_all(root, seed=0, preset='tiny')
    return root


@pytest.fixture(autouse=True)
def _isolate_default_scope():
    """Every test starts with no mmengine default scope, as when run alone: a test,
    module import or module-scoped fixture that set one (``init_default_scope``, a
    Runner) must not change which registry the next test builds from."""
    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    DefaultScope._instance_dict.clear()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)


@pytest.fixture(autouse=True)
def _fresh_bad_sample_counts():
    """The bad-sample tracker counts per process (shared with forked workers):
    every test starts from zero, as when run alone."""
    from mmpad.core import bad_samples
    bad_samples.reset()
    yield
    bad_samples.reset()
