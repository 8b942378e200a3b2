#!/usr/bin/env python
"""The mmpad tour on the embedded infrared data: ``make demo``.

Every stage runs the same tools and configs a user runs (``tools/train.py``,
``tools/test.py``, converters, proposal generation), only smaller. Stages whose
outputs exist are skipped, so an interrupted demo restarts where it stopped.
The run ends with ``<work-dir>/report.md``.

    python tools/demo.py                              # all stages, generated data
    python tools/demo.py --stages data,foundation     # a subset
    python tools/demo.py --data-root /data/infrared   # real data in the same layouts
    python tools/demo.py --list                       # what each stage does
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@dataclass
class Context:
    work_dir: str
    data_root: str
    generate_data: bool
    device: str
    quick: bool
    env: Dict[str, str] = field(default_factory=dict)

    def path(self, *parts: str) -> str:
        return osp.join(self.work_dir, *parts)


@dataclass
class Stage:
    name: str
    description: str
    run: Callable[[Context], dict]
    needs: List[str] = field(default_factory=list)


STAGES: List[Stage] = []


def stage(name: str, description: str, needs: Optional[List[str]] = None):
    def deco(fn):
        STAGES.append(Stage(name, description, fn, needs or []))
        return fn
    return deco


# ------------------------------------------------------------------------ helpers
def sh(ctx: Context, args: List[str], log_name: str) -> str:
    """Run a tool from the repo root, streaming into ``logs/<log_name>.log``; print a
    heartbeat so long stages visibly progress. Returns the captured output."""
    cmd = [sys.executable] + args if args[0].endswith('.py') else args
    env = dict(os.environ, **ctx.env)
    env['PYTHONUNBUFFERED'] = '1'
    log_path = ctx.path('logs', log_name + '.log')
    os.makedirs(osp.dirname(log_path), exist_ok=True)
    print(f'    $ {" ".join(cmd[1:] if cmd[0] == sys.executable else cmd)}', flush=True)
    t0 = time.time()
    out_lines: List[str] = []
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        last = time.time()
        for line in proc.stdout:  # type: ignore[union-attr]
            log.write(line)
            out_lines.append(line)
            if 'Iter(train)' in line or 'Epoch(train)' in line or \
                    time.time() - last > 20:
                msg = line.strip()
                print(f'      [{time.time() - t0:5.0f}s] {msg[:150]}', flush=True)
                last = time.time()
        proc.wait()
    if proc.returncode != 0:
        tail = ''.join(out_lines[-40:])
        raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}); '
                           f'log: {log_path}\n{tail}')
    return ''.join(out_lines)


def train(ctx: Context, config: str, work_dir: str, log_name: str,
          options: Optional[List[str]] = None) -> str:
    """``tools/train.py`` and the path of the last checkpoint it wrote."""
    args = ['tools/train.py', config, '--work-dir', work_dir]
    if options:
        args += ['--cfg-options'] + options
    sh(ctx, args, log_name)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def test(ctx: Context, config: str, checkpoint: str, work_dir: str,
         log_name: str, options: Optional[List[str]] = None) -> dict:
    """``tools/test.py``; returns its metrics."""
    out = osp.join(work_dir, 'metrics.json')
    args = ['tools/test.py', config, checkpoint, '--work-dir', work_dir,
            '--metrics-out', out]
    if options:
        args += ['--cfg-options'] + options
    sh(ctx, args, log_name)
    with open(out) as f:
        return json.load(f)


# ------------------------------------------------------------------------- stages
@stage('data', 'generate the embedded infrared data (MSIP, FLIR, SODA, MFNet layouts)')
def stage_data(ctx: Context) -> dict:
    if not ctx.generate_data:
        missing = [d for d in ('msip', 'flir', 'soda', 'mfnet')
                   if not osp.isdir(osp.join(ctx.data_root, d))]
        if missing:
            raise FileNotFoundError(
                f'--data-root {ctx.data_root!r} lacks {missing}; expected the layouts '
                'described in docs/data.md')
        return dict(note=f'using existing data at {ctx.data_root}')
    sh(ctx, ['tools/generate_demo_data.py', ctx.data_root, '--seed', '0',
             '--preset', 'tiny' if ctx.quick else 'default'], 'data')
    return dict(note=f'generated into {ctx.data_root}')


@stage('foundation', 'train + evaluate a small RetinaNet on FLIR-style data (smoke test)',
       needs=['data'])
def stage_foundation(ctx: Context) -> dict:
    cfg = 'configs/foundation/retinanet_r18-tiny_flir-demo.py'
    wd = ctx.path('foundation')
    iters = '8' if ctx.quick else '40'
    ckpt = train(ctx, cfg, wd, 'foundation_train',
                 [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}'])
    metrics = test(ctx, cfg, ckpt, wd, 'foundation_test')
    return dict(metrics={k: v for k, v in metrics.items() if 'bbox_mAP' in k})


# ------------------------------------------------------------------------- report
def write_report(ctx: Context, results: Dict[str, dict]) -> str:
    lines = ['# mmpad demo report', '',
             f'Data: `{ctx.data_root}`; work dir: `{ctx.work_dir}`.', '',
             '| stage | what | status | seconds |', '|---|---|---|---|']
    for st in STAGES:
        r = results.get(st.name)
        if r is None:
            continue
        lines.append(f'| {st.name} | {st.description} | {r.get("status")} | '
                     f'{r.get("seconds", 0):.0f} |')
    lines += ['', '## Metrics', '']
    for name, r in results.items():
        for k, v in (r.get('metrics') or {}).items():
            lines.append(f'- **{name}** `{k}`: {v}')
    for name, r in results.items():
        for pic in r.get('pictures', []):
            rel = osp.relpath(pic, ctx.work_dir)
            lines += ['', f'![{name}]({rel})']
    path = ctx.path('report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default=None,
                        help='use existing data in the real layouts instead of '
                        'generating it (default: generate into <work-dir>/data)')
    parser.add_argument('--stages', default='all',
                        help='comma-separated stage names (default: all)')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--quick', action='store_true',
                        help='smallest setting (tiny data, fewest iterations)')
    parser.add_argument('--force', action='store_true',
                        help='re-run stages whose outputs exist')
    parser.add_argument('--list', action='store_true', help='list the stages')
    args = parser.parse_args(argv)

    if args.list:
        for st in STAGES:
            print(f'{st.name:12s} {st.description}')
        return 0
    names = [s.name for s in STAGES] if args.stages == 'all' else \
        [s.strip() for s in args.stages.split(',') if s.strip()]
    unknown = [n for n in names if n not in {s.name for s in STAGES}]
    if unknown:
        parser.error(f'unknown stage(s) {unknown}; see --list')

    work_dir = osp.abspath(args.work_dir)
    data_root = osp.abspath(args.data_root) if args.data_root else \
        osp.join(work_dir, 'data')
    ctx = Context(work_dir=work_dir, data_root=data_root,
                  generate_data=args.data_root is None, device=args.device,
                  quick=args.quick, env={'MMPAD_DATA_ROOT': data_root})
    if args.device == 'cpu':
        ctx.env['CUDA_VISIBLE_DEVICES'] = ''
    os.makedirs(work_dir, exist_ok=True)
    state_path = ctx.path('stages.json')
    results: Dict[str, dict] = {}
    if osp.isfile(state_path):
        with open(state_path) as f:
            results = json.load(f)

    t_all = time.time()
    selected = [s for s in STAGES if s.name in names]
    for i, st in enumerate(selected, 1):
        done = results.get(st.name, {}).get('status') == 'done'
        if done and not args.force:
            print(f'[{i}/{len(selected)}] {st.name}: done earlier, skipped '
                  f'(--force to redo)', flush=True)
            continue
        for dep in st.needs:
            if results.get(dep, {}).get('status') != 'done':
                raise SystemExit(f'stage {st.name!r} needs stage {dep!r} first')
        print(f'[{i}/{len(selected)}] {st.name}: {st.description}', flush=True)
        t0 = time.time()
        try:
            out = st.run(ctx) or {}
        except Exception as err:  # noqa: BLE001 - report and stop cleanly
            results[st.name] = dict(status='failed', error=str(err)[:2000],
                                    seconds=time.time() - t0)
            with open(state_path, 'w') as f:
                json.dump(results, f, indent=1)
            write_report(ctx, results)
            print(f'    FAILED: {err}', file=sys.stderr)
            return 1
        out.update(status='done', seconds=time.time() - t0)
        results[st.name] = out
        with open(state_path, 'w') as f:
            json.dump(results, f, indent=1)
        for k, v in (out.get('metrics') or {}).items():
            print(f'    {k}: {v}')
        print(f'    done in {out["seconds"]:.0f}s', flush=True)
    report = write_report(ctx, results)
    print(f'demo finished in {time.time() - t_all:.0f}s; report: {report}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
