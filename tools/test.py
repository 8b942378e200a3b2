#!/usr/bin/env python
"""Evaluate a checkpoint with any mmpretrain / mmdet / mmseg config (mmpad registered).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
    tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import argparse
import os
import os.path as osp
import sys

from mmpad.engine.cli import add_runner_args, parse_runner_args, runner_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a model (mmpad)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation results')
    parser.add_argument('--out', help='dump predictions to a pickle file')
    parser.add_argument('--metrics-out', help='write the metrics to a JSON file')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    import mmpad  # noqa: F401
    from mmengine.evaluator import DumpResults
    from mmengine.registry import RUNNERS
    from mmpad.core import CheckpointMismatchError, ConfigError
    from mmpad.core.checkpoint.loading import CheckpointLoadError

    if not osp.isfile(args.checkpoint):
        print(f'error: checkpoint {args.checkpoint!r} does not exist', file=sys.stderr)
        sys.exit(2)
    cfg = runner_config(args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    try:
        runner = RUNNERS.build(cfg)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    try:
        metrics = runner.test()
    except (CheckpointMismatchError, CheckpointLoadError) as err:
        # a checkpoint of another model, or one that is damaged / refused
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    print(metrics)
    if args.metrics_out:
        import json
        os.makedirs(osp.dirname(osp.abspath(args.metrics_out)), exist_ok=True)
        with open(args.metrics_out, 'w') as f:
            json.dump({k: float(v) if isinstance(v, (int, float)) else str(v)
                       for k, v in metrics.items()}, f, indent=1)


if __name__ == '__main__':
    main()
