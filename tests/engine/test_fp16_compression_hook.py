"""Fp16CompressionHook: DDP gradients are all-reduced in fp16 and come back exact for
values fp16 represents; outside DDP it does nothing."""
import os
import socket

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.config import Config
from torch.nn.parallel import DistributedDataParallel

import mmpad  # noqa: F401
from mmpad.engine import Fp16CompressionHook
from mmpad_test_utils import REPO


class _Runner:

    def __init__(self, model):
        self.model = model
        import logging
        self.logger = logging.getLogger('test')


def _port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_registers_fp16_comm_hook_on_ddp():
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(_port()))
    dist.init_process_group('gloo', rank=0, world_size=1)
    try:
        model = DistributedDataParallel(nn.Linear(3, 1, bias=False))
        Fp16CompressionHook().before_train(_Runner(model))
        x = torch.tensor([[1.0, 2.0, 1.0 / 3.0]])
        model(x).sum().backward()
        grad = model.module.weight.grad[0]
        # the third gradient went through fp16: 1/3 rounded to fp16 precision
        assert grad[2].item() == torch.tensor(1.0 / 3.0).half().float().item()
        assert grad[2].item() != 1.0 / 3.0
        assert torch.equal(grad[:2], torch.tensor([1.0, 2.0]))
    finally:
        dist.destroy_process_group()


def test_noop_without_ddp():
    model = nn.Linear(3, 1)
    Fp16CompressionHook().before_train(_Runner(model))
    model(torch.ones(1, 3)).sum().backward()
    assert model.weight.grad.dtype == torch.float32


def test_flir_recipe_uses_it():
    cfg = Config.fromfile(os.path.join(
        REPO, 'configs/pad/downstream/'
        'faster-rcnn_vit-b_simplefpn_2xb1-amp-lsj-53k_flir-1024x1024.py'))
    assert dict(type='Fp16CompressionHook') in cfg.custom_hooks
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
