"""Which checkpoint a ``--resume`` continues from, and with which seed.

mmengine's auto-resume reads ``<work_dir>/last_checkpoint``, which is written
*after* a checkpoint file is complete, so a run killed while saving never points
at a half-written file. Two gaps remain that matter on preemptible clusters:

* ``last_checkpoint`` itself is rewritten in place; a kill at that moment leaves it
  empty, and it can name a file that was deleted, truncated or damaged since. We
  then fall back to the newest ``epoch_*.pth`` / ``iter_*.pth`` that verifies:
  every zip record's CRC-32 matches (:func:`mmpad.core.checkpoint.loading.
  verify_checkpoint`), so a file with flipped bytes in its tensor data or its
  pickle is skipped with a warning naming it and the damaged record.
* A config without ``randomness.seed`` gets a new random seed per launch; mmengine
  re-seeds on resume but only after the data loader and its sampler were built
  with the new seed, so the data order changes. :func:`pin_resume_seed` puts the
  checkpoint's seed into the config before anything is built.
"""
from __future__ import annotations

import glob
import os.path as osp
import re
from typing import Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

_CKPT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from: missing, truncated, or a zip record
    whose CRC-32 does not match (None when the file verifies)."""
    from mmpad.core.checkpoint.loading import checkpoint_problem as problem
    return problem(path)


def is_complete_checkpoint(path: str) -> bool:
    """The file exists and every record matches its stored checksum."""
    return checkpoint_problem(path) is None


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to auto-resume from in ``work_dir`` (None when there is
    none): ``last_checkpoint`` if it names a file that verifies, else the newest
    ``epoch_N.pth``/``iter_N.pth`` that verifies. Each file skipped is named in
    a warning with the reason."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = ''
    skipped = set()
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and not osp.isabs(named) and not osp.exists(named):
            named = osp.join(work_dir, named)
        if named:
            problem = checkpoint_problem(named)
            if problem is None:
                return named
            print_log(f'resume: skipping {named} (named by {pointer}): '
                      f'{problem}', logger='current', level=30)
            skipped.add(osp.realpath(named))
    candidates = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = _CKPT_NAME.match(osp.basename(path))
        if match:
            candidates.append((int(match.group(2)), path))
    for _, path in sorted(candidates, reverse=True):
        if osp.realpath(path) in skipped:
            continue
        problem = checkpoint_problem(path)
        if problem is None:
            if named or osp.isfile(pointer):
                print_log(
                    f'resume: {pointer} names {named or "nothing"!r}, which is '
                    f'missing or does not verify; resuming from {path} instead',
                    logger='current', level=30)
            return path
        print_log(f'resume: skipping {path}: {problem}', logger='current',
                  level=30)
    return None


def pin_resume_seed(cfg: Config, checkpoint: str) -> None:
    """Set ``cfg.randomness.seed`` to the seed ``checkpoint`` was trained with,
    when the config leaves it unset (see the module docstring)."""
    randomness = cfg.get('randomness') or ConfigDict()
    if randomness.get('seed') is not None:
        return
    from mmpad.core.checkpoint.reader import read_checkpoint
    meta = read_checkpoint(checkpoint, map_location='cpu').get('meta') or {}
    seed = meta.get('seed')
    if seed is None:
        return
    randomness = ConfigDict(randomness)
    randomness.seed = seed
    cfg.randomness = randomness
    print_log(f'resume: using the seed of {checkpoint} ({seed}) so the data '
              'order and augmentations continue as before', logger='current')
