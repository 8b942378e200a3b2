#!/usr/bin/env python
"""Start-up cost of mmpad's entry points, each imported in a fresh process.

For ``import mmpad``, ``import mmpad.pretrain``, ``import mmpad.core.proposals`` and
``from mmpad.core.proposals import generate_proposals`` (and a bare interpreter, the
baseline subtracted from every figure) a child process is started ``--repeat`` times,
the targets interleaved (A, B, C, A, B, C, ...); each reports the CPU seconds its
imports took (user + system, of the child itself), its peak RSS, and which heavy
libraries ended up in ``sys.modules``. The medians are printed, with the goals beside
them:

* ``from mmpad.core.proposals import generate_proposals`` (the numpy-only proposal
  tool): <= 1 s of imports, no torch / mmdet / mmseg;
* ``import mmpad.pretrain``: no mmseg, and mmdet only where mmpretrain itself
  imports it (mmpretrain 1.2.0 does whenever mmdet is installed,
  ``mmpretrain/models/utils/res_layer_extra_norm.py``).

``--bare`` adds the same imports with ``mmpad/__init__.py`` not run, i.e. what the
submodules themselves load (the package ``__init__`` registers every host).

Usage: python benchmarks/bench_import.py [--repeat 3] [--target mmpad.pretrain ...]
       [--repo /another/checkout]
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TARGETS = ('mmpad', 'mmpad.pretrain', 'mmpad.core.proposals',
           'mmpad.core.proposals:generate_proposals')
HEAVY = ('torch', 'mmengine', 'mmcv', 'cv2', 'mmpretrain', 'mmdet', 'mmseg', 'numba')
#: target -> (goal text, libraries that must stay out, CPU-seconds goal or None)
GOALS = {
    'mmpad': ('registers everything installed', (), None),
    # mmpretrain 1.2.0 itself imports mmdet.models when mmdet is installed
    'mmpad.pretrain': ('no mmseg; mmdet only through mmpretrain', ('mmseg',), None),
    'mmpad.core.proposals': ('no torch / mmdet / mmseg', ('torch', 'mmdet', 'mmseg'),
                             None),
    'mmpad.core.proposals:generate_proposals': (
        '<= 1 s, no torch / mmdet / mmseg', ('torch', 'mmdet', 'mmseg'), 1.0),
}

_CHILD = r'''
import importlib, json, resource, sys, time
target, bare = sys.argv[1], sys.argv[2] == 'bare'
t0 = time.process_time()
if bare:  # the submodules alone: mmpad/__init__.py is not run
    import importlib.util
    spec = importlib.util.find_spec('mmpad')
    sys.modules['mmpad'] = importlib.util.module_from_spec(spec)
if target:  # 'package.module' or 'package.module:name'
    module, _, name = target.partition(':')
    m = importlib.import_module(module)
    if name:
        getattr(m, name)
cpu = time.process_time() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps(dict(cpu=cpu, rss_mb=ru.ru_maxrss / 1024,
                      mods=[m for m in sys.argv[3:] if m in sys.modules])))
'''


def measure(target: str, repo: str = REPO, bare: bool = False) -> Dict:
    """One fresh interpreter importing ``target`` ('' = nothing) from ``repo``;
    ``bare``: with ``mmpad/__init__.py`` not run."""
    env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    out = subprocess.run([sys.executable, '-c', _CHILD, target, 'bare' if bare else 'full',
                          *HEAVY], cwd=repo,
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f'import {target} failed:\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--target', nargs='+', default=list(TARGETS))
    parser.add_argument('--repo', default=REPO,
                        help='the checkout to import mmpad from (default: this one)')
    parser.add_argument('--bare', action='store_true',
                        help='also import each submodule with mmpad/__init__.py not run '
                             '(what the submodules themselves load)')
    args = parser.parse_args(argv)
    rows = [('', False)] + [(t, False) for t in args.target]
    if args.bare:
        rows += [(t, True) for t in args.target if t != 'mmpad']
    runs: Dict = {row: [] for row in rows}
    for _ in range(args.repeat):
        for target, bare in rows:
            runs[target, bare].append(measure(target, args.repo, bare))
    base_rss = statistics.median(r['rss_mb'] for r in runs['', False])
    print(f'bare interpreter: {base_rss:.0f} MB RSS (subtracted below); '
          f'median of {args.repeat} fresh processes each, interleaved')
    print(f'{"import":<50}{"CPU s":>7}{"RSS MB":>8}  {"heavy modules loaded":<56}goal')
    failed = False
    for target, bare in rows[1:]:
        cpu = statistics.median(r['cpu'] for r in runs[target, bare])
        rss = statistics.median(r['rss_mb'] for r in runs[target, bare]) - base_rss
        mods = runs[target, bare][-1]['mods']
        goal, banned, cpu_goal = GOALS.get(target, ('', (), None))
        ok = not set(banned) & set(mods) and (cpu_goal is None or cpu <= cpu_goal)
        failed |= not ok and not bare
        label = target + (' (no mmpad/__init__)' if bare else '')
        print(f'{label:<50}{cpu:>7.2f}{rss:>8.0f}  {",".join(mods) or "-":<56}'
              f'{goal} [{"met" if ok else "NOT met"}]')
    return 0 if not failed or os.environ.get('BENCH_STRICT') != '1' else 1


if __name__ == '__main__':
    sys.exit(main())
