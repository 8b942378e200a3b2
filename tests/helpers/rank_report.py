"""Test-only hook: after training each rank writes what the launcher gave it (rank,
world size, the launcher's environment) and a fingerprint of every parameter, so a
launch test can check that separately started processes formed one job that
trained one model."""
import json
import os
import os.path as osp

from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

ENV_KEYS = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'GROUP_RANK', 'MASTER_ADDR',
            'MASTER_PORT', 'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID')


@HOOKS.register_module()
class RankReportHook(Hook):

    priority = 'LOWEST'

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.iters = 0
        self.samples = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters += 1
        for sample in data_batch['data_samples']:
            self.samples.append(osp.basename(sample.metainfo.get('img_path', '?')))

    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        weights = {n: [float(p.double().sum()), float(p.double().square().sum())]
                   for n, p in model.named_parameters()}
        os.makedirs(self.out_dir, exist_ok=True)
        with open(osp.join(self.out_dir, f'rank{get_rank()}.json'), 'w') as f:
            json.dump(dict(rank=get_rank(), world_size=get_world_size(),
                           iters=self.iters, samples=self.samples, pid=os.getpid(),
                           env={k: os.environ.get(k) for k in ENV_KEYS},
                           weights=weights), f)
