"""Fixtures for the AlignDet model tests: a hand-made two-view batch."""
import os.path as osp
import sys

import pytest
import torch

# the tiny detectors are shared with tests/tools
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from aligndet_tiny_detectors import make_view, random_boxes  # noqa: E402


@pytest.fixture(autouse=True)
def _mmdet_scope():
    """The pre-trainer builds its data preprocessor through the default scope."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


@pytest.fixture
def two_view_batch():
    """2 images, 2 views of different sizes with the same proposals (scaled)."""
    def build(num_boxes=(5, 4), num_labels=1, seed=0):
        g = torch.Generator().manual_seed(seed)
        shapes_online = [(64, 96), (80, 64)]
        scale = 1.25
        boxes = [random_boxes(n, h, w, g) for n, (h, w) in
                 zip(num_boxes, shapes_online)]
        labels = [torch.randint(0, num_labels, (n, ), generator=g)
                  for n in num_boxes]
        online = make_view(boxes, shapes_online, labels)
        shapes_target = [(int(h * scale), int(w * scale))
                         for h, w in shapes_online]
        target = make_view([b * scale for b in boxes], shapes_target,
                           [lab.clone() for lab in labels])
        inputs = {'online': online[0], 'target': target[0]}
        samples = {'online': online[1], 'target': target[1]}
        return inputs, samples
    return build
