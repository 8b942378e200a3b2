#!/usr/bin/env python
"""Evaluate a checkpoint with any mmdet / mmseg / mmpretrain config (mmpad registered).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
        [--show] [--show-dir DIR] [--wait-time S] [--tta] [--metrics-out m.json]
    tools/dist_test.sh CONFIG CHECKPOINT 8

The flags are those of mmdet's and mmseg's ``tools/test.py``; what they do depends
on the host library the config belongs to (its ``default_scope``), as with the
stock tools:

* ``--show`` / ``--show-dir`` turn on the config's ``default_hooks.visualization``
  (mmdet ``DetVisualizationHook``, mmseg ``SegVisualizationHook``, mmpretrain
  ``VisualizationHook``) for every test image. Where the images go:

  - mmdet: ``DIR/<image file name>``; a relative ``DIR`` is under
    ``<work_dir>/<timestamp>/``.
  - mmseg: ``DIR/vis_data/vis_image/test_<image file name>_0.png`` (the
    visualizer's ``save_dir``); a relative ``DIR`` is relative to the current
    directory.
  - mmpretrain: ``DIR/<image file name>_<batch index>.png``; a relative ``DIR``
    is relative to the current directory.

  The tool prints the folder at the end. ``--show`` needs a display (an
  interactive matplotlib backend); without one it is an error, not a silent no-op.
* ``--out``: mmdet: a ``.pkl`` of the predictions (``DumpDetResults``, masks as
  RLE); mmseg: a directory of predicted label PNGs, one per image
  (``IoUMetric(output_dir=...)``), or, for a ``.pkl`` name, a pickle of the
  predictions; mmpretrain and other scopes: a ``.pkl`` of the predictions
  (mmengine's ``DumpResults``).
* ``--tta`` wraps the model in the config's ``tta_model`` and tests with its
  ``tta_pipeline``; a config without them is an error naming the missing field.
* Under a distributed launcher only rank 0 prints the metrics and writes
  ``--metrics-out``; ``--show`` / ``--show-dir`` then draw only the images of rank
  0's share of the test set (the host visualizers draw on rank 0 only).

The checkpoint is read by mmpad's checkpoint reader (no code from the file is run)
and checked against the model before it is loaded.
"""
from __future__ import annotations

import argparse
import inspect
import os
import os.path as osp
import sys
from typing import List, Optional

from mmpad.engine.cli import add_runner_args, parse_runner_args, runner_config

#: the hosts with their own test-time conventions (``default_scope``)
HOSTS = ('mmdet', 'mmseg', 'mmpretrain')
PICKLE_SUFFIXES = ('.pkl', '.pickle')
#: each host's visualization hook (for the error when a config has none)
HOOK_TYPES = dict(mmdet='DetVisualizationHook', mmseg='SegVisualizationHook',
                  mmpretrain='VisualizationHook')

#: where to find what ``--tta`` needs, per host (printed with the error)
TTA_HINTS = {
    'mmdet': "inherit a stock one, e.g. _base_ = [..., "
             "'mmdet::retinanet/retinanet_tta.py'], or set tta_model = "
             "dict(type='DetTTAModel', tta_cfg=...) and a tta_pipeline with a "
             "TestTimeAug step",
    'mmseg': "tta_model = dict(type='SegTTAModel') (in mmseg's "
             "_base_/default_runtime.py) and a tta_pipeline with a TestTimeAug "
             "step, as in mmseg::_base_/datasets/ade20k.py",
    'mmpretrain': "tta_model = dict(type='AverageClsScoreTTA') and a tta_pipeline "
                  "with a TestTimeAug step",
}


EPILOG = '''\
where --show-dir writes (one image per test image; the folder is printed at the end):
  mmdet       DIR/<image file name>; a relative DIR is under <work_dir>/<timestamp>/
  mmseg       DIR/vis_data/vis_image/test_<image file name>_0.png; a relative DIR
              is relative to the current directory
  mmpretrain  DIR/<image file name>_<batch index>.png; a relative DIR is relative
              to the current directory
under tools/dist_test.sh only rank 0 prints the metrics and writes --metrics-out, and
--show / --show-dir draw only the images rank 0 tests (the host visualizers draw on
rank 0 only): run without the launcher to draw them all.
'''


class TestToolError(ValueError):
    """A flag that does not fit the config (printed as ``error: ...``, exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of mmdet's / mmseg's ``tools/test.py`` plus
    ``--metrics-out``."""
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a model: mmdet, mmseg or mmpretrain config, '
        'mmpad registered',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the directory for the log and the metrics JSON '
        '(default: the config\'s work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--out', help='dump predictions: mmdet a .pkl file; mmseg a directory of '
        'label PNGs (or a .pkl file); mmpretrain a .pkl file')
    parser.add_argument(
        '--show', action='store_true',
        help='show the painted predictions in a window (needs a display)')
    parser.add_argument(
        '--show-dir', help='save the painted predictions of every test image under '
        'this directory (where exactly: below)')
    parser.add_argument(
        '--wait-time', type=float, default=2,
        help='with --show: seconds each image is shown (0: until a key is pressed)')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation: wrap the model '
        'in the config\'s tta_model and test with its tta_pipeline')
    parser.add_argument('--metrics-out', help='write the metrics to a JSON file')
    return add_runner_args(parser)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``argv`` (default ``sys.argv[1:]``); sets ``LOCAL_RANK``."""
    return parse_runner_args(build_parser(), argv)


def host_of(cfg) -> Optional[str]:
    """The host library of ``cfg`` (its ``default_scope`` if one of :data:`HOSTS`)."""
    scope = cfg.get('default_scope', None)
    return scope if scope in HOSTS else None


def _need_host(cfg, args, flag: str) -> str:
    host = host_of(cfg)
    if host is None:
        raise TestToolError(
            f'{flag} needs a config of mmdet, mmseg or mmpretrain, but '
            f'{args.config} has default_scope={cfg.get("default_scope", None)!r}')
    return host


def display_problem() -> Optional[str]:
    """Why a window cannot be shown here (None when it can): matplotlib, which
    the OpenMMLab visualizers show images with, has a non-interactive backend
    (no display, or ``MPLBACKEND`` set to one)."""
    import matplotlib
    backend = str(matplotlib.get_backend())
    try:
        from matplotlib.backends import BackendFilter, backend_registry
        non_interactive = backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE)
    except ImportError:  # matplotlib < 3.9
        from matplotlib import rcsetup
        non_interactive = rcsetup.non_interactive_bk
    if backend.lower() in {b.lower() for b in non_interactive}:
        return (f"matplotlib's backend is {backend!r}, which cannot open a window "
                f"(DISPLAY={os.environ.get('DISPLAY', '')!r})")
    return None


def check_args(args: argparse.Namespace) -> None:
    """Checks of the flags alone, before the config is read."""
    if args.wait_time < 0:
        raise TestToolError(f'--wait-time must be >= 0 seconds, got {args.wait_time}')
    if args.show:
        problem = display_problem()
        if problem is not None:
            raise TestToolError(
                f'--show needs a display, but {problem}; use --show-dir DIR to save '
                'the painted images instead')
    if not osp.isfile(args.checkpoint):
        raise TestToolError(f'checkpoint {args.checkpoint!r} does not exist')


def setup_visualization(cfg, args) -> None:
    """Turn on ``default_hooks.visualization`` for ``--show`` / ``--show-dir`` the
    way the config's host does it; every test image is drawn."""
    host = _need_host(cfg, args, '--show/--show-dir')
    hook = cfg.get('default_hooks', {}).get('visualization', None)
    if not hook:
        raise TestToolError(
            f'--show/--show-dir need default_hooks.visualization in {args.config} '
            '(e.g. default_hooks = dict(visualization=dict('
            f"type='{HOOK_TYPES[host]}')))")
    if host == 'mmpretrain':
        hook.update(enable=True, show=args.show, wait_time=args.wait_time,
                    out_dir=args.show_dir, interval=1)
        return
    hook['draw'] = True
    hook['interval'] = 1
    if args.show:
        hook.update(show=True, wait_time=args.wait_time)
    if not args.show_dir:
        return
    if host == 'mmdet':
        hook['test_out_dir'] = args.show_dir
    else:  # mmseg: the images go to the visualizer's save backends
        if args.show:
            raise TestToolError(
                '--show and --show-dir together do not work with an mmseg config: '
                "mmseg's SegVisualizationHook drops the visualizer's save backends "
                'when it shows images; run twice, once with each flag')
        if not cfg.get('visualizer', None):
            raise TestToolError(f'--show-dir needs a visualizer in {args.config}')
        if not cfg.visualizer.get('vis_backends', None):
            raise TestToolError(
                f'--show-dir needs visualizer.vis_backends in {args.config} (e.g. '
                "[dict(type='LocalVisBackend')]); it has none")
        cfg.visualizer['save_dir'] = args.show_dir


def show_dir_of(runner, cfg, args) -> Optional[str]:
    """Where ``--show-dir`` images are written (absolute), for the message."""
    if not args.show_dir:
        return None
    host = host_of(cfg)
    if host == 'mmseg':
        return osp.join(osp.abspath(args.show_dir), 'vis_data', 'vis_image')
    if host == 'mmpretrain':
        return osp.abspath(args.show_dir)
    return osp.join(runner.work_dir, runner.timestamp, args.show_dir)


def _innermost_dataset(dataset_cfg):
    while 'dataset' in dataset_cfg:  # ConcatDataset / RepeatDataset wrappers
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def setup_tta(cfg, args) -> None:
    """``--tta``: the model wrapped in ``tta_model``, the test set read with
    ``tta_pipeline`` (both from the config; no default is made up)."""
    from mmengine.config import ConfigDict
    missing = [k for k in ('tta_model', 'tta_pipeline') if not cfg.get(k, None)]
    if missing:
        host = host_of(cfg)
        hint = TTA_HINTS.get(host)
        raise TestToolError(
            f'--tta needs {" and ".join(missing)} in the config {args.config}, '
            f'which has {"neither" if len(missing) == 2 else "none"}'
            + (f'; for a {host} config: {hint}' if hint else ''))
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    _innermost_dataset(cfg.test_dataloader.dataset).pipeline = cfg.tta_pipeline


def _accepts_output_dir(metric_cfg) -> bool:
    from mmseg.registry import METRICS
    cls = metric_cfg.get('type')
    if isinstance(cls, str):
        cls = METRICS.get(cls)
    return cls is not None and 'output_dir' in inspect.signature(cls).parameters


def setup_out(cfg, args) -> Optional[str]:
    """Check ``--out`` against the host and, for an mmseg PNG directory, set the
    evaluators' ``output_dir`` (as mmseg's tool). Returns the dump metric's type
    to add once the runner is built (``'DumpDetResults'`` / ``'DumpResults'``)
    or None."""
    host = host_of(cfg)
    is_pickle = args.out.endswith(PICKLE_SUFFIXES)
    if host == 'mmseg' and not is_pickle:
        if osp.isfile(args.out):
            raise TestToolError(
                f'--out {args.out}: for an mmseg config --out is a directory for the '
                'predicted label PNGs (or a .pkl file name), and this is a file')
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) \
            else [evaluators]
        targets = [e for e in evaluators if _accepts_output_dir(e)]
        if not targets:
            types = [e.get('type') for e in evaluators]
            raise TestToolError(
                f'--out {args.out} (a directory) needs a test_evaluator that writes '
                f'PNGs (output_dir, e.g. IoUMetric), but {args.config} has {types}; '
                'give --out a .pkl file name to dump the predictions instead')
        for evaluator in targets:
            evaluator['output_dir'] = args.out
        return None
    if not is_pickle:
        raise TestToolError(
            f'--out {args.out}: the predictions are dumped as a pickle, so the file '
            f'name must end with .pkl or .pickle')
    return 'DumpDetResults' if host == 'mmdet' else 'DumpResults'


def build_runner(cfg):
    """The runner of ``cfg`` (``runner_type``, default ``MMPadRunner``)."""
    from mmengine.registry import RUNNERS
    return RUNNERS.build(cfg)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)

    def fail(message: str) -> None:
        print(f'error: {message}', file=sys.stderr)
        sys.exit(2)

    try:
        check_args(args)
    except TestToolError as err:
        fail(str(err))
    import mmpad  # noqa: F401
    from mmengine.dist import is_main_process
    from mmpad.core import CheckpointMismatchError, ConfigError
    from mmpad.core.checkpoint.loading import CheckpointLoadError

    try:
        cfg = runner_config(args)
        cfg.load_from = args.checkpoint
        cfg.resume = False
        if args.show or args.show_dir:
            setup_visualization(cfg, args)
        if args.tta:
            setup_tta(cfg, args)
        dump = setup_out(cfg, args) if args.out is not None else None
    except TestToolError as err:
        fail(str(err))
    try:
        runner = build_runner(cfg)
    except ConfigError as err:
        fail(str(err))
    if dump == 'DumpDetResults':
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    elif dump == 'DumpResults':
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    if (args.show or args.show_dir) and runner.distributed and is_main_process():
        from mmengine.dist import get_world_size
        runner.logger.warning(
            f'--show/--show-dir under {get_world_size()} processes: only the images '
            'rank 0 tests are drawn (the visualizers draw on rank 0 only); run '
            'tools/test.py without a launcher to draw every test image')
    try:
        metrics = runner.test()
    except (CheckpointMismatchError, CheckpointLoadError) as err:
        # a checkpoint of another model, or one that is damaged / refused
        fail(str(err))
    if not is_main_process():
        return  # the metrics are the same on every rank: rank 0 reports them
    print(metrics)
    show_dir = show_dir_of(runner, cfg, args)
    if show_dir is not None:
        print(f'painted images: {show_dir}')
    if args.out is not None:
        print(f'predictions: {osp.abspath(args.out)}')
    if args.metrics_out:
        import json
        os.makedirs(osp.dirname(osp.abspath(args.metrics_out)), exist_ok=True)
        with open(args.metrics_out, 'w') as f:
            json.dump({k: float(v) if isinstance(v, (int, float)) else str(v)
                       for k, v in metrics.items()}, f, indent=1)


if __name__ == '__main__':
    main()
