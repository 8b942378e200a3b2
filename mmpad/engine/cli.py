"""Command-line handling shared by ``tools/train.py`` and ``tools/test.py``: the
arguments every Runner tool takes and the config they make, as in mmengine's
tools.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_runner_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--cfg-options``, ``--launcher`` and ``--local_rank`` (also spelt
    ``--local-rank``, as torchrun passes it) to ``parser``; returns it."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value (xxx=yyy format)')
    parser.add_argument('--launcher', default='none', choices=list(LAUNCHERS),
                        help='job launcher (dist_*.sh pass pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by the launcher; LOCAL_RANK in the environment wins')
    return parser


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[List[str]] = None) -> argparse.Namespace:
    """``parser.parse_args(argv)``; sets ``LOCAL_RANK`` from ``--local_rank``
    unless the launcher already set it."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def runner_config(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` for a Runner: ``args.launcher``, the
    ``--cfg-options`` merged in, the work dir (``--work-dir``, else the config's,
    else ``./work_dirs/<config name>``) and ``runner_type`` defaulting to
    ``MMPadRunner``.

    Args:
        args: parsed arguments with ``config``, ``launcher``, ``cfg_options`` and
            ``work_dir``.
    """
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.setdefault('runner_type', 'MMPadRunner')
    return cfg
