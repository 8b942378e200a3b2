#!/usr/bin/env python
"""Full-size smoke run of every shipped config (``make smoke``).

For every leaf config under ``configs/`` (``_base_/`` and ``demo/`` excepted) this

1. groups the configs that differ only in schedule or scalar hyper-parameters
   (:func:`smoke_signature`; ``tests/test_smoke_grouping.py`` proves each group
   resolves to one model, pipeline and dataset) and runs one config per group;
2. generates every data layout the configs read (``tools/generate_demo_data.py
   --layouts all``, the label-fraction splits by ``tools/make_label_fraction_splits.py``);
3. creates the checkpoints the configs load, with the real key layouts: a stock
   mmpretrain MAE / MaskFeat / MILAN ViT-B (and MILAN's CLIP ViT-B/16), a torchvision
   R50, an open-mmlab ResNetV1c-50, an mmseg MiT-B2 and ViT-B/16;
4. trains each group's config for 2 iterations at its real model size, input
   resolution and train pipeline through ``tools/train.py`` (batch 1, no workers,
   fp16 AMP replaced by fp32 on a CPU), saves a checkpoint, validates on 2 images
   with the config's own evaluator, and runs the workflow's converter
   (``tools/convert_pad_checkpoint.py``, ``tools/aligndet_to_mmdet.py``,
   ``tools/sop_to_seg.py``) whose output the fine-tuning configs load; an FSDP
   config (``model_wrapper_cfg`` of a ``*FullyShardedDataParallel``) is run by
   ``tools/dist_train.sh`` in one process, so that its sharded wrapper, optimizer
   and checkpoint gathering run (gloo on a CPU);
5. prints, per distinct combination, the time of the two iterations, the peak
   memory (RSS) of its process and the configs it covers.

Only ``data_root`` (and the paths derived from it) and the checkpoint paths of
``load_from`` / ``pretrained`` / ``init_cfg`` are pointed elsewhere; the smoke
settings (2 iterations, batch 1, fp32) are written into a small config per run that
inherits the shipped one (``OUT/cfg/<name>.py``, kept for reruns by hand)::

    python tools/smoke_configs.py                      # everything (make smoke)
    python tools/smoke_configs.py --list               # the groups only
    python tools/smoke_configs.py --only sop_deeplab   # groups matching a pattern
    python tools/smoke_configs.py --part ci            # what CI runs (see .ci/run)
"""
from __future__ import annotations

import argparse
import fnmatch
import glob
import json
import os
import os.path as osp
import pprint
import re
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO, 'configs')
TOOLS = osp.join(REPO, 'tools')

# ------------------------------------------------------------------ discovery


def leaf_configs(root: str = CONFIG_DIR) -> List[str]:
    """Every shipped full-size leaf config: ``root/**/*.py`` outside ``_base_/``
    and ``demo/`` folders, sorted, relative to the repository."""
    out = []
    for path in glob.glob(osp.join(root, '**', '*.py'), recursive=True):
        parts = osp.relpath(path, root).split(os.sep)
        if '_base_' in parts or 'demo' in parts:
            continue
        out.append(osp.relpath(path, REPO))
    return sorted(out)


def config_name(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


# ------------------------------------------------------------------ grouping
#: Top-level keys that only hold the schedule, logging or launch settings.
SCHEDULE_KEYS = frozenset((
    'train_cfg', 'val_cfg', 'test_cfg', 'param_scheduler', 'auto_scale_lr',
    'default_hooks', 'log_processor', 'log_level', 'work_dir', 'randomness',
    'env_cfg', 'visualizer', 'vis_backends', 'mmpad_vis_backends', 'launcher',
    'resume', 'max_epochs', 'max_iters', 'val_interval', 'base_lr', 'lr',
    'weight_decay', 'warmup_iters', 'num_last_epochs',
    # multi-GPU wrapping only (the smoke trains in one process)
    'model_wrapper_cfg', 'find_unused_parameters',
    # which labelled fraction / split seed (a scalar of the split file name below)
    'label_fraction', 'split_seed'))
#: Scalars of ``optim_wrapper`` (AMP vs fp32, loss scale) and of its optimizer.
OPTIM_WRAPPER_SCALARS = frozenset(('loss_scale', 'dtype', 'accumulative_counts',
                                   'clip_grad'))
WRAPPER_TYPES = frozenset(('OptimWrapper', 'AmpOptimWrapper'))
OPTIMIZER_SCALARS = frozenset(('lr', 'weight_decay', 'momentum', 'betas', 'eps'))
#: Dataloader scalars (the smoke sets batch 1, no workers).
DATALOADER_SCALARS = frozenset(('batch_size', 'num_workers', 'persistent_workers',
                                'pin_memory', 'drop_last'))
#: Samplers that differ only in how epochs end (epoch- vs iteration-based schedule).
SHUFFLING_SAMPLERS = frozenset(('DefaultSampler', 'InfiniteSampler'))
#: A label-fraction split file (tools/make_label_fraction_splits.py); which fraction
#: or seed is a scalar: the dataset class, its folders and pipeline are the same.
SPLIT_FILE = re.compile(r'^(?P<dir>(.*/)?splits/)(?P<prefix>\w+?)_\d+(\.\d+)?pct'
                        r'_seed\d+\.txt$')


def _plain(obj: Any, keep_tuples: bool = False) -> Any:
    """ConfigDict / tuple trees -> plain dicts and lists (tuples kept with
    ``keep_tuples``: what a written config must hold, e.g. ``Resize.scale``)."""
    if isinstance(obj, dict):
        return {k: _plain(v, keep_tuples) for k, v in obj.items()}
    if isinstance(obj, tuple) and keep_tuples:
        return tuple(_plain(v, keep_tuples) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [_plain(v, keep_tuples) for v in obj]
    return obj


def _drop_dataloader_scalars(loader: Any) -> Any:
    if not isinstance(loader, dict):
        return loader
    loader = {k: v for k, v in loader.items() if k not in DATALOADER_SCALARS}
    sampler = loader.get('sampler')
    if isinstance(sampler, dict) and sampler.get('type') in SHUFFLING_SAMPLERS:
        loader['sampler'] = dict(sampler, type='<shuffling sampler>')
    if 'dataset' in loader:
        loader['dataset'] = _normalise_split_files(loader['dataset'])
    return loader


def _normalise_split_files(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: (SPLIT_FILE.sub(r'\g<dir>\g<prefix>_<fraction>.txt', v)
                    if k == 'ann_file' and isinstance(v, str) else
                    _normalise_split_files(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_normalise_split_files(v) for v in obj]
    return obj


def smoke_signature(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """What a run of ``cfg`` exercises: the config without its schedule keys
    (:data:`SCHEDULE_KEYS`), optimiser scalars (lr, weight decay, momentum, fp16
    AMP vs fp32 wrapper, loss scale), dataloader scalars (batch size, workers) and
    the label fraction / seed of a split file. Model (with its init and
    ``load_from``), pipelines, dataset classes and folders, evaluators, hooks and
    optimiser constructor / ``paramwise_cfg`` (layer decay) stay.

    Args:
        cfg: ``Config.fromfile(path).to_dict()`` (or any plain dict of a config).
    """
    sig = {}
    for key, value in _plain(cfg).items():
        if key in SCHEDULE_KEYS or key.startswith('_'):
            continue
        if key == 'optim_wrapper' and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in OPTIM_WRAPPER_SCALARS
                     and not (k == 'type' and v in WRAPPER_TYPES)}
            if isinstance(value.get('optimizer'), dict):
                value['optimizer'] = {k: v for k, v in value['optimizer'].items()
                                      if k not in OPTIMIZER_SCALARS}
        elif key.endswith('_dataloader'):
            value = _drop_dataloader_scalars(value)
        sig[key] = value
    return sig


def signature_diff(a: Any, b: Any, prefix: str = '') -> List[str]:
    """Dotted paths where two plain config trees differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            path = f'{prefix}.{k}' if prefix else str(k)
            if k not in a or k not in b:
                out.append(path)
            else:
                out += signature_diff(a[k], b[k], path)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += signature_diff(x, y, f'{prefix}.{i}')
        return out
    return [] if a == b else [prefix or '<root>']


@dataclass
class Group:
    """Configs that share one smoke run; ``configs[0]`` runs (an fp32 one first)."""
    configs: List[str]
    signature: Dict[str, Any] = field(repr=False)

    @property
    def runs(self) -> str:
        return self.configs[0]

    @property
    def name(self) -> str:
        return config_name(self.runs)


def load_config_dict(path: str, keep_tuples: bool = False) -> Dict[str, Any]:
    """``path`` (relative to the repository) as a plain dict."""
    from mmengine.config import Config
    return _plain(Config.fromfile(osp.join(REPO, path)).to_dict(), keep_tuples)


def _configs_digest() -> str:
    import hashlib
    h = hashlib.sha256()
    for path in sorted(glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)):
        h.update(path.encode())
        with open(path, 'rb') as f:
            h.update(f.read())
    return h.hexdigest()


def load_all(paths: Sequence[str], cache: str) -> Dict[str, Dict[str, Any]]:
    """The plain dicts of ``paths``; reused from ``cache`` (JSON) while no file
    under configs/ changed (mmengine takes ~1 s per mmdet / mmseg config)."""
    digest = _configs_digest()
    if osp.exists(cache):
        with open(cache) as f:
            saved = json.load(f)
        if saved.get('digest') == digest and set(paths) <= set(saved['configs']):
            return {p: saved['configs'][p] for p in paths}
    cfgs = {p: load_config_dict(p) for p in paths}
    os.makedirs(osp.dirname(osp.abspath(cache)), exist_ok=True)
    with open(cache, 'w') as f:
        json.dump(dict(digest=digest, configs=cfgs), f)
    return cfgs


def group_configs(paths: Sequence[str],
                  load: Callable[[str], Dict[str, Any]] = load_config_dict
                  ) -> List[Group]:
    """Group ``paths`` by :func:`smoke_signature` (equal signatures share a run);
    within a group an fp32 config (no ``-amp-`` in its name) runs if there is one."""
    groups: List[Group] = []
    for path in paths:
        sig = smoke_signature(load(path))
        for g in groups:
            if g.signature == sig:
                g.configs.append(path)
                break
        else:
            groups.append(Group([path], sig))
    for g in groups:
        g.configs.sort(key=lambda p: ('-amp-' in config_name(p), p))
    return groups


# ------------------------------------------------------------------ data
#: The shipped configs' data roots -> generated layout folder (tools/generate_demo_data.py)
DATA_ROOTS = {'data/demo': '', 'data/coco': 'coco', 'data/loveDA': 'loveDA',
              'data/potsdam': 'potsdam', 'data/msip': 'msip',
              'data/FLIR_ADAS_1_3': 'flir', 'data/SODA': 'soda', 'data/MFNet': 'mfnet'}


def rewrite_data_paths(obj: Any, data_dir: str) -> Any:
    """Every string below a shipped data root (``data/coco/...``) moved to
    ``data_dir`` (the generated layouts)."""
    if isinstance(obj, dict):
        return {k: rewrite_data_paths(v, data_dir) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(rewrite_data_paths(v, data_dir) for v in obj)
    if isinstance(obj, str):
        for root, layout in DATA_ROOTS.items():
            if obj == root or obj.startswith(root + '/'):
                return osp.join(data_dir, layout).rstrip('/') + obj[len(root):]
    return obj


def generate_data(data_dir: str, log: Callable[[str], None]) -> None:
    """Every layout (tools/generate_demo_data.py --layouts all), the MSIP RoI files
    (tools/generate_proposals.py --preset pad) and the LoveDA / Potsdam
    label-fraction splits (tools/make_label_fraction_splits.py)."""
    steps = [('layouts', ['generate_demo_data.py', data_dir, '--layouts', 'all',
                          '--workers', '2']),
             # PAD's RoI files (<subset>/roi/*.txt), read by ObjectSensitiveRandomRoICrop
             ('rois', ['generate_proposals.py', '--msip', osp.join(data_dir, 'msip'),
                       '--preset', 'pad', '--workers', '2'])]
    for layout in ('loveDA', 'potsdam'):
        root = osp.join(data_dir, layout)
        steps.append((f'splits-{layout}', [
            'make_label_fraction_splits.py', osp.join(root, 'img_dir', 'train'),
            '--out-dir', osp.join(root, 'splits')]))
    for name, args in steps:
        stamp = osp.join(data_dir, f'.smoke-{name}-done')
        if osp.exists(stamp):
            log(f'data: {name} already in {data_dir}')
            continue
        _tool(args, log)
        open(stamp, 'w').close()


def _tool(args: List[str], log: Callable[[str], None]) -> str:
    cmd = [sys.executable, osp.join(TOOLS, args[0])] + args[1:]
    t0 = time.time()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise SmokeError(f'{" ".join(cmd)} exited with {res.returncode}:\n'
                         f'{res.stdout[-3000:]}\n{res.stderr[-3000:]}')
    log(f'  {" ".join(args)}  ({time.time() - t0:.1f}s)')
    return res.stdout


class SmokeError(RuntimeError):
    """A step of the smoke run failed (the message says which and why)."""


# ------------------------------------------------------------------ checkpoints
#: Checkpoint keys in a config: top-level ``load_from``, ``pretrained`` anywhere,
#: ``checkpoint`` of an ``init_cfg=dict(type='Pretrained')``, MILAN's CLIP file.
def checkpoint_refs(cfg: Dict[str, Any]) -> Iterator[Tuple[Tuple, str]]:
    """(path of keys, value) of every checkpoint string in a plain config tree."""
    def walk(obj, path):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if isinstance(v, str) and (
                        (k == 'load_from' and not path) or k == 'pretrained'
                        or k == 'tokenizer_path'
                        or (k == 'checkpoint' and obj.get('type') == 'Pretrained')):
                    yield path + (k, ), v
                else:
                    yield from walk(v, path + (k, ))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                yield from walk(v, path + (i, ))
    keep = ('model', 'load_from')
    yield from walk({k: v for k, v in cfg.items() if k in keep}, ())


def _set(tree: Any, path: Tuple, value: Any) -> None:
    for k in path[:-1]:
        tree = tree[k]
    tree[path[-1]] = value


def _save_state_dict(sd: Dict[str, Any], path: str, meta: Optional[dict] = None,
                     bare: bool = False) -> str:
    """Save ``sd`` atomically as ``dict(state_dict=sd, meta=meta)``, or as the
    state dict itself (``bare``: the layout of files such as the CLIP teacher)."""
    from mmpad.core.atomic_file import save_atomic
    sd = {k: v.detach().clone() for k, v in sd.items()}
    save_atomic(sd if bare else dict(state_dict=sd, meta=meta or {}), path)
    return path


def _build(scope: str, cfg: dict):
    import importlib
    from mmengine.registry import DefaultScope
    import mmpad  # noqa: F401
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)


def _no_init(cfg: dict) -> dict:
    cfg = {k: v for k, v in cfg.items() if k not in ('init_cfg', 'pretrained')}
    return cfg


class Checkpoints:
    """The checkpoints the configs load, created on first use under ``out``."""

    def __init__(self, out: str, log: Callable[[str], None]):
        self.out = out
        self.log = log
        # shipped path -> file made by a run (a converter), kept for later sessions
        self._produced_file = osp.join(out, 'produced.json')
        self.produced: Dict[str, str] = {}
        if osp.exists(self._produced_file):
            with open(self._produced_file) as f:
                self.produced = {k: v for k, v in json.load(f).items() if osp.exists(v)}

    def record(self, shipped: str, local: str) -> None:
        """``shipped`` (a path a config names) is the file ``local`` from now on."""
        self.produced[shipped] = local
        os.makedirs(self.out, exist_ok=True)
        with open(self._produced_file, 'w') as f:
            json.dump(self.produced, f, indent=1)

    def _cached(self, name: str, make: Callable[[], Dict[str, Any]],
                bare: bool = False) -> str:
        """``out/name``, made by ``make`` (a state dict) unless there; saved as
        ``dict(state_dict=..., meta=...)``, or as the state dict itself (``bare``)."""
        path = osp.join(self.out, name)
        if not osp.exists(path):
            t0 = time.time()
            _save_state_dict(make(), path, meta=dict(smoke=name), bare=bare)
            self.log(f'  checkpoint {name} ({time.time() - t0:.1f}s)')
        return path

    # stock layouts -----------------------------------------------------------
    def ssl_algorithm(self, name: str, model_cfg: dict) -> str:
        """An mmpretrain self-supervised algorithm's checkpoint (``backbone.*``,
        ``neck.*``, ``target_generator.*`` ...): its ``state_dict``."""
        def make():
            return _build('mmpretrain', _no_init(model_cfg)).state_dict()
        return self._cached(name, make)

    def clip_vit_b16(self) -> str:
        """CLIP ViT-B/16 in OpenAI's layout (what MILAN's ``CLIPGenerator`` reads)."""
        def make():
            from mmpretrain.models.utils.clip_generator_helper import CLIP
            model = CLIP(512, 224, 12, 768, 16, 77, 49408, 512, 8, 12)
            return model.state_dict()
        # the OpenMMLab file is the bare state dict (no 'state_dict' key)
        return self._cached('clip_vit_base_16.pth', make, bare=True)

    def torchvision_r50(self) -> str:
        def make():
            import torchvision
            return torchvision.models.resnet50().state_dict()
        return self._cached('torchvision_resnet50.pth', make)

    def resnet50_v1c(self) -> str:
        """open-mmlab://resnet50_v1c: mmcls' ResNetV1c-50 backbone keys."""
        def make():
            return _build('mmseg', dict(type='ResNetV1c', depth=50)).state_dict()
        return self._cached('resnet50_v1c.pth', make)

    def mit_b2(self, backbone: dict) -> str:
        """mmseg's MiT-B2 pre-training file (mmseg ``MixVisionTransformer`` keys)."""
        def make():  # the ImageNet file is RGB whatever the model's stem
            return _build('mmseg', dict(_no_init(backbone), type='MixVisionTransformer',
                                        in_channels=3)).state_dict()
        return self._cached('mit_b2.pth', make)

    def vit_b16_mmseg(self) -> str:
        """``pretrain/vit_base_patch16_224.pth``: timm's ViT-B/16 after mmseg's
        ``vit2mmseg`` (mmseg ``VisionTransformer`` keys, 14x14 + CLS positions)."""
        def make():
            return _build('mmseg', dict(
                type='VisionTransformer', img_size=(224, 224), patch_size=16,
                embed_dims=768, num_layers=12, num_heads=12, with_cls_token=True,
                final_norm=True)).state_dict()
        return self._cached('vit_base_patch16_224.pth', make)

    def resolve(self, value: str, cfg: Dict[str, Any], path: Tuple) -> str:
        """The local file for the shipped checkpoint string ``value`` found at
        ``path`` of ``cfg``; raises :class:`SmokeError` when unknown or not yet made."""
        base = osp.basename(value)
        if value in self.produced:
            return self.produced[value]
        if value == 'torchvision://resnet50':
            return self.torchvision_r50()
        if value == 'open-mmlab://resnet50_v1c':
            return self.resnet50_v1c()
        if base.startswith('mit_b2'):
            return self.mit_b2(_parent(cfg, path, 2 if path[-1] == 'checkpoint'
                                       else 1))
        if base == 'vit_base_patch16_224.pth':
            return self.vit_b16_mmseg()
        if base.startswith('clip_vit_base_16'):
            return self.clip_vit_b16()
        if path == ('load_from', ) and base.startswith(('mae_', 'maskfeat_', 'milan_')):
            model = cfg['model']
            algo = model.get('algorithm', model) if model.get('type') == 'PAD' \
                else model
            return self.ssl_algorithm(base, algo)
        if value.startswith(('work_dirs/', 'checkpoints/')):
            raise SmokeError(f'{value}: made by a run that did not run (or failed)')
        raise SmokeError(f'{value} (at {".".join(map(str, path))}): the smoke run '
                         'does not know how to make this checkpoint')


def _parent(tree: Any, path: Tuple, up: int) -> Any:
    for k in path[:-up]:
        tree = tree[k]
    return tree


# ------------------------------------------------------------------ workflows
@dataclass
class Conversion:
    """A converter run on a run's checkpoint, producing a shipped checkpoint path."""
    tool: str
    args: List[str]
    produces: str  # the path the fine-tuning configs name


#: The PAD pre-training whose converted checkpoints
#: (``checkpoints/pad-mae_vit-b_{det,seg}.pth``) the PAD fine-tuning configs load.
PAD_DOWNSTREAM_SOURCE = 'pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip'


def conversions(path: str, cfg: Dict[str, Any]) -> List[Conversion]:
    """The converters of a pre-training config's workflow (docs of each method)."""
    name = config_name(path)
    model = cfg.get('model', {})
    mtype = model.get('type')
    if mtype == 'AlignDetPretrainer':
        return [Conversion('aligndet_to_mmdet.py', [],
                           f'work_dirs/{name}/aligndet_mmdet.pth')]
    if mtype == 'SOPEncoderDecoder':
        return [Conversion('sop_to_seg.py', [], f'work_dirs/{name}/sop_to_seg.pth')]
    if mtype == 'PAD' and name.startswith('pad-mae_'):
        bottleneck = str(model.get('adapter', {}).get('bottleneck', 64))
        # only the ViT-B run makes the files the PAD fine-tuning configs name; the
        # others (ViT-L/H, FSDP twins) are converted too, to files nothing reads
        dst = ('checkpoints/pad-mae_vit-b_{}.pth' if name == PAD_DOWNSTREAM_SOURCE
               else f'work_dirs/{name}/pad-mae_{{}}.pth')
        return [Conversion('convert_pad_checkpoint.py',
                           ['--target', t, '--bottleneck', bottleneck],
                           dst.format(t)) for t in ('det', 'seg')]
    return []


#: Baseline downstream checkpoints: the ImageNet MAE converted (paradigm b).
BASELINE_CONVERSIONS = [
    Conversion('convert_pad_checkpoint.py', ['--target', t],
               f'checkpoints/vit-b_{t}.pth') for t in ('det', 'seg')]


def run_order(groups: List[Group], cfgs: Dict[str, Dict[str, Any]]) -> List[Group]:
    """Pre-training runs (those with converters) before the runs that load their
    outputs."""
    def rank(g: Group) -> int:
        return 0 if conversions(g.runs, cfgs[g.runs]) else 1
    return sorted(groups, key=rank)


# ------------------------------------------------------------------ one run
TIMING_FILE = 'smoke_timing.json'


def peak_rss_mib() -> float:
    """This process's peak resident memory, MiB: ``VmHWM`` of ``/proc/self/status``.

    Not ``getrusage`` / ``wait4``'s ``ru_maxrss``: on Linux a child started by
    fork + exec inherits its parent's high-water mark, so every training started by
    a large smoke process would report at least that process's peak.
    """
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _register_timing_hook() -> None:
    """Register :class:`SmokeTimingHook` (the smoke configs import this module
    by ``custom_imports``; ``tools/`` is on the path of ``tools/train.py``)."""
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS
    if 'SmokeTimingHook' in HOOKS.module_dict:
        return

    class SmokeTimingHook(Hook):
        """Writes ``work_dir/smoke_timing.json``: CPU seconds (all threads) and wall
        seconds from the start of training to the end of each iteration, and the
        peak RSS so far."""
        priority = 'VERY_LOW'

        def before_train(self, runner) -> None:
            self._t0 = (time.process_time(), time.perf_counter())
            self._iters: List[dict] = []

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None) -> None:
            self._iters.append(dict(
                iter=runner.iter + 1, cpu_s=time.process_time() - self._t0[0],
                wall_s=time.perf_counter() - self._t0[1],
                peak_rss_mib=peak_rss_mib()))
            self._write(runner)

        def after_run(self, runner) -> None:
            # the whole run's peak: build, iterations, validation, checkpoint
            self._iters.append(dict(iter='run', peak_rss_mib=peak_rss_mib()))
            self._write(runner)

        def _write(self, runner) -> None:
            with open(osp.join(runner.work_dir, TIMING_FILE), 'w') as f:
                json.dump(self._iters, f)

    HOOKS.register_module(module=SmokeTimingHook)


if __name__ != '__main__':
    try:
        _register_timing_hook()
    except ImportError:  # mmengine missing: only the grouping helpers are used
        pass

#: Decode heads that pool the whole image to 1x1 before a BatchNorm (ASPP's image
#: pooling, the PPM of UPerNet / PSPNet): BN cannot train on one such value per
#: channel, so these segmentors train with 2 images (the shipped batches are 4-16).
POOLING_BN_HEADS = frozenset(('ASPPHead', 'DepthwiseSeparableASPPHead', 'UPerHead',
                              'PSPHead'))


def train_batch_size(cfg: Dict[str, Any]) -> int:
    """1, or 2 for a segmentor with a :data:`POOLING_BN_HEADS` head."""
    head = (cfg.get('model') or {}).get('decode_head') or {}
    return 2 if isinstance(head, dict) and head.get('type') in POOLING_BN_HEADS else 1


def smoke_overrides(cfg: Dict[str, Any], data_dir: str) -> Dict[str, Any]:
    """Top-level keys of the smoke config: 2 iterations (validation after the
    second), a checkpoint at iteration 2, batch 1 without workers, 2 validation
    images, logs every iteration, fp32 instead of fp16 AMP (2 training images where
    one cannot train, :func:`train_batch_size`); data paths moved to
    ``data_dir``. Each value replaces the shipped key (``_delete_``)."""
    out: Dict[str, Any] = {}
    val = cfg.get('val_dataloader') is not None and cfg.get('val_cfg') is not None
    out['train_cfg'] = dict(type='IterBasedTrainLoop', max_iters=2,
                            val_interval=2 if val else 10**9)
    for key in ('train_dataloader', 'val_dataloader'):
        loader = cfg.get(key)
        if not isinstance(loader, dict):
            continue
        loader = rewrite_data_paths(loader, data_dir)
        loader.update(batch_size=train_batch_size(cfg) if key == 'train_dataloader'
                      else 1, num_workers=0, persistent_workers=False)
        if key == 'val_dataloader':
            loader['dataset']['indices'] = 2
        out[key] = loader
    if cfg.get('test_dataloader') is not None:
        out['test_dataloader'] = out.get('val_dataloader')
    for key in ('val_evaluator', 'test_evaluator'):
        if cfg.get(key) is not None:
            out[key] = rewrite_data_paths(cfg[key], data_dir)
    imports = dict(cfg.get('custom_imports') or dict(allow_failed_imports=False))
    imports['imports'] = list(imports.get('imports') or []) + ['smoke_configs']
    out['custom_imports'] = imports
    out['custom_hooks'] = list(cfg.get('custom_hooks') or []) + [
        dict(type='SmokeTimingHook')]
    hooks = dict(cfg.get('default_hooks') or {})
    ckpt = dict(hooks.get('checkpoint') or dict(type='CheckpointHook'))
    ckpt.update(by_epoch=False, interval=2, max_keep_ckpts=1)
    if not val:
        ckpt.pop('save_best', None)
    hooks['checkpoint'] = ckpt
    hooks['logger'] = dict(hooks.get('logger') or dict(type='LoggerHook'), interval=1)
    out['default_hooks'] = hooks
    out['log_processor'] = dict(cfg.get('log_processor') or {}, window_size=1,
                                by_epoch=False)
    # a detector after 2 iterations scores below the configs' thresholds: keep every
    # box so that the evaluator computes its metrics on them (not an empty result)
    model = _plain(cfg.get('model') or {}, keep_tuples=True)
    if isinstance(model.get('test_cfg'), dict) and _zero_score_thr(model['test_cfg']):
        out['model'] = model
    wrapper = dict(cfg.get('optim_wrapper') or {})
    if wrapper.get('type') == 'AmpOptimWrapper':
        wrapper['type'] = 'OptimWrapper'
        for k in ('loss_scale', 'dtype', 'use_fsdp'):  # AMP's (use_fsdp: its scaler)
            wrapper.pop(k, None)
        out['optim_wrapper'] = wrapper
    if is_fsdp(cfg):
        import torch
        if not torch.cuda.is_available():  # FSDP's gloo on CPU needs the device named
            out['model_wrapper_cfg'] = dict(cfg['model_wrapper_cfg'], device_id='cpu')
    return out


def is_fsdp(cfg: Dict[str, Any]) -> bool:
    """Whether ``cfg`` shards its model with FSDP (a ``*FullyShardedDataParallel``
    ``model_wrapper_cfg``): such a config is run by ``tools/dist_train.sh`` with one
    process, so that the sharded wrapper, its optimizer and its checkpoints run."""
    wrapper = cfg.get('model_wrapper_cfg') or {}
    return isinstance(wrapper, dict) and 'FullyShardedDataParallel' in str(
        wrapper.get('type', ''))


def _zero_score_thr(obj: Any) -> bool:
    """Set every ``score_thr`` under a model's ``test_cfg`` to 0 (in place)."""
    found = False
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == 'score_thr' and isinstance(v, (int, float)):
                obj[k] = 0.0
                found = True
            else:
                found = _zero_score_thr(v) or found
    return found


def write_smoke_config(path: str, cfg: Dict[str, Any], overrides: Dict[str, Any],
                       out_path: str) -> str:
    lines = ['# smoke run of ' + path + ' (tools/smoke_configs.py)',
             f'_base_ = [{osp.join(REPO, path)!r}]', '']
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            value = dict(value, _delete_=True)
        lines.append(f'{key} = {pprint.pformat(value, width=88, sort_dicts=False)}')
    os.makedirs(osp.dirname(out_path), exist_ok=True)
    with open(out_path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return out_path


@dataclass
class Result:
    group: Group
    ok: bool
    step: str = ''
    iter_s: Optional[float] = None  # wall seconds of the two iterations
    iter_cpu_s: Optional[float] = None  # CPU seconds (all threads) of the two iterations
    iter_rss_mib: Optional[float] = None  # peak RSS up to the end of iteration 2
    cpu_s: Optional[float] = None  # CPU time of the whole train process
    peak_rss_mib: Optional[float] = None
    total_s: Optional[float] = None
    metrics: Dict[str, Any] = field(default_factory=dict)
    error: str = ''


def run_process(cmd: List[str], log_path: str, env: Dict[str, str]
                ) -> Tuple[int, float]:
    """Run ``cmd`` (output to ``log_path``); returns (exit status, CPU seconds) as
    ``os.wait4`` reports them. Not wait4's peak RSS, which includes this process's
    own high-water mark (inherited at fork): the smoke table uses the training's
    own (:func:`peak_rss_mib`, written by ``SmokeTimingHook``)."""
    with open(log_path, 'w') as log_file:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log_file,
                                stderr=subprocess.STDOUT, env=env)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): no orphan training
            proc.kill()
            proc.wait()
            raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def _scalars(work_dir: str) -> List[dict]:
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        return []
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def _tail(path: str, n: int = 40) -> str:
    with open(path, errors='replace') as f:
        lines = f.read().splitlines()
    return '\n'.join(lines[-n:])


def remove_checkpoints(work_dir: str) -> int:
    """Delete the ``.pth`` files under a finished run's ``work_dir`` (its logs,
    config and timing stay); returns the bytes freed. The 54 runs' checkpoints
    take about 40 GB; later runs read only the converted files."""
    freed = 0
    for path in glob.glob(osp.join(work_dir, '**', '*.pth'), recursive=True):
        freed += osp.getsize(path)
        os.remove(path)
    return freed


class Smoke:
    """One smoke session under ``out``."""

    def __init__(self, out: str, log: Callable[[str], None] = print,
                 keep_checkpoints: bool = False):
        self.out = osp.abspath(out)
        self.keep_checkpoints = keep_checkpoints
        self.data_dir = osp.join(self.out, 'data')
        self.log = log
        self.ckpts = Checkpoints(osp.join(self.out, 'checkpoints'), log)
        self.env = dict(os.environ, PYTHONUNBUFFERED='1')
        self.env.setdefault('OMP_NUM_THREADS', '2')

    def prepare_checkpoint_paths(self, path: str, cfg: Dict[str, Any]) -> Dict[str, Any]:
        """Top-level overrides pointing every checkpoint of ``cfg`` at a local file."""
        model = _plain(cfg.get('model'), keep_tuples=True)
        out: Dict[str, Any] = {}
        # the model's own files first (MILAN's CLIP teacher): the stock algorithm
        # that ``load_from`` stands for is built from the model with them in place
        refs = sorted(checkpoint_refs(cfg), key=lambda r: r[0] == ('load_from', ))
        for key_path, value in refs:
            local = self.ckpts.resolve(value, dict(cfg, model=model), key_path)
            if key_path == ('load_from', ):
                out['load_from'] = local
            else:
                _set({'model': model}, key_path, local)
                out['model'] = model
        return out

    def run_group(self, group: Group) -> Result:
        t0 = time.time()
        cfg = load_config_dict(group.runs, keep_tuples=True)
        name = group.name
        work_dir = osp.join(self.out, 'work_dirs', name)
        res = Result(group, ok=False, step='config')
        try:
            overrides = self.prepare_checkpoint_paths(group.runs, cfg)
            overrides.update(smoke_overrides(dict(cfg, **overrides), self.data_dir))
            smoke_cfg = write_smoke_config(group.runs, cfg, overrides,
                                           osp.join(self.out, 'cfg', name + '.py'))
            res.step = 'train'
            val = 'val_dataloader' in overrides and 'val_evaluator' in overrides
            os.makedirs(work_dir, exist_ok=True)
            log_path = osp.join(work_dir, 'smoke_train.log')
            if is_fsdp(cfg):
                import socket
                with socket.socket() as sock:
                    sock.bind(('127.0.0.1', 0))
                    port = str(sock.getsockname()[1])
                cmd = ['bash', osp.join(TOOLS, 'dist_train.sh'), smoke_cfg, '1',
                       '--work-dir', work_dir]
                env = dict(self.env, PYTHON=sys.executable, PORT=port)
            else:
                cmd = [sys.executable, osp.join(TOOLS, 'train.py'), smoke_cfg,
                       '--work-dir', work_dir]
                env = self.env
            rc, res.cpu_s = run_process(cmd, log_path, env)
            if rc != 0:
                raise SmokeError(f'tools/train.py exited with {rc} '
                                 f'({log_path}):\n{_tail(log_path)}')
            scalars = _scalars(work_dir)
            times = [s['time'] for s in scalars if 'time' in s and 'loss' in s]
            timing = osp.join(work_dir, TIMING_FILE)
            if osp.exists(timing):
                with open(timing) as f:
                    entries = json.load(f)
                iters = [e for e in entries if e['iter'] != 'run']
                if iters:
                    last = iters[-1]
                    res.iter_s, res.iter_cpu_s = last['wall_s'], last['cpu_s']
                    res.iter_rss_mib = last['peak_rss_mib']
                res.peak_rss_mib = max(e['peak_rss_mib'] for e in entries)
            res.metrics = {k: v for s in scalars if 'loss' not in s
                           for k, v in s.items() if k not in ('step', 'data_time',
                                                              'time')}
            if len(times) < 2:
                raise SmokeError(f'{log_path}: fewer than 2 training iterations '
                                 'were logged')
            ckpt = osp.join(work_dir, 'iter_2.pth')
            if not osp.exists(ckpt):
                raise SmokeError(f'{work_dir}: no checkpoint iter_2.pth was saved')
            if val and 'Iter(val) [2/2]' not in open(log_path, errors='replace').read():
                raise SmokeError(f'{log_path}: no validation on 2 images was logged')
            res.step = 'convert'
            for conv in conversions(group.runs, cfg):
                self.convert(conv, ckpt, group)
            res.ok, res.step = True, 'done'
            if not self.keep_checkpoints:  # the converted files are what is reused
                freed = remove_checkpoints(work_dir)
                self.log(f'  removed the checkpoints of {work_dir} '
                         f'({freed / 2**20:.0f} MiB; --keep-checkpoints keeps them)')
        except SmokeError as err:
            res.error = str(err)
        except Exception:  # a defect of the harness: reported, the other groups run
            import traceback
            res.error = f'{res.step}: {traceback.format_exc()}'
        res.total_s = time.time() - t0
        return res

    def _converted(self, conv: Conversion, group: Group) -> str:
        return osp.join(self.out, 'converted', group.name, osp.basename(conv.produces))

    def convert(self, conv: Conversion, src: str, group: Group) -> None:
        dst = self._converted(conv, group)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        if osp.exists(dst):  # from an earlier session; the converters refuse to overwrite
            os.remove(dst)
        _tool([conv.tool, src, dst] + conv.args, self.log)
        self._record(conv, group, dst)

    def _record(self, conv: Conversion, group: Group, dst: str) -> None:
        # every config of the group names its own work_dirs/<name>/... output
        for member in group.configs:
            self.ckpts.record(conv.produces.replace(group.name, config_name(member)),
                              dst)

    def recall_conversions(self, group: Group, cfg: Dict[str, Any]) -> None:
        """Record again the converted files of a group that passed in an earlier
        session, so that the fine-tunings of this session read this group's files
        whatever an older harness recorded."""
        for conv in conversions(group.runs, cfg):
            dst = self._converted(conv, group)
            if osp.exists(dst):
                self._record(conv, group, dst)

    def cluster_proposals(self) -> None:
        """AlignDet DETR's ``..._cluster-id-as-class.json``: the proposals clustered
        on the torchvision R50's C5 features (tools/aligndet_cluster_proposals.py)."""
        coco = osp.join(self.data_dir, 'coco')
        src = osp.join(coco, 'proposals', 'train2017_ratio3size0008@0.5.json')
        dst = src[:-len('.json')] + '_cluster-id-as-class.json'
        if osp.exists(dst):
            return
        _tool(['aligndet_cluster_proposals.py', src, '--img-dir',
               osp.join(coco, 'train2017'), '--checkpoint', self.ckpts.torchvision_r50(),
               '--out', dst, '--device', 'cpu'], self.log)

    def baseline_checkpoints(self, cfgs: Dict[str, Dict[str, Any]]) -> None:
        """checkpoints/vit-b_{det,seg}.pth: the stock ImageNet MAE converted."""
        mae = [p for p in cfgs if config_name(p).startswith('mae_')
               and str(cfgs[p].get('load_from', '')).startswith('checkpoints/mae_')]
        if not mae:
            return
        cfg = cfgs[mae[0]]
        src = self.ckpts.resolve(cfg['load_from'], cfg, ('load_from', ))
        for conv in BASELINE_CONVERSIONS:
            dst = osp.join(self.out, 'converted', 'in1k-mae',
                           osp.basename(conv.produces))
            if not osp.exists(dst):
                os.makedirs(osp.dirname(dst), exist_ok=True)
                _tool([conv.tool, src, dst] + conv.args, self.log)
            self.ckpts.record(conv.produces, dst)


# ------------------------------------------------------------------ CLI
#: What CI runs (``--part ci``): see .ci/run.
#: One chain per method, pre-training -> converter -> fine-tuning (the pre-training
#: runs are added as dependencies), the cheapest of each by the measured table in
#: docs/smoke.md, and the foundation config.
CI_PATTERNS: Tuple[str, ...] = (
    'upernet_vit-b-pad_2xb4-amp-14.4k_soda-512x512',  # PAD-MAE -> PAD->seg -> UperNet
    'fcos_r50-aligndet_fpn_gn-head_8xb2-12k_coco',  # AlignDet FCOS -> mmdet -> FCOS
    'segformer_mit-b2-sop_4xb4-80k_loveda-512x512',  # SOP SegFormer -> mmseg
    'retinanet_r18-tiny_flir-demo')


def select(groups: List[Group], patterns: Sequence[str]) -> List[Group]:
    return [g for g in groups
            if any(fnmatch.fnmatch(config_name(c), p if any(ch in p for ch in '*?[')
                                   else f'*{p}*') for c in g.configs for p in patterns)]


def _fmt(v: Optional[float], spec: str) -> str:
    return format(v, spec) if v is not None else '-'


def result_row(r: Result) -> dict:
    return dict(combination=r.group.name, ok=r.ok, step=r.step,
                iters_cpu_s=r.iter_cpu_s, iters_wall_s=r.iter_s,
                peak_rss_mib=r.peak_rss_mib, process_cpu_s=r.cpu_s, total_s=r.total_s,
                configs=r.group.configs, metrics=r.metrics, error=r.error[-3000:])


def result_from_row(group: Group, row: dict) -> Result:
    return Result(group, ok=row['ok'], step=row['step'], iter_s=row['iters_wall_s'],
                  iter_cpu_s=row['iters_cpu_s'], peak_rss_mib=row['peak_rss_mib'],
                  cpu_s=row['process_cpu_s'], total_s=row['total_s'],
                  metrics=row['metrics'], error=row['error'])


def print_table(results: List[Result], out=sys.stdout) -> None:
    print('\n== smoke: distinct combinations (2 iterations each at full size, batch 1, '
          'CPU)', file=out)
    print('   2-iter CPU s / wall s: from the start of training to the end of '
          'iteration 2 (all threads);\n   peak RSS: of the whole tools/train.py '
          'process (build, 2 iterations, validation, checkpoint)', file=out)
    print(f'{"status":12s} {"2-it CPU s":>10s} {"2-it wall s":>11s} {"peak RSS MiB":>12s}'
          f' {"total s":>7s}  combination / configs it covers', file=out)
    for r in results:
        status = 'ok' if r.ok else f'FAIL:{r.step}'
        print(f'{status:12s} {_fmt(r.iter_cpu_s, "10.1f")} {_fmt(r.iter_s, "11.1f")} '
              f'{_fmt(r.peak_rss_mib, "12.0f")} {_fmt(r.total_s, "7.0f")}  '
              f'{r.group.name}', file=out)
        for c in r.group.configs:
            print(f'{"":14s}- {c}', file=out)
        if r.metrics:
            print(f'{"":14s}  val metrics: {r.metrics}', file=out)
        if not r.ok:
            print('      ' + r.error.replace('\n', '\n      ')[-3000:], file=out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--out', default='work_dirs/smoke',
                        help='data, checkpoints, smoke configs and work dirs')
    parser.add_argument('--only', nargs='+', default=None,
                        help='run the groups with a config matching one of these '
                        '(substring or glob of the config name)')
    parser.add_argument('--part', choices=('all', 'ci'), default='all',
                        help='ci: the groups CI runs (see .ci/run)')
    parser.add_argument('--list', action='store_true', help='print the groups only')
    parser.add_argument('--keep-checkpoints', action='store_true',
                        help="keep each run's own checkpoints (about 40 GB for all "
                        'runs; by default only the converted files are kept)')
    parser.add_argument('--rerun', action='store_true',
                        help='run again the combinations that passed in an earlier '
                        'session under --out (default: reuse their results)')
    args = parser.parse_args(argv)
    # SIGTERM (a job scheduler, `kill`) ends the run like Ctrl-C: the running
    # tools/train.py is stopped with it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

    t_start = time.time()
    paths = leaf_configs()
    print(f'loading {len(paths)} leaf configs ...', flush=True)
    cfgs = load_all(paths, osp.join(args.out, 'configs.json'))
    groups = group_configs(paths, load=cfgs.__getitem__)
    print(f'{len(paths)} configs -> {len(groups)} distinct combinations '
          f'({time.time() - t_start:.0f}s)')
    if args.list:
        for g in groups:
            print(f'{g.name}')
            for c in g.configs:
                print(f'    {c}')
        return 0
    smoke = Smoke(args.out, log=lambda s: print(s, flush=True),
                  keep_checkpoints=args.keep_checkpoints)
    rows = osp.join(smoke.out, 'results.jsonl')
    earlier = {}
    if osp.exists(rows) and not args.rerun:
        with open(rows) as f:
            earlier = {r['combination']: r for r in map(json.loads, f) if r['ok']}

    def passed_before(g: Group) -> bool:
        return g.name in earlier and earlier[g.name]['configs'] == g.configs

    for g in groups:  # before choosing: what the fine-tunings load is this session's
        if passed_before(g):
            smoke.recall_conversions(g, cfgs[g.runs])
    chosen = groups
    if args.part == 'ci':
        chosen = select(chosen, CI_PATTERNS)
    if args.only:
        chosen = select(chosen, args.only)
    if args.only or args.part == 'ci':
        # the pre-training runs whose outputs the chosen fine-tunings load
        needed = set()
        for g in chosen:
            for _, value in checkpoint_refs(cfgs[g.runs]):
                m = re.match(r'work_dirs/([^/]+)/', value)
                if m:
                    needed.add(m.group(1))
                if value.startswith('checkpoints/pad-mae_'):
                    needed.add(PAD_DOWNSTREAM_SOURCE)
        produced = smoke.ckpts.produced
        for g in chosen:
            for _, value in checkpoint_refs(cfgs[g.runs]):
                if value in produced:
                    needed.discard(value.split('/')[1] if value.startswith('work_dirs/')
                                   else PAD_DOWNSTREAM_SOURCE)
        chosen = [g for g in groups if g in chosen or any(
            config_name(c) in needed for c in g.configs)]
    generate_data(smoke.data_dir, smoke.log)
    if any('cluster-id-as-class' in json.dumps(cfgs[g.runs], default=str)
           for g in chosen):  # AlignDet DETR only
        smoke.cluster_proposals()
    smoke.baseline_checkpoints(cfgs)
    results = []
    for g in run_order(chosen, cfgs):
        if passed_before(g):
            print(f'-- {g.name}: passed in an earlier session (--rerun to run again)')
            results.append(result_from_row(g, earlier[g.name]))
            continue
        print(f'-- {g.name} ({len(g.configs)} config(s))', flush=True)
        r = smoke.run_group(g)
        print(f'   {"ok" if r.ok else "FAILED at " + r.step} in {r.total_s:.0f}s'
              + (f': {r.error.splitlines()[0]}' if r.error else ''), flush=True)
        results.append(r)
        with open(osp.join(smoke.out, 'results.jsonl'), 'a') as f:
            f.write(json.dumps(result_row(r)) + '\n')
    print_table(results)
    print(f'\nsmoke finished in {time.time() - t_start:.0f}s: '
          f'{sum(r.ok for r in results)}/{len(results)} combinations ok, covering '
          f'{sum(len(r.group.configs) for r in results if r.ok)} configs')
    return 0 if all(r.ok for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
