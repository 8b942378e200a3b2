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
            progress = 'Iter(train)' in line or 'Epoch(train)' in line or \
                'Iter(test)' in line
            if (progress and time.time() - last > 10) or time.time() - last > 30:
                msg = line.strip().split(' - INFO - ')[-1]
                print(f'      [{time.time() - t0:5.0f}s] {_compact(msg)}', flush=True)
                last = time.time()
        proc.wait()
    if proc.returncode != 0:
        tail = ''.join(out_lines[-40:])
        raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}); '
                           f'log: {log_path}\n{tail}')
    return ''.join(out_lines)


def _compact(msg: str) -> str:
    """'Epoch(train) [6][16/26]  base_lr: ... loss: 0.61 ...' -> short progress."""
    import re
    head = re.match(r'\s*(\w+\(\w+\))\s*((\[\s*[\d/]+\])+)', msg)
    keep = [head.group(1), head.group(2).replace(' ', '')] if head else []
    words = msg.split()
    for key in ('loss:', 'eta:'):
        if key in words:
            i = words.index(key)
            keep += words[i:i + 2]
    return ' '.join(keep) if keep else msg[:120]


def train(ctx: Context, config: str, work_dir: str, log_name: str,
          options: Optional[List[str]] = None) -> str:
    """``tools/train.py`` and the path of the last checkpoint it wrote."""
    args = ['tools/train.py', config, '--work-dir', work_dir, '--no-validate']
    if options:
        args += ['--cfg-options'] + options
    sh(ctx, args, log_name)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def test(ctx: Context, config: str, checkpoint: str, work_dir: str,
         log_name: str, options: Optional[List[str]] = None) -> dict:
    """``tools/test.py``; returns its metrics (empty when a detector found nothing,
    which mmdet's CocoMetric reports as no metrics at all)."""
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


PAD_DEMO = 'configs/pad/demo'
PAD_DOWN = 'configs/pad/downstream/demo'


@stage('rois', 'selective-search RoIs for every MSIP image (PAD preset), in parallel',
       needs=['data'])
def stage_rois(ctx: Context) -> dict:
    out = sh(ctx, ['tools/generate_proposals.py', '--msip',
                   osp.join(ctx.data_root, 'msip'), '--preset', 'pad',
                   '--workers', '2'], 'rois')
    summary = [ln.strip() for ln in out.splitlines() if 'proposals per image' in ln]
    return dict(note=summary[-1] if summary else '')


@stage('pad_pretrain', 'MAE stand-in "ImageNet" model, then PAD-MAE on MSIP with '
       'RoI crops (frozen encoder, adapters + decoder train)', needs=['rois'])
def stage_pad_pretrain(ctx: Context) -> dict:
    base = train(ctx, f'{PAD_DEMO}/mae_vit-tiny-p16_demo.py', ctx.path('pad', 'mae'),
                 'pad_mae_base')
    pad = train(ctx, f'{PAD_DEMO}/pad-mae_vit-tiny-p16_demo.py',
                ctx.path('pad', 'pad_mae'), 'pad_pretrain', [f'load_from={base}'])
    return dict(checkpoints=dict(base=base, pad=pad),
                losses=dict(base=_losses(ctx.path('pad', 'mae')),
                            pad=_losses(ctx.path('pad', 'pad_mae'))))


def _losses(work_dir: str) -> List[float]:
    import glob
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        return []
    rows = [json.loads(line) for line in open(files[-1])]
    return [r['loss'] for r in rows if 'loss' in r]


def _converted(ctx: Context) -> Dict[str, str]:
    ck = ctx.path('pad', 'converted')
    return {f'{w}_{t}': osp.join(ck, f'{w}_{t}.pth') for w in ('pad', 'base')
            for t in ('det', 'seg')}


@stage('pad_convert', 'convert PAD and baseline checkpoints for mmdet / mmseg backbones',
       needs=['pad_pretrain'])
def stage_pad_convert(ctx: Context) -> dict:
    with open(ctx.path('stages.json')) as f:
        ckpts = json.load(f)['pad_pretrain']['checkpoints']
    out = _converted(ctx)
    for which in ('pad', 'base'):
        for target in ('det', 'seg'):
            args = ['tools/convert_pad_checkpoint.py', ckpts[which],
                    out[f'{which}_{target}'], '--target', target, '--num-heads', '2',
                    '--force']
            if which == 'pad':
                args += ['--bottleneck', '8']
            sh(ctx, args, f'pad_convert_{which}_{target}')
    return dict(checkpoints=out)


def _twins(ctx: Context, name: str, pad_cfg: str, base_cfg: str, target: str,
           metric: str, iters: Optional[int]) -> dict:
    ck = _converted(ctx)
    metrics = {}
    for which, cfg in (('PAD (d)', pad_cfg), ('baseline (b)', base_cfg)):
        key = 'pad' if which.startswith('PAD') else 'base'
        wd = ctx.path('pad', f'{name}_{key}')
        opts = [f'model.backbone.init_cfg.checkpoint={ck[f"{key}_{target}"]}']
        if iters:
            opts += [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}']
        last = train(ctx, f'{PAD_DOWN}/{cfg}', wd, f'{name}_{key}_train', opts)
        res = test(ctx, f'{PAD_DOWN}/{cfg}', last, wd, f'{name}_{key}_test', opts)
        metrics[f'{which} {metric}'] = round(float(res.get(metric, 0.0)), 4)
    return dict(metrics=metrics)


@stage('pad_det', 'fine-tune FLIR-style detection (ViTDet Faster R-CNN): PAD backbone '
       'vs. baseline twin', needs=['pad_convert'])
def stage_pad_det(ctx: Context) -> dict:
    return _twins(ctx, 'flir', 'faster-rcnn_vit-tiny-pad_simplefpn_flir-demo.py',
                  'faster-rcnn_vit-tiny_simplefpn_flir-demo.py', 'det',
                  'coco/bbox_mAP_50', 20 if ctx.quick else None)


@stage('pad_seg', 'fine-tune SODA-style segmentation (UperNet): PAD backbone vs. '
       'baseline twin', needs=['pad_convert'])
def stage_pad_seg(ctx: Context) -> dict:
    return _twins(ctx, 'soda', 'upernet_mae-tiny-pad_soda-demo.py',
                  'upernet_mae-tiny_soda-demo.py', 'seg', 'mIoU',
                  20 if ctx.quick else None)


ALIGNDET_DEMO = 'configs/aligndet/demo'


@stage('aligndet', 'AlignDet: selective-search proposals -> box-domain pre-training of '
       'neck + heads (RetinaNet) -> convert -> fine-tune vs. the same detector '
       'without it', needs=['data'])
def stage_aligndet(ctx: Context) -> dict:
    flir = osp.join(ctx.data_root, 'flir')
    proposals = ctx.path('aligndet', 'proposals_train.json')
    out = sh(ctx, ['tools/generate_proposals.py', '--img-dir', osp.join(flir, 'train'),
                   '--ann-file', osp.join(flir, 'train', 'thermal_annotations.json'),
                   '--preset', 'aligndet', '--out-json', proposals, '--workers', '2'],
             'aligndet_proposals')
    pre_cfg = f'{ALIGNDET_DEMO}/aligndet_retinanet_r18-tiny_flir-demo.py'
    iters = 8 if ctx.quick else 48
    ckpt = train(ctx, pre_cfg, ctx.path('aligndet', 'pretrain'), 'aligndet_pretrain',
                 [f'train_dataloader.dataset.ann_file={proposals}',
                  f'train_cfg.max_iters={iters}',
                  f'default_hooks.checkpoint.interval={iters}'])
    ft_cfg = f'{ALIGNDET_DEMO}/retinanet_r18-tiny_flir-demo_aligndet.py'
    converted = ctx.path('aligndet', 'aligndet_mmdet.pth')
    sh(ctx, ['tools/aligndet_to_mmdet.py', ckpt, converted, '--config', ft_cfg],
       'aligndet_convert')
    metrics = {}
    ft_iters = ['train_cfg.max_iters=8'] if ctx.quick else []
    for name, cfg, opts in (
            ('AlignDet init', ft_cfg, [f'load_from={converted}']),
            ('baseline', 'configs/foundation/retinanet_r18-tiny_flir-demo.py', [])):
        key = 'aligndet' if name.startswith('AlignDet') else 'base'
        wd = ctx.path('aligndet', f'finetune_{key}')
        last = train(ctx, cfg, wd, f'aligndet_finetune_{key}', opts + ft_iters)
        res = test(ctx, cfg, last, wd, f'aligndet_finetune_{key}_test')
        metrics[f'{name} coco/bbox_mAP_50'] = round(
            float(res.get('coco/bbox_mAP_50', 0.0)), 4)
    summary = [ln.strip() for ln in out.splitlines() if 'per image' in ln]
    return dict(metrics=metrics, note=summary[-1] if summary else '',
                proposals=proposals)


SOP_DEMO = 'configs/sop/demo'


@stage('sop', 'SOP pre-training (predict where a sub-image lies) -> convert -> '
       'fine-tune SODA-style segmentation vs. the same model from random init',
       needs=['data'])
def stage_sop(ctx: Context) -> dict:
    pre_cfg = f'{SOP_DEMO}/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py'
    wd = ctx.path('sop', 'pretrain')
    iters = ['train_cfg.max_iters=60'] if ctx.quick else []
    ckpt = train(ctx, pre_cfg, wd, 'sop_pretrain', iters)
    pretext = test(ctx, pre_cfg, ckpt, wd, 'sop_pretext_test')
    converted = ctx.path('sop', 'sop_to_seg.pth')
    sh(ctx, ['tools/sop_to_seg.py', ckpt, converted], 'sop_convert')
    metrics = {'SOP pretext IoU (sop/IoU)': round(float(pretext['sop/IoU']), 4)}
    ft_iters = ['train_cfg.max_iters=20'] if ctx.quick else []
    for name, cfg, opts in (
            ('SOP init', 'finetune_deeplabv3plus-r18-tiny_soda_sop-demo.py',
             [f'load_from={converted}']),
            ('random init', 'finetune_deeplabv3plus-r18-tiny_soda-demo.py', [])):
        key = 'sop' if name.startswith('SOP') else 'rand'
        ft = ctx.path('sop', f'finetune_{key}')
        last = train(ctx, f'{SOP_DEMO}/{cfg}', ft, f'sop_finetune_{key}',
                     opts + ft_iters)
        res = test(ctx, f'{SOP_DEMO}/{cfg}', last, ft, f'sop_finetune_{key}_test')
        metrics[f'{name} mIoU'] = round(float(res['mIoU']), 2)
    return dict(metrics=metrics, checkpoint=ckpt)


PARAM_CONFIGS = {
    '(a) from scratch on MSIP (MAE ViT-B)':
        'configs/pad/mae_vit-base-p16_8xb512-amp-coslr-400e_msip-scratch.py',
    '(c) full continual pre-training (MAE ViT-B)':
        'configs/pad/mae_vit-base-p16_8xb512-amp-coslr-100e_msip-in1k-full.py',
    '(d) PAD-MAE ViT-B, r=64':
        'configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py',
    'AlignDet RetinaNet R-50 (online + target)':
        'configs/aligndet/aligndet_retinanet_r50_fpn_12e_coco-proposals.py',
    'SOP DeepLabV3+ R-50 (early fusion)':
        'configs/sop/sop_pretrain_deeplabv3plus-r50_loveda.py',
}


@stage('params', 'trainable / frozen parameters per pre-training paradigm '
       '(full-size configs, built without weights)')
def stage_params(ctx: Context) -> dict:
    out = ctx.path('params.json')
    sh(ctx, ['tools/count_params.py', *PARAM_CONFIGS.values(), '--json', out],
       'params')
    with open(out) as f:
        counts = json.load(f)
    return dict(params={name: counts[cfg] for name, cfg in PARAM_CONFIGS.items()})


def _done(ctx: Context) -> Dict[str, dict]:
    path = ctx.path('stages.json')
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return {k: v for k, v in json.load(f).items() if v.get('status') == 'done'}


def _loss_curves(ctx: Context, out: str) -> Optional[str]:
    import glob

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    runs = sorted(glob.glob(ctx.path('*', '*', '*', 'vis_data', 'scalars.json')))
    runs = [r for r in runs if '_test' not in r]
    curves = {}
    for path in runs:
        rows = [json.loads(line) for line in open(path)]
        losses = [r['loss'] for r in rows if 'loss' in r]
        if len(losses) > 1:
            name = osp.relpath(path, ctx.work_dir).split(os.sep)
            curves['/'.join(name[:2])] = losses
    if not curves:
        return None
    cols = 3
    rows_n = (len(curves) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4 * cols, 2.6 * rows_n),
                             squeeze=False)
    for ax, (name, losses) in zip(axes.flat, curves.items()):
        ax.plot(range(1, len(losses) + 1), losses)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel('logged step', fontsize=8)
        ax.set_ylabel('loss', fontsize=8)
    for ax in list(axes.flat)[len(curves):]:
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def _summary_png(results: Dict[str, dict], out: str) -> Optional[str]:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    groups = [(n, r['metrics']) for n, r in results.items()
              if n in ('pad_det', 'pad_seg', 'aligndet', 'sop') and r.get('metrics')]
    if not groups:
        return None
    fig, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups), 3.2),
                             squeeze=False)
    for ax, (name, metrics) in zip(axes.flat, groups):
        items = [(k, v) for k, v in metrics.items() if 'pretext' not in k]
        ax.bar(range(len(items)), [v for _, v in items],
               color=['tab:red', 'tab:gray'][:len(items)])
        ax.set_xticks(range(len(items)))
        ax.set_xticklabels([k.split(' ')[0] + ('\n' + k.split(' ', 1)[1]
                            if ' ' in k else '') for k, _ in items], fontsize=7)
        ax.set_title(name, fontsize=9)
    fig.suptitle('fine-tuned model vs. its baseline twin (generated data)', fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


@stage('pictures', 'pictures: MAE reconstructions, RoI crops, proposals, SOP masks, '
       'loss curves, summary')
def stage_pictures(ctx: Context) -> dict:
    import glob
    done = _done(ctx)
    pics = ctx.path('pictures')
    os.makedirs(pics, exist_ok=True)
    made: List[str] = []
    if 'pad_pretrain' in done:
        out = osp.join(pics, 'mae_reconstructions.png')
        sh(ctx, ['tools/visualize_mae.py', f'{PAD_DEMO}/pad-mae_vit-tiny-p16_demo.py',
                 done['pad_pretrain']['checkpoints']['pad'], '--out', out,
                 '--num', '4'], 'pictures_mae')
        made.append(out)
    if 'rois' in done:
        sh(ctx, ['tools/browse_pipeline.py', 'rois', '--msip',
                 osp.join(ctx.data_root, 'msip'), '--num', '2', '--out',
                 osp.join(pics, 'rois')], 'pictures_rois')
        made += sorted(glob.glob(osp.join(pics, 'rois', '**', '*.png'),
                                 recursive=True))[:2]
    if 'aligndet' in done:
        sh(ctx, ['tools/browse_pipeline.py', 'proposals', '--img-dir',
                 osp.join(ctx.data_root, 'flir', 'train'), '--proposals',
                 done['aligndet']['proposals'], '--num', '2', '--out',
                 osp.join(pics, 'proposals')], 'pictures_proposals')
        made += sorted(glob.glob(osp.join(pics, 'proposals', '**', '*.png'),
                                 recursive=True))[:2]
    if 'sop' in done:
        out = osp.join(pics, 'sop_masks.png')
        with open(ctx.path('sop', 'pretrain', 'last_checkpoint')) as f:
            sop_ckpt = f.read().strip()
        sh(ctx, ['tools/visualize_sop.py',
                 f'{SOP_DEMO}/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py',
                 sop_ckpt, '--out', out, '--num', '4'],
           'pictures_sop')
        made.append(out)
    curves = _loss_curves(ctx, osp.join(pics, 'loss_curves.png'))
    if curves:
        made.append(curves)
    summary = _summary_png(done, ctx.path('summary.png'))
    if summary:
        made.append(summary)
    return dict(pictures=made)


# ------------------------------------------------------------------------- report
def write_report(ctx: Context, results: Dict[str, dict]) -> str:
    """``report.md``: stages, parameter table, metrics next to their twins, pictures."""
    lines = ['# mmpad demo report', '',
             f'Data: `{ctx.data_root}`; work dir: `{ctx.work_dir}`. Every number below '
             'comes from this run on the embedded (generated) infrared data with tiny '
             'models and few iterations: it shows the pipeline works end to end, not '
             'the papers\' accuracy (see README, model zoo).', '',
             '## Stages', '', '| stage | what | status | seconds |', '|---|---|---|---|']
    for st in STAGES:
        r = results.get(st.name)
        if r is not None:
            lines.append(f'| {st.name} | {st.description} | {r.get("status")} | '
                         f'{r.get("seconds", 0):.0f} |')
    params = results.get('params', {}).get('params')
    if params:
        lines += ['', '## Trainable parameters per paradigm (full-size configs)', '',
                  '| paradigm | trainable | of which adapters | frozen | total |',
                  '|---|---:|---:|---:|---:|']
        for name, c in params.items():
            lines.append(f'| {name} | {c["trainable"]:,} | {c["adapter"]:,} | '
                         f'{c["frozen"]:,} | {c["total"]:,} |')
    lines += ['', '## Fine-tuned models next to their baseline twins', '',
              '| stage | model | metric | value |', '|---|---|---|---:|']
    for name, r in results.items():
        for k, v in (r.get('metrics') or {}).items():
            if ' coco/' in k or k.endswith(' mIoU'):
                model, metric = k.rsplit(' ', 1)
            else:
                model, metric = k, ''
            lines.append(f'| {name} | {model} | {metric} | {v} |')
    for name, r in results.items():
        if r.get('status') == 'failed':
            lines += ['', f'**{name} failed:** `{r.get("error", "")[:500]}`']
    pics = results.get('pictures', {}).get('pictures', [])
    if pics:
        lines += ['', '## Pictures']
        for pic in pics:
            rel = osp.relpath(pic, ctx.work_dir)
            lines += ['', f'### {osp.splitext(osp.basename(pic))[0]}', '',
                      f'![{osp.basename(pic)}]({rel})']
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
