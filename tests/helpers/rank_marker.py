"""Test-only hook: each rank records how many iterations it ran and which samples it
saw, so a distributed test can check that every rank really trained."""
import json
import os
import os.path as osp

from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankMarkerHook(Hook):

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.iters = 0
        self.samples = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters += 1
        for ds in data_batch['data_samples']:
            self.samples.append(osp.basename(ds.img_path))

    def after_train(self, runner):
        os.makedirs(self.out_dir, exist_ok=True)
        with open(osp.join(self.out_dir, f'rank{get_rank()}.json'), 'w') as f:
            json.dump(dict(rank=get_rank(), world_size=get_world_size(),
                           iters=self.iters, samples=self.samples), f)
