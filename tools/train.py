#!/usr/bin/env python
"""Train any mmpretrain / mmdet / mmseg config, with mmpad registered.

The host is chosen by the config's ``default_scope``; mmengine's Runner does the rest.
Examples::

    python tools/train.py configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py
    python tools/train.py CONFIG --resume            # resume from the latest checkpoint
    python tools/train.py CONFIG --amp --cfg-options train_dataloader.batch_size=8
    tools/dist_train.sh CONFIG 8                     # 8 GPUs (torchrun)

``--amp`` (and any config with ``optim_wrapper.type='AmpOptimWrapper'``, e.g. the
``-amp`` configs) is fp16 mixed precision on a GPU (CUDA, or an NPU / MLU / MUSA
device): on a CPU-only machine it stops with an error before anything is built.
On a CPU, train the config without ``-amp`` in its name, or a demo config.

The config is checked before the model is built (types, data paths, the
``load_from`` / ``--resume`` / ``init_cfg`` checkpoint files, ...): a mistake is
one line naming the field, and exit status 2.
"""
import argparse
import sys
from typing import Optional

from mmengine.config import Config

from mmpad.engine.cli import add_runner_args, parse_runner_args, runner_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model (mmpad)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest checkpoint '
        'in the work dir when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='enable fp16 automatic mixed precision '
                        '(AmpOptimWrapper); needs a GPU (CUDA, NPU, MLU or MUSA): '
                        'refused on a CPU-only machine')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual batch size')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def build_cfg(args) -> Config:
    """The training config: :func:`mmpad.engine.cli.runner_config` plus
    ``--amp``, ``--auto-scale-lr``, ``--resume`` and ``--no-validate``."""
    cfg = runner_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', dict(base_batch_size=16))
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        # the newest complete checkpoint of this work dir; on the first launch of a
        # job script that always passes --resume there is none: start a new run
        # from the config's load_from (the pre-trained weights) instead of from
        # random weights
        from mmpad.core.checkpoint.resume import find_resume_checkpoint
        latest = find_resume_checkpoint(cfg.work_dir)
        if latest is not None:
            cfg.resume = True
            cfg.load_from = latest
        else:
            start = cfg.get('load_from') or 'the initialisation in the config'
            print(f'--resume: no checkpoint in {cfg.work_dir} yet; starting a new '
                  f'run from {start}', file=sys.stderr)
            cfg.resume = False
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    return cfg


def amp_device_problem(args, cfg: Config) -> Optional[str]:
    """Why fp16 AMP cannot run here (no GPU-like device), or None."""
    wrapper = cfg.get('optim_wrapper') or {}
    if wrapper.get('type') != 'AmpOptimWrapper':
        return None
    from mmengine.device import (is_cuda_available, is_mlu_available,
                                 is_musa_available, is_npu_available)
    if (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available()):
        return None
    if args.amp:
        return ('--amp: fp16 automatic mixed precision (AmpOptimWrapper) needs a '
                'GPU (CUDA, NPU, MLU or MUSA) and this machine has none; train '
                'without --amp on a CPU')
    return (f'optim_wrapper.type: {args.config} uses AmpOptimWrapper (fp16 '
            f'automatic mixed precision), which needs a GPU (CUDA, NPU, MLU or '
            f'MUSA), and this machine has none; on a CPU pass --cfg-options '
            f'optim_wrapper.type=OptimWrapper (or train a config without -amp '
            f'in its name)')


def check_before_build(args, cfg: Config) -> None:
    """What can be checked before the Runner builds the model: an AMP run on a
    machine without a GPU, the ``init_cfg`` checkpoint files (read when training
    starts) and, for a runner other than ``MMPadRunner`` (which checks the rest
    itself), the whole config.

    Raises:
        mmpad.core.ConfigError: naming the field or the option.
    """
    from mmengine.registry import RUNNERS
    from mmpad.core import ConfigError, check_config
    from mmpad.core.config_check import check_init_checkpoints
    from mmpad.engine.runner import MMPadRunner
    problem = amp_device_problem(args, cfg)
    if problem:
        raise ConfigError(problem)
    runner_type = cfg.get('runner_type')
    runner = RUNNERS.get(runner_type) if isinstance(runner_type, str) \
        else runner_type
    if isinstance(runner, type) and issubclass(runner, MMPadRunner):
        check_init_checkpoints(cfg)  # from_cfg checks the rest
    else:
        check_config(cfg, training=True, runner=runner)


def main(argv=None):
    args = parse_args(argv)
    import mmpad  # noqa: F401  (registers mmpad modules, fixes torch.load)
    from mmengine.registry import RUNNERS
    from mmpad.core import CheckpointMismatchError, ConfigError
    from mmpad.core.checkpoint.loading import CheckpointLoadError

    try:
        cfg = build_cfg(args)
        check_before_build(args, cfg)
        runner = RUNNERS.build(cfg)  # --resume reads the checkpoint's seed
    except (ConfigError, CheckpointLoadError) as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    try:
        runner.train()
    except (CheckpointMismatchError, CheckpointLoadError) as err:
        # load_from / --resume / init_cfg: another model, damaged or refused
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main()
