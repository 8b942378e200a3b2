#!/usr/bin/env python
"""PAD vs full continual pre-training of the same MAE, side by side.

For each encoder (MAE ViT-B/16 with its 8 x 512 decoder, and ViT-S/16 with the
same decoder) at mask ratio 0.75, the same batch and the same masks are trained
(forward + backward + AdamW step) in two modes:

* ``pad``:  ``type='PAD'``: encoder frozen (``requires_grad=False``), adapters
  (r = 64, concat scale) and decoder trainable;
* ``full``: the stock MAE, every parameter trainable (paradigm (c) of the PAD
  paper's Fig. 1, full continual pre-training).

Each (model, mode) runs in its own subprocess so that peak memory is its own.
Reported per pair, with the ratio pad / full:

* step time: median over the timed steps of the process CPU time (robust to the
  other jobs on a shared machine; on CUDA: wall time with synchronisation), for
  the whole step and for forward + backward alone (the part the FLOP floor
  describes; the full model's larger AdamW step comes on top);
* peak memory (CPU): peak RSS of the process above its RSS right after the
  imports, i.e. weights + gradients + optimizer state + activations (the
  ~1 GB of torch / mmdet / mmseg / mmpretrain code is the same in both modes and
  is left out); the total peak RSS is printed too. ``--device cuda``: the CUDA
  allocator's peak;
* optimizer-state bytes (AdamW moments; frozen parameters have none);
* FLOPs of one training step counted by ``torch.utils.flop_counter`` (what
  autograd really computes). Their ratio is the step-time floor: frozen encoder
  blocks skip their weight-gradient matmuls but still back-propagate to earlier
  adapters, nothing before the first adapter (patch embedding) runs backward, the
  decoder trains fully. Target: the measured time ratio within 5 % of the floor,
  peak memory <= 0.7 x.

Usage::

    python benchmarks/bench_pad.py                       # CPU, ~2 min
    python benchmarks/bench_pad.py --archs b --batch 4 --steps 5
    python benchmarks/bench_pad.py --device cuda --amp --batch 64 --steps 20
    python benchmarks/bench_pad.py --device cuda --amp --archs b,l --batch 256 \
        --max-batch 4096 --json-out pad.json   # + images/s, MFU, largest batch

On CUDA it also prints images/s and the model FLOP utilisation (counted FLOPs per
step / median step time / PEAK_TFLOPS, the measured bf16 matmul peak of an H200);
benchmarks/gpu/run_pad_gpu.sh runs it on a GPU machine.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

ARCHS = {
    # name: (mmpretrain arch, label)
    'b': ('b', 'MAE ViT-B/16'),
    's': (dict(embed_dims=384, num_layers=12, num_heads=6,
               feedforward_channels=1536), 'MAE ViT-S/16'),
    'l': ('l', 'MAE ViT-L/16'),
}
#: embedding width of the mmpretrain named archs (the decoder's input)
ARCH_EMBED = {'b': 768, 'l': 1024}

#: measured bf16 dense-matmul peak of the GPU the MFU is quoted against (TFLOP/s;
#: an 8192^3 bf16 matmul on one H200)
PEAK_TFLOPS = 790.0


def mae_cfg(arch_key: str) -> dict:
    """Stock mmpretrain MAE (8 x 512 decoder, norm-pix L2, mask 0.75)."""
    arch, _ = ARCHS[arch_key]
    embed = ARCH_EMBED[arch] if isinstance(arch, str) else arch['embed_dims']
    return dict(
        type='MAE',
        backbone=dict(type='MAEViT', arch=arch, patch_size=16,
                      mask_ratio=0.75),
        neck=dict(type='MAEPretrainDecoder', patch_size=16, in_chans=3,
                  embed_dim=embed, decoder_embed_dim=512, decoder_depth=8,
                  decoder_num_heads=16, mlp_ratio=4.),
        head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=16,
                  loss=dict(type='PixelReconstructionLoss', criterion='L2')),
        init_cfg=[
            dict(type='Xavier', layer='Linear', distribution='uniform'),
            dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
        ])


def rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------- worker
def worker(args) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    torch.set_num_threads(args.threads)
    import mmpad  # noqa: F401
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    rss_imports = rss_mb()  # runtime baseline: torch + hosts (~1 GB here)

    dev = torch.device(args.device)
    torch.manual_seed(0)
    cfg = mae_cfg(args.arch)
    if args.mode == 'pad':
        cfg = dict(type='PAD', algorithm=cfg,
                   adapter=dict(bottleneck=64, scale_mode='concat'))
    from mmengine.logging import MMLogger
    MMLogger.get_instance('bench_pad', log_level='WARNING')
    model = MODELS.build(cfg)
    model.init_weights()
    model.to(dev).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95),
                            weight_decay=0.05)
    amp_dtype = getattr(torch, args.amp_dtype)
    # a loss scale only for fp16 (bf16 has fp32's exponent range)
    scaler = torch.amp.GradScaler('cuda') \
        if args.amp and amp_dtype == torch.float16 else None
    g = torch.Generator().manual_seed(123)
    x = torch.randn(args.batch, 3, 224, 224, generator=g).to(dev)
    samples = [DataSample() for _ in range(args.batch)]

    def sync():
        if dev.type == 'cuda':
            torch.cuda.synchronize()

    def clock() -> float:
        sync()
        return time.perf_counter() if dev.type == 'cuda' else \
            time.process_time()

    def step(i: int) -> tuple:
        """One training step; returns (forward + backward time, step time)."""
        t0 = clock()
        torch.manual_seed(1000 + i)  # same masks in both modes
        with torch.autocast(dev.type, dtype=amp_dtype,
                            enabled=bool(args.amp)):
            loss = model.loss(x, samples)['loss']
        if scaler is not None:
            scaler.scale(loss).backward()
            t1 = clock()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            t1 = clock()
            opt.step()
        opt.zero_grad(set_to_none=True)
        t2 = clock()
        return t1 - t0, t2 - t0

    rss_before = rss_mb()
    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
    for i in range(args.warmup):
        step(i)
    sync()
    times = [step(args.warmup + i) for i in range(args.steps)]
    out = dict(arch=args.arch, mode=args.mode, batch=args.batch,
               fb_s=statistics.median(t[0] for t in times),
               step_s=statistics.median(t[1] for t in times),
               rss_imports_mb=rss_imports, rss_before_mb=rss_before,
               peak_rss_mb=peak_rss_mb())
    if dev.type == 'cuda':
        out['cuda_peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
        out['cuda_base_mb'] = base_alloc / 2**20
    out['optim_state_mb'] = sum(
        t.numel() * t.element_size() for st in opt.state.values()
        for t in st.values() if torch.is_tensor(t) and t.dim() > 0) / 2**20
    out['trainable'] = sum(p.numel() for p in params)
    out['total_params'] = sum(p.numel() for p in model.parameters())
    # FLOPs of one full training step (forward + backward), as executed
    counter = FlopCounterMode(display=False)
    with counter:
        torch.manual_seed(1000)
        loss = model.loss(x, samples)['loss']
        loss.backward()
    opt.zero_grad(set_to_none=True)
    out['gflops'] = counter.get_total_flops() / 1e9
    if args.max_batch:
        out['max_batch'] = largest_batch(model, opt, scaler, amp_dtype, args)
    return out


def largest_batch(model, opt, scaler, amp_dtype, args) -> dict:
    """The largest batch (doubling from ``--batch`` up to ``--max-batch``) whose
    training step (forward, backward, optimizer step) runs without running out of
    memory, with the allocator's peak at that batch; ``oom_at``: the first batch
    that did not fit (None when the cap was reached); ``error``: the first line of
    a failure other than ``torch.OutOfMemoryError`` at that batch."""
    import torch
    from mmpretrain.structures import DataSample
    dev = next(model.parameters()).device
    fits, peak_mb, oom_at, batch, error = None, None, None, args.batch, None
    while batch <= args.max_batch:
        x = None
        try:
            if dev.type == 'cuda':
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            x = torch.randn(batch, 3, 224, 224, device=dev)
            samples = [DataSample() for _ in range(batch)]
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=bool(args.amp)):
                loss = model.loss(x, samples)['loss']
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            if dev.type == 'cuda':
                torch.cuda.synchronize()
                peak_mb = torch.cuda.max_memory_allocated() / 2**20
            fits = batch
        except torch.OutOfMemoryError:
            oom_at = batch
            break
        except RuntimeError as err:  # e.g. a cuBLAS workspace allocation failing
            oom_at, error = batch, str(err).splitlines()[0][:300]
            break
        finally:
            opt.zero_grad(set_to_none=True)
            loss = x = None
        batch *= 2
    return dict(fits=fits, peak_mb=peak_mb, oom_at=oom_at, cap=args.max_batch,
                error=error)


# --------------------------------------------------------------------- parent
def run_worker(args, arch: str, mode: str) -> dict:
    cmd = [sys.executable, osp.abspath(__file__), '--worker', '--arch', arch,
           '--mode', mode, '--batch', str(args.batch), '--steps',
           str(args.steps), '--warmup', str(args.warmup), '--threads',
           str(args.threads), '--device', args.device]
    if args.amp:
        cmd += ['--amp', '--amp-dtype', args.amp_dtype]
    if args.max_batch:
        cmd += ['--max-batch', str(args.max_batch)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               PYTHONWARNINGS='ignore')
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f'worker {arch}/{mode} failed:\n{proc.stderr[-3000:]}')
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')][-1]
    return json.loads(line)


def report(pad: dict, full: dict, device: str) -> None:
    label = ARCHS[pad['arch']][1]
    clock = 'wall' if device == 'cuda' else 'cpu'
    fb_ratio = pad['fb_s'] / full['fb_s']
    t_ratio = pad['step_s'] / full['step_s']
    floor = pad['gflops'] / full['gflops']
    print(f'\n== {label}: PAD (adapters + decoder) vs full continual '
          'pre-training, same batch and masks ==')
    print(f'  trainable params     {pad["trainable"]:>14,} {full["trainable"]:>14,}'
          f'   ratio {pad["trainable"] / full["trainable"]:.3f}')
    print(f'  step FLOPs (G)       {pad["gflops"]:>14.1f} {full["gflops"]:>14.1f}'
          f'   ratio {floor:.3f}  <- step-time floor')
    print(f'  fwd+bwd time ({clock}, s) {pad["fb_s"]:>9.3f} {full["fb_s"]:>14.3f}'
          f'   ratio {fb_ratio:.3f}  ({(fb_ratio / floor - 1) * 100:+.1f}% vs '
          'floor)')
    print(f'  step time ({clock}, s)  {pad["step_s"]:>12.3f} '
          f'{full["step_s"]:>14.3f}   ratio {t_ratio:.3f}  '
          f'({(t_ratio / floor - 1) * 100:+.1f}% vs floor, target <= +5%; '
          'incl. the AdamW step)')
    if device == 'cuda':
        m_ratio = pad['cuda_peak_mb'] / full['cuda_peak_mb']
        print(f'  peak CUDA mem (MB)   {pad["cuda_peak_mb"]:>14.0f} '
              f'{full["cuda_peak_mb"]:>14.0f}   ratio {m_ratio:.3f}  '
              '(target <= 0.70)')
    else:
        mem_p = pad['peak_rss_mb'] - pad['rss_imports_mb']
        mem_f = full['peak_rss_mb'] - full['rss_imports_mb']
        print(f'  peak memory (MB)     {mem_p:>14.0f} {mem_f:>14.0f}   ratio '
              f'{mem_p / mem_f:.3f}  (target <= 0.70; peak RSS above the '
              'post-import RSS)')
        print(f'  total peak RSS (MB)  {pad["peak_rss_mb"]:>14.0f} '
              f'{full["peak_rss_mb"]:>14.0f}   ratio '
              f'{pad["peak_rss_mb"] / full["peak_rss_mb"]:.3f}  (incl. '
              f'{pad["rss_imports_mb"]:.0f} MB of imported code)')
    print(f'  optimizer state (MB) {pad["optim_state_mb"]:>14.1f} '
          f'{full["optim_state_mb"]:>14.1f}   ratio '
          f'{pad["optim_state_mb"] / full["optim_state_mb"]:.3f}')
    if device == 'cuda':
        report_cuda(pad, full)


def throughput(res: dict, peak_tflops: float = PEAK_TFLOPS) -> dict:
    """images/s and model FLOP utilisation of one worker's result: counted
    forward + backward FLOPs per step / median step time / the peak."""
    return dict(images_per_s=res['batch'] / res['step_s'],
                tflops=res['gflops'] / 1e3 / res['step_s'],
                mfu=res['gflops'] * 1e9 / res['step_s'] / (peak_tflops * 1e12))


def report_cuda(pad: dict, full: dict) -> None:
    """images/s, MFU (goal >= 40 % for PAD-MAE ViT-B) and the largest batch."""
    tp, tf = throughput(pad), throughput(full)
    print(f'  images/s             {tp["images_per_s"]:>14.0f} '
          f'{tf["images_per_s"]:>14.0f}   ratio '
          f'{tp["images_per_s"] / tf["images_per_s"]:.3f}')
    print(f'  MFU (of {PEAK_TFLOPS:.0f} TFLOP/s) {tp["mfu"] * 100:>13.1f}% '
          f'{tf["mfu"] * 100:>13.1f}%   (goal >= 40 %; {tp["tflops"]:.0f} / '
          f'{tf["tflops"]:.0f} TFLOP/s)')
    if 'max_batch' in pad:
        mp, mf = pad['max_batch'], full['max_batch']
        print(f'  largest batch        {str(mp["fits"]):>14} {str(mf["fits"]):>14}'
              f'   (doubling from {pad["batch"]}; cap {mp["cap"]}; first OOM: '
              f'{mp["oom_at"]} / {mf["oom_at"]})')


def pair_record(pad: dict, full: dict) -> dict:
    """One JSON record of a (PAD, full) pair with the derived ratios."""
    floor = pad['gflops'] / full['gflops']
    rec = dict(arch=pad['arch'], label=ARCHS[pad['arch']][1], batch=pad['batch'],
               pad=pad, full=full, flop_floor=floor,
               step_ratio=pad['step_s'] / full['step_s'],
               fb_ratio=pad['fb_s'] / full['fb_s'])
    rec['step_vs_floor'] = rec['step_ratio'] / floor - 1
    rec['fb_vs_floor'] = rec['fb_ratio'] / floor - 1
    if 'cuda_peak_mb' in pad:
        rec['cuda_mem_ratio'] = pad['cuda_peak_mb'] / full['cuda_peak_mb']
        rec['pad'].update(throughput(pad))
        rec['full'].update(throughput(full))
    return rec


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('--archs', default='b,s',
                   help='comma list of encoders: b (ViT-B), s (ViT-S), l (ViT-L)')
    p.add_argument('--batch', type=int, default=None,
                   help='images per step (default 2 on CPU, 64 on CUDA)')
    p.add_argument('--steps', type=int, default=3, help='timed steps')
    p.add_argument('--warmup', type=int, default=1, help='untimed steps')
    p.add_argument('--threads', type=int, default=1,
                   help='torch CPU threads per worker')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--amp', action='store_true',
                   help='autocast (CUDA); fp16 with a dynamic GradScaler')
    p.add_argument('--amp-dtype', default='float16',
                   choices=['float16', 'bfloat16'],
                   help='autocast dtype with --amp (bfloat16: no loss scale)')
    p.add_argument('--max-batch', type=int, default=0,
                   help='also find the largest batch that trains: double --batch '
                        'until out of memory or above this cap (0: off)')
    p.add_argument('--json-out', help='write the (PAD, full) records here')
    p.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--arch', default='b', help=argparse.SUPPRESS)
    p.add_argument('--mode', default='pad', help=argparse.SUPPRESS)
    p.add_argument('--print-cfg', metavar='ARCH',
                   help='print the MAE model config of ARCH (s, b, l) as JSON and exit')
    args = p.parse_args(argv)
    if args.batch is None:
        args.batch = 64 if args.device == 'cuda' else 2
    if args.amp and args.device != 'cuda':
        p.error('--amp needs --device cuda')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.print_cfg:
        print(json.dumps(mae_cfg(args.print_cfg)), flush=True)
        return
    if args.worker:
        print(json.dumps(worker(args)), flush=True)
        return
    archs = [a.strip() for a in args.archs.split(',') if a.strip()]
    unknown = [a for a in archs if a not in ARCHS]
    if unknown:
        raise SystemExit(f'unknown --archs {unknown}; choose from {list(ARCHS)}')
    print(f'bench_pad: device={args.device} amp={args.amp} batch={args.batch} '
          f'steps={args.steps} (+{args.warmup} warm-up) threads={args.threads}; '
          'columns: PAD, full')
    t0 = time.time()
    records = []
    for arch in archs:
        pad = run_worker(args, arch, 'pad')
        full = run_worker(args, arch, 'full')
        report(pad, full, args.device)
        records.append(pair_record(pad, full))
        if args.json_out:  # after each pair: a later pair may run out of time
            with open(args.json_out, 'w') as f:
                json.dump(dict(device=args.device, amp=args.amp,
                               amp_dtype=args.amp_dtype, steps=args.steps,
                               warmup=args.warmup, peak_tflops=PEAK_TFLOPS,
                               pairs=records), f, indent=1)
    print(f'\n(total {time.time() - t0:.0f} s)')


if __name__ == '__main__':
    main()
