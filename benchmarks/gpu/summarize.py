#!/usr/bin/env python
"""Collect what run_pad_gpu.sh left in its work folder into one JSON and a markdown
summary (both under OUT).

    python benchmarks/gpu/summarize.py WORK OUT

Reads: WORK/steps.tsv (step, exit status, seconds), WORK/stack.json,
WORK/bench_*.json (benchmarks/bench_pad.py --json-out), WORK/train_*/probe.jsonl
(GPUProbeHook), WORK/train_*/adapter_only_*.pth, WORK/loader.json
(bench_loader.py). A missing piece is reported as missing, not guessed.
"""
from __future__ import annotations

import glob
import json
import math
import os
import os.path as osp
import sys
from typing import List, Optional

MFU_GOAL = 0.40
FLOOR_GOAL = 0.05
MEM_GOAL = 0.70
#: run_pad_gpu.sh's step exit codes: timeout's 124 / 137 (killed), 125 (skipped:
#: no time left in the budget)
STATUS = {'0': 'ok', '124': 'timed out', '137': 'timed out', '125': 'skipped'}


def _load(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_steps(work: str) -> List[dict]:
    rows = []
    path = osp.join(work, 'steps.tsv')
    if osp.exists(path):
        for line in open(path):
            name, rc, sec = line.rstrip('\n').split('\t')
            rows.append(dict(step=name, rc=int(rc), seconds=float(sec),
                             status=STATUS.get(rc, 'failed')))
    return rows


def train_summary(run_dir: str) -> dict:
    """Loss trend, loss-scale history and the adapter-scale release of one run."""
    recs = []
    probe = osp.join(run_dir, 'probe.jsonl')
    if osp.exists(probe):
        recs = [json.loads(ln) for ln in open(probe) if ln.strip()]
    out = dict(iters=len(recs))
    ckpts = sorted(glob.glob(osp.join(run_dir, 'adapter_only_*.pth')))
    out['adapter_checkpoints'] = {osp.basename(p): os.path.getsize(p) for p in ckpts}
    fulls = sorted(glob.glob(osp.join(run_dir, 'epoch_*.pth')))
    out['full_checkpoints'] = {osp.basename(p): os.path.getsize(p) for p in fulls}
    if not recs:
        return out
    losses = [r['loss'] for r in recs]
    k = max(1, len(losses) // 10)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    held = [r for r in recs if r.get('scale_held')]
    free = [r for r in recs if r.get('scale_held') is False]
    scales = [(r['iter'], r['loss_scale']) for r in recs]
    changes = [scales[0]] + [s for p, s in zip(scales, scales[1:]) if s[1] != p[1]]
    out.update(
        all_finite=all(math.isfinite(v) for v in losses),
        loss_first10pct=first, loss_last10pct=last, loss_decreased=last < first,
        loss_curve=[(r['iter'], round(r['loss'], 5))
                    for r in recs[::max(1, len(recs) // 40)]],
        loss_scale_changes=changes[:60],
        held_iters=len(held), released_iters=len(free),
        scale_delta_while_held=max((r['scale_delta'] for r in held), default=None),
        scale_delta_at_end=recs[-1]['scale_delta'],
        scale_frozen_then_learning=bool(held) and bool(free)
        and max(r['scale_delta'] for r in held) == 0.0
        and recs[-1]['scale_delta'] > 0.0,
        max_mem_mb=recs[-1].get('max_mem_mb'))
    return out


def _pct(x: Optional[float]) -> str:
    return '-' if x is None else f'{x * 100:.1f} %'


def _largest(mb: Optional[dict]) -> str:
    """'-' (not searched), '>= cap' (no OOM up to the cap), the batch, '(error)'."""
    if not mb:
        return '-'
    if mb['fits'] is not None and mb['oom_at'] is None:
        return f'>= {mb["fits"]}'
    return f'{mb["fits"]}' + (' (error)' if mb.get('error') else '')


def markdown(res: dict) -> str:
    lines = ['# PAD on one GPU: run_pad_gpu.sh summary', '']
    st = res.get('stack') or {}
    lines += [f'Stack: {st.get("device", "?")}; torch {st.get("torch", "?")}, '
              f'mmengine {st.get("mmengine", "?")}, mmcv {st.get("mmcv", "?")}, '
              f'mmpretrain {st.get("mmpretrain", "?")}; python {st.get("python", "?")}; '
              f'mode: {res.get("mode")}', '']
    lines += ['| step | status | s |', '| --- | --- | ---: |']
    lines += [f'| {s["step"]} | {s["status"]} (rc {s["rc"]}) | {s["seconds"]:.0f} |'
              for s in res['steps']]
    lines += ['', '## bench_pad.py: PAD vs full MAE, same batch and masks', '',
              '| model | batch | mode | images/s | step ms | MFU | peak mem GiB | '
              'largest batch |', '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |']
    ratios = []
    for b in res['bench']:
        for mode in ('pad', 'full'):
            r = b[mode]
            mb = _largest(r.get('max_batch'))
            mem = r.get('cuda_peak_mb')
            lines.append(
                f'| {b["label"]} | {b["batch"]} | {mode} | '
                f'{r.get("images_per_s", r["batch"] / r["step_s"]):.0f} | '
                f'{r["step_s"] * 1e3:.1f} | {_pct(r.get("mfu"))} | '
                f'{"-" if mem is None else f"{mem / 1024:.1f}"} | {mb} |')
        ratios.append(
            f'- {b["label"]} batch {b["batch"]}: FLOP floor {b["flop_floor"]:.3f}, '
            f'step ratio {b["step_ratio"]:.3f} ({b["step_vs_floor"] * 100:+.1f} % vs '
            f'floor, goal <= +{FLOOR_GOAL * 100:.0f} %), fwd+bwd ratio '
            f'{b["fb_ratio"]:.3f} ({b["fb_vs_floor"] * 100:+.1f} %)'
            + (f', peak memory ratio {b["cuda_mem_ratio"]:.3f} (goal <= {MEM_GOAL})'
               if 'cuda_mem_ratio' in b else ''))
    lines += [''] + ratios
    best = res.get('best_pad_b')
    if best:
        lines += ['', f'PAD-MAE ViT-B best: {best["images_per_s"]:.0f} images/s, MFU '
                  f'{_pct(best["mfu"])} at batch {best["batch"]} (goal >= '
                  f'{MFU_GOAL * 100:.0f} %: {"met" if best["mfu"] >= MFU_GOAL else "not met"})']
    lines += ['', '## tools/train.py: PAD-MAE ViT-B, generated MSIP-style data', '']
    for name, t in res['train'].items():
        if not t.get('iters'):
            lines.append(f'- {name}: no iterations recorded')
            continue
        lines.append(
            f'- {name}: {t["iters"]} iterations, losses finite: {t["all_finite"]}, '
            f'loss {t["loss_first10pct"]:.4f} (first 10 %) -> {t["loss_last10pct"]:.4f} '
            f'(last 10 %), decreased: {t["loss_decreased"]}; scales held '
            f'{t["held_iters"]} iterations (max change {t["scale_delta_while_held"]}), '
            f'then learning {t["released_iters"]} (change at end '
            f'{t["scale_delta_at_end"]:.3g}): frozen-then-learning '
            f'{t["scale_frozen_then_learning"]}; loss scale (iter, value) '
            f'{t["loss_scale_changes"][:12]}; adapter-only checkpoints '
            f'{t["adapter_checkpoints"]} bytes')
    ld = res.get('loader')
    lines += ['', '## Data pipeline (train pipeline + collate, DataLoader)', '']
    if ld:
        for r in ld['rows']:
            lines.append(f'- {r["workers"]} workers: {r["images_per_s"]:.0f} images/s '
                         f'(batch {r["batch"]}; {ld["cpus"]} CPUs)')
        if best:
            top = max(r['images_per_s'] for r in ld['rows'])
            lines.append(f'- loader / PAD-MAE ViT-B model images/s: '
                         f'{top / best["images_per_s"]:.2f} '
                         f'({"starves the GPU" if top < best["images_per_s"] else "keeps up"})')
    else:
        lines.append('- not measured')
    return '\n'.join(lines) + '\n'


def main(argv=None) -> None:
    work, out = (argv or sys.argv[1:])[:2]
    res = dict(mode=os.environ.get('MMPAD_GPU_MODE', 'gpu'),
               steps=read_steps(work), stack=_load(osp.join(work, 'stack.json')))
    res['bench'] = []
    for path in sorted(glob.glob(osp.join(work, 'bench_*.json'))):
        data = _load(path)
        if data:
            res['bench'] += data['pairs']
    pads = [dict(b['pad'], batch=b['batch']) for b in res['bench']
            if b['arch'] == 'b' and 'mfu' in b['pad']]
    res['best_pad_b'] = max(pads, key=lambda r: r['images_per_s'], default=None)
    res['train'] = {osp.basename(d): train_summary(d)
                    for d in sorted(glob.glob(osp.join(work, 'train_*')))
                    if osp.isdir(d)}
    res['loader'] = _load(osp.join(work, 'loader.json'))
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(res, f, indent=1)
    md = markdown(res)
    with open(osp.join(out, 'summary.md'), 'w') as f:
        f.write(md)
    print(md)


if __name__ == '__main__':
    main()
