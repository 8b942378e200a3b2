"""Which checkpoint a ``--resume`` continues from, and with which seed.

mmengine's auto-resume reads ``<work_dir>/last_checkpoint``, which is written
*after* a checkpoint file is complete, so a run killed while saving never points
at a half-written file. Two gaps remain that matter on preemptible clusters:

* ``last_checkpoint`` itself is rewritten in place; a kill at that moment leaves it
  empty, and it can name a file that was deleted or truncated since. We then fall
  back to the newest ``epoch_*.pth`` / ``iter_*.pth`` that is a complete file.
* A config without ``randomness.seed`` gets a new random seed per launch; mmengine
  re-seeds on resume but only after the data loader and its sampler were built
  with the new seed, so the data order changes. :func:`pin_resume_seed` puts the
  checkpoint's seed into the config before anything is built.
"""
from __future__ import annotations

import glob
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

_CKPT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def is_complete_checkpoint(path: str) -> bool:
    """A torch checkpoint is a zip archive; a truncated one has no central
    directory and fails this check without being loaded."""
    return osp.isfile(path) and zipfile.is_zipfile(path)


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to auto-resume from in ``work_dir`` (None when there is
    none): ``last_checkpoint`` if it names a complete file, else the newest
    complete ``epoch_N.pth``/``iter_N.pth``."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = ''
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and not osp.isabs(named) and not osp.exists(named):
            named = osp.join(work_dir, named)
        if named and is_complete_checkpoint(named):
            return named
    candidates = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = _CKPT_NAME.match(osp.basename(path))
        if match:
            candidates.append((int(match.group(2)), path))
    for _, path in sorted(candidates, reverse=True):
        if is_complete_checkpoint(path):
            if named or osp.isfile(pointer):
                print_log(
                    f'resume: {pointer} names {named or "nothing"!r}, which is '
                    f'missing or incomplete; resuming from {path} instead',
                    logger='current', level=30)
            return path
        print_log(f'resume: skipping incomplete checkpoint {path}',
                  logger='current', level=30)
    return None


def pin_resume_seed(cfg: Config, checkpoint: str) -> None:
    """Set ``cfg.randomness.seed`` to the seed ``checkpoint`` was trained with,
    when the config leaves it unset (see the module docstring)."""
    randomness = cfg.get('randomness') or ConfigDict()
    if randomness.get('seed') is not None:
        return
    from mmpad.utils.checkpoint import torch_load_checked
    meta = torch_load_checked(checkpoint, map_location='cpu').get('meta', {})
    seed = meta.get('seed')
    if seed is None:
        return
    randomness = ConfigDict(randomness)
    randomness.seed = seed
    cfg.randomness = randomness
    print_log(f'resume: using the seed of {checkpoint} ({seed}) so the data '
              'order and augmentations continue as before', logger='current')
