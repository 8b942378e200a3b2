#!/usr/bin/env python
"""The mmpad tour on the embedded infrared data: ``make demo``.

Every stage runs the same tools and configs a user runs (``tools/train.py``,
``tools/test.py``, converters, proposal generation), only smaller, each tool in its
own process (forked from this one after the heavy libraries are imported once).
Stages whose outputs exist are skipped, so an interrupted demo restarts where it
stopped. A stage that fails does not stop the demo: the stages that need it are
skipped, the others run, and the exit code is 1. The run ends with
``<work-dir>/report.md`` (stages with their times and failures, metrics, pictures).

    python tools/demo.py                              # all stages, generated data
    python tools/demo.py --stages data,rois,params    # a subset
    python tools/demo.py --data-root /data/infrared   # real data in the same layouts
    python tools/demo.py --list                       # what each stage does
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@dataclass(frozen=True)
class Setting:
    """How big the demo is. ``None`` keeps the config's own length."""
    data_preset: str            # tools/generate_demo_data.py --preset
    pad_det_iters: Optional[int]
    pad_seg_iters: Optional[int]
    aligndet_pretrain_iters: int
    aligndet_finetune_iters: Optional[int]
    sop_pretrain_iters: Optional[int]
    sop_finetune_iters: Optional[int]


SETTINGS: Dict[str, Setting] = {
    # what `make demo` runs (and tests/tools/test_demo.py checks)
    'default': Setting(data_preset='default', pad_det_iters=120, pad_seg_iters=120,
                       aligndet_pretrain_iters=48, aligndet_finetune_iters=120,
                       sop_pretrain_iters=None, sop_finetune_iters=None),
    # the smallest setting that still runs every tool (--quick)
    'quick': Setting(data_preset='tiny', pad_det_iters=20, pad_seg_iters=20,
                     aligndet_pretrain_iters=8, aligndet_finetune_iters=8,
                     sop_pretrain_iters=60, sop_finetune_iters=20),
}


@dataclass
class Context:
    work_dir: str
    data_root: str
    generate_data: bool
    device: str
    setting: Setting
    env: Dict[str, str] = field(default_factory=dict)
    # filled while a stage runs: every command with its log and time, and every
    # training run with its config and options (tests replay them)
    steps: List[dict] = field(default_factory=list)
    runs: List[dict] = field(default_factory=list)

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


class StageError(RuntimeError):
    """A command of a stage failed: its one-line reason and its log."""

    def __init__(self, command: str, returncode: int, error_line: str, log: str):
        self.command, self.returncode = command, returncode
        self.error_line, self.log = error_line, log
        super().__init__(f'{command} exited with {returncode}: {error_line} '
                         f'(log: {log})')


_ERROR_LINE = re.compile(r'(Error|error:|Exception|FAILED|Traceback|nan\b)')


def error_line(lines: List[str]) -> str:
    """The line of a failed command's output that says what went wrong: the last
    line naming an error (a Python exception, ``error: ...``), else the last line."""
    text = [ln.strip() for ln in lines if ln.strip()]
    for ln in reversed(text):
        if _ERROR_LINE.search(ln) and not ln.startswith('Traceback'):
            return ln[:400]
    return text[-1][:400] if text else '(no output)'


# ------------------------------------------------------------------------ helpers
# The heavy libraries every tool imports (torch, mmengine, mmcv's ops, mmdet, mmseg,
# mmpretrain, OpenCV, matplotlib): imported once by the demo, then each tool runs in
# a child process forked from it, so a tool starts in well under a second instead of
# 5-8 s of imports. mmpad itself is not preloaded: each tool imports it fresh, so
# its per-process state (bad-sample counts, RoI-crop statistics) is the tool's own.
PRELOAD = ('torch', 'torchvision', 'cv2', 'numpy', 'mmengine.runner', 'mmcv.ops',
           'mmpretrain.models', 'mmpretrain.engine', 'mmpretrain.datasets',
           'mmdet.models', 'mmdet.datasets', 'mmdet.engine', 'mmdet.evaluation',
           'mmseg.models', 'mmseg.datasets', 'mmseg.engine', 'mmseg.evaluation',
           'matplotlib.pyplot', 'yapf.yapflib.yapf_api')


def preload(modules=PRELOAD) -> None:
    """Import ``modules`` into the demo process (missing ones are skipped)."""
    import importlib
    import matplotlib
    matplotlib.use('Agg')
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a host that is not installed: the tool says so
            pass


def _run_forked(script: str, argv: List[str], env: Dict[str, str],
                log_path: str) -> int:
    """Run ``script`` as ``__main__`` with ``argv`` in a forked child whose stdout
    and stderr go to ``log_path``; returns the pid."""
    import runpy
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    pid = os.fork()
    if pid:
        os.close(log_fd)
        return pid
    code = 1
    try:  # the child: never returns into the demo
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
        os.environ.update(env)
        os.chdir(REPO)
        sys.argv = [script] + list(argv)
        try:
            runpy.run_path(script, run_name='__main__')
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else \
                (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - reported in the log, exit code 1
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def sh(ctx: Context, args: List[str], log_name: str) -> str:
    """Run a tool (``tools/<name>.py ARGS``) from the repo root in its own process,
    streaming into ``logs/<log_name>.log``; print a heartbeat so long stages visibly
    progress. Returns the captured output; raises :class:`StageError` (error line +
    log path) when the tool fails."""
    env = dict(ctx.env)
    env['PYTHONUNBUFFERED'] = '1'
    log_path = ctx.path('logs', log_name + '.log')
    os.makedirs(osp.dirname(log_path), exist_ok=True)
    shown = ' '.join(args)
    print(f'    $ {shown}', flush=True)
    t0 = time.time()
    out_lines: List[str] = []
    pid = _run_forked(osp.join(REPO, args[0]), args[1:], env, log_path)
    last = time.time()
    status = None
    with open(log_path, errors='replace') as log:
        partial = ''
        while True:
            chunk = log.readline()
            if chunk:
                partial += chunk
                if not partial.endswith('\n') and status is None:
                    status = _reap(pid)  # a line still being written
                    time.sleep(0.05)
                    continue
                line, partial = partial, ''
                out_lines.append(line)
                progress = 'Iter(train)' in line or 'Epoch(train)' in line or \
                    'Iter(test)' in line
                if (progress and time.time() - last > 10) or time.time() - last > 30:
                    msg = line.strip().split(' - INFO - ')[-1]
                    print(f'      [{time.time() - t0:5.0f}s] {_compact(msg)}',
                          flush=True)
                    last = time.time()
                continue
            if status is not None:  # exited and everything read
                if partial:
                    out_lines.append(partial)
                break
            status = _reap(pid)
            if status is None:
                time.sleep(0.1)
    returncode = os.waitstatus_to_exitcode(status)
    seconds = time.time() - t0
    ctx.steps.append(dict(command=shown, log=log_path, seconds=round(seconds, 1),
                          returncode=returncode))
    if returncode != 0:
        raise StageError(osp.basename(args[0]), returncode,
                         error_line(out_lines), log_path)
    return ''.join(out_lines)


def _reap(pid: int) -> Optional[int]:
    """The child's wait status once it has exited, else None."""
    done, status = os.waitpid(pid, os.WNOHANG)
    return status if done else None


def _compact(msg: str) -> str:
    """'Epoch(train) [6][16/26]  base_lr: ... loss: 0.61 ...' -> short progress."""
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
    """``tools/train.py`` and the path of the last checkpoint it wrote. The run is
    recorded in the stage's ``runs`` (config, options, environment, work dir, log),
    which the
    demo's robustness test replays under other seeds and thread counts."""
    options = list(options or [])
    ctx.runs.append(dict(name=log_name, config=config, options=options,
                         work_dir=work_dir, env=dict(ctx.env),
                         log=ctx.path('logs', log_name + '.log')))
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


def iters_options(iters: Optional[int], val: bool = True) -> List[str]:
    """``--cfg-options`` that set an iteration-based run's length."""
    if iters is None:
        return []
    opts = [f'train_cfg.max_iters={iters}']
    if val:
        opts.append(f'train_cfg.val_interval={iters}')
    return opts


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
             '--preset', ctx.setting.data_preset], 'data')
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
    # the newest run of the work dir that logged training losses (tools/test.py
    # writes its own, loss-free, scalars.json into the same work dir)
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    for path in reversed(files):
        rows = [json.loads(line) for line in open(path)]
        losses = [r['loss'] for r in rows if 'loss' in r]
        if losses:
            return losses
    return []


FINAL_LOSS = 'final train loss'


def final_loss(work_dir: str) -> float:
    """Mean of the last quarter of a run's logged training losses: at toy scale it
    separates twins that an AP of 0 on both does not."""
    losses = _losses(work_dir)
    k = max(1, len(losses) // 4)
    return round(sum(losses[-k:]) / k, 4) if losses else float('nan')


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
        opts += iters_options(iters)
        last = train(ctx, f'{PAD_DOWN}/{cfg}', wd, f'{name}_{key}_train', opts)
        res = test(ctx, f'{PAD_DOWN}/{cfg}', last, wd, f'{name}_{key}_test', opts)
        metrics[f'{which} {metric}'] = round(float(res.get(metric, 0.0)), 4)
        metrics[f'{which} {FINAL_LOSS}'] = final_loss(wd)
    return dict(metrics=metrics)


@stage('pad_det', 'fine-tune FLIR-style detection (ViTDet Faster R-CNN): PAD backbone '
       'vs. baseline twin', needs=['pad_convert'])
def stage_pad_det(ctx: Context) -> dict:
    return _twins(ctx, 'flir', 'faster-rcnn_vit-tiny-pad_simplefpn_flir-demo.py',
                  'faster-rcnn_vit-tiny_simplefpn_flir-demo.py', 'det',
                  'coco/bbox_mAP_50', ctx.setting.pad_det_iters)


@stage('pad_seg', 'fine-tune SODA-style segmentation (UperNet): PAD backbone vs. '
       'baseline twin', needs=['pad_convert'])
def stage_pad_seg(ctx: Context) -> dict:
    return _twins(ctx, 'soda', 'upernet_mae-tiny-pad_soda-demo.py',
                  'upernet_mae-tiny_soda-demo.py', 'seg', 'mIoU',
                  ctx.setting.pad_seg_iters)


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
    iters = ctx.setting.aligndet_pretrain_iters
    ckpt = train(ctx, pre_cfg, ctx.path('aligndet', 'pretrain'), 'aligndet_pretrain',
                 [f'train_dataloader.dataset.ann_file={proposals}',
                  f'train_cfg.max_iters={iters}',
                  f'default_hooks.checkpoint.interval={iters}'])
    ft_cfg = f'{ALIGNDET_DEMO}/retinanet_r18-tiny_flir-demo_aligndet.py'
    converted = ctx.path('aligndet', 'aligndet_mmdet.pth')
    sh(ctx, ['tools/aligndet_to_mmdet.py', ckpt, converted, '--config', ft_cfg],
       'aligndet_convert')
    metrics = {}
    ft_iters = iters_options(ctx.setting.aligndet_finetune_iters, val=False)
    for name, cfg, opts in (
            ('AlignDet init', ft_cfg, [f'load_from={converted}']),
            ('baseline', 'configs/foundation/retinanet_r18-tiny_flir-demo.py', [])):
        key = 'aligndet' if name.startswith('AlignDet') else 'base'
        wd = ctx.path('aligndet', f'finetune_{key}')
        last = train(ctx, cfg, wd, f'aligndet_finetune_{key}', opts + ft_iters)
        res = test(ctx, cfg, last, wd, f'aligndet_finetune_{key}_test')
        metrics[f'{name} coco/bbox_mAP_50'] = round(
            float(res.get('coco/bbox_mAP_50', 0.0)), 4)
        metrics[f'{name} {FINAL_LOSS}'] = final_loss(wd)
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
    iters = iters_options(ctx.setting.sop_pretrain_iters, val=False)
    ckpt = train(ctx, pre_cfg, wd, 'sop_pretrain', iters)
    pretext = test(ctx, pre_cfg, ckpt, wd, 'sop_pretext_test')
    converted = ctx.path('sop', 'sop_to_seg.pth')
    sh(ctx, ['tools/sop_to_seg.py', ckpt, converted], 'sop_convert')
    metrics = {'SOP pretext IoU (sop/IoU)': round(float(pretext['sop/IoU']), 4)}
    ft_iters = iters_options(ctx.setting.sop_finetune_iters, val=False)
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
        metrics[f'{name} {FINAL_LOSS}'] = final_loss(ft)
    return dict(metrics=metrics, checkpoint=ckpt)


PARAM_CONFIGS = {
    '(a) from scratch on MSIP (MAE ViT-B)':
        'configs/pad/mae_vit-base-p16_8xb512-amp-coslr-400e_msip-scratch.py',
    '(c) full continual pre-training (MAE ViT-B)':
        'configs/pad/mae_vit-base-p16_8xb512-amp-coslr-100e_msip-in1k-full.py',
    '(d) PAD-MAE ViT-B, r=64':
        'configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py',
    'AlignDet RetinaNet R-50 (online + target)':
        'configs/aligndet/aligndet_retinanet_r50_fpn_8xb2-12e_coco-proposals.py',
    'SOP DeepLabV3+ R-50 (early fusion)':
        'configs/sop/sop_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py',
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
        items = [(k, v) for k, v in metrics.items()
                 if 'pretext' not in k and FINAL_LOSS not in k]
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
def _rel(ctx: Context, path: str) -> str:
    return osp.relpath(path, ctx.work_dir) if path else ''


def write_report(ctx: Context, results: Dict[str, dict],
                 total_seconds: Optional[float] = None) -> str:
    """``report.md``: stages (status, time), failures with their error line and log,
    parameter table, metrics next to their twins, pictures."""
    lines = ['# mmpad demo report', '',
             f'Data: `{ctx.data_root}`; work dir: `{ctx.work_dir}`. Every number below '
             'comes from this run on the embedded (generated) infrared data with tiny '
             'models and few iterations: it shows the pipeline works end to end, not '
             'the papers\' accuracy (see README, model zoo).', '']
    stage_seconds = sum(r.get('seconds', 0) for r in results.values())
    if total_seconds is not None:
        lines += [f'Total time: **{total_seconds:.0f} s** for this invocation; '
                  f'{stage_seconds:.0f} s summed over the stages\' last runs.', '']
    lines += ['## Stages', '', '| stage | what | status | seconds |',
              '|---|---|---|---:|']
    for st in STAGES:
        r = results.get(st.name)
        if r is not None:
            status = r.get('status')
            lines.append(f'| {st.name} | {st.description} | '
                         f'{"**" + status + "**" if status != "done" else status} | '
                         f'{r.get("seconds", 0):.0f} |')
    bad = [(n, r) for n, r in results.items() if r.get('status') in ('failed', 'skipped')]
    if bad:
        lines += ['', '## Failures', '', '| stage | status | error | log |',
                  '|---|---|---|---|']
        for name, r in bad:
            err = (r.get('error') or '').replace('|', '\\|').replace('\n', ' ')
            log = f'`{_rel(ctx, r["log"])}`' if r.get('log') else ''
            lines.append(f'| {name} | {r["status"]} | `{err[:300]}` | {log} |')
        lines += ['', 'Fix the cause and run the demo again: only failed and missing '
                  'stages run.']
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
        if r.get('status') != 'done':
            continue
        for k, v in (r.get('metrics') or {}).items():
            if k.endswith(' ' + FINAL_LOSS):
                model, metric = k[:-len(FINAL_LOSS) - 1], FINAL_LOSS
            elif ' coco/' in k or k.endswith(' mIoU'):
                model, metric = k.rsplit(' ', 1)
            else:
                model, metric = k, ''
            lines.append(f'| {name} | {model} | {metric} | {v} |')
    pics = results.get('pictures', {}).get('pictures', [])
    if pics:
        lines += ['', '## Pictures']
        for pic in pics:
            rel = _rel(ctx, pic)
            lines += ['', f'### {osp.splitext(osp.basename(pic))[0]}', '',
                      f'![{osp.basename(pic)}]({rel})']
    path = ctx.path('report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def run_stages(ctx: Context, names: List[str], results: Dict[str, dict],
               force: bool = False) -> Dict[str, dict]:
    """Run the ``names`` stages in order and record each in ``results`` (saved to
    ``stages.json`` after every stage). A failed stage does not stop the demo: the
    stages that need it are marked ``skipped``, the others run. Finished stages are
    not run again unless ``force``."""
    state_path = ctx.path('stages.json')

    def save():
        with open(state_path, 'w') as f:
            json.dump(results, f, indent=1)

    selected = [s for s in STAGES if s.name in names]
    for i, st in enumerate(selected, 1):
        if results.get(st.name, {}).get('status') == 'done' and not force:
            print(f'[{i}/{len(selected)}] {st.name}: done earlier, skipped '
                  f'(--force to redo)', flush=True)
            continue
        missing = [d for d in st.needs if results.get(d, {}).get('status') != 'done']
        if missing:
            why = ', '.join(f'{d} ({results.get(d, {}).get("status", "not run")})'
                            for d in missing)
            results[st.name] = dict(status='skipped', seconds=0.0,
                                    error=f'needs stage {why}')
            print(f'[{i}/{len(selected)}] {st.name}: SKIPPED, needs stage {why}',
                  flush=True)
            save()
            continue
        print(f'[{i}/{len(selected)}] {st.name}: {st.description}', flush=True)
        ctx.steps, ctx.runs = [], []
        t0 = time.time()
        try:
            out = st.run(ctx) or {}
        except Exception as err:  # noqa: BLE001 - recorded, the demo goes on
            failure = dict(status='failed', seconds=time.time() - t0,
                           steps=ctx.steps, runs=ctx.runs)
            if isinstance(err, StageError):
                failure.update(error=f'{err.command}: {err.error_line}', log=err.log)
            else:
                failure.update(error=f'{type(err).__name__}: {err}'[:2000])
            results[st.name] = failure
            save()
            print(f'    FAILED after {failure["seconds"]:.0f}s: {failure["error"]}'
                  + (f'\n    log: {failure["log"]}' if failure.get('log') else ''),
                  file=sys.stderr, flush=True)
            continue
        out.update(status='done', seconds=time.time() - t0, steps=ctx.steps,
                   runs=ctx.runs)
        results[st.name] = out
        save()
        for k, v in (out.get('metrics') or {}).items():
            print(f'    {k}: {v}')
        print(f'    done in {out["seconds"]:.0f}s', flush=True)
    return results


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
            needs = f' (needs {", ".join(st.needs)})' if st.needs else ''
            print(f'{st.name:12s} {st.description}{needs}')
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
                  setting=SETTINGS['quick' if args.quick else 'default'],
                  env={'MMPAD_DATA_ROOT': data_root})
    if args.device == 'cpu':
        ctx.env['CUDA_VISIBLE_DEVICES'] = ''
    os.makedirs(work_dir, exist_ok=True)
    state_path = ctx.path('stages.json')
    results: Dict[str, dict] = {}
    if osp.isfile(state_path):
        with open(state_path) as f:
            results = json.load(f)

    t_all = time.time()
    if args.device == 'cpu':
        os.environ['CUDA_VISIBLE_DEVICES'] = ''  # before torch is imported
    preload()
    run_stages(ctx, names, results, force=args.force)
    total = time.time() - t_all
    report = write_report(ctx, results, total_seconds=total)
    print('\nstage         status    seconds')
    for st in STAGES:
        if st.name in names and st.name in results:
            r = results[st.name]
            print(f'{st.name:13s} {r["status"]:9s} {r.get("seconds", 0):7.0f}')
    bad = [n for n in names if results.get(n, {}).get('status') != 'done']
    if bad:
        print(f'demo finished in {total:.0f}s with {len(bad)} stage(s) not done '
              f'({", ".join(bad)}); report: {report}', file=sys.stderr)
        return 1
    print(f'demo finished in {total:.0f}s; report: {report}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
