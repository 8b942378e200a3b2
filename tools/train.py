#!/usr/bin/env python
"""Train any mmpretrain / mmdet / mmseg config, with mmpad registered.

The host is chosen by the config's ``default_scope``; mmengine's Runner does the rest.
Examples::

    python tools/train.py configs/pad/pad-mae_vit-base-p16_msip.py
    python tools/train.py CONFIG --resume            # resume from the latest checkpoint
    python tools/train.py CONFIG --amp --cfg-options train_dataloader.batch_size=8
    tools/dist_train.sh CONFIG 8                     # 8 GPUs (torchrun)
"""
import argparse
import sys

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
                        help='enable automatic mixed precision (AmpOptimWrapper)')
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


def main(argv=None):
    args = parse_args(argv)
    import mmpad  # noqa: F401  (registers mmpad modules, fixes torch.load)
    from mmengine.registry import RUNNERS
    from mmpad.core import CheckpointMismatchError, ConfigError
    from mmpad.core.checkpoint.loading import CheckpointLoadError

    try:
        cfg = build_cfg(args)
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
