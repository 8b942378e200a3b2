"""Refuse a checkpoint that does not fit the model, with one clear message.

mmengine loads ``load_from`` / ``--resume`` checkpoints with ``strict=False``: tensors
of another shape are skipped and missing / unexpected keys are only listed in a
warning, so a checkpoint of another architecture, or adapters of another size,
silently leave the model at its random init. :func:`check_checkpoint_compatible`
compares the names and shapes *before* anything is loaded and raises
:class:`CheckpointMismatchError` (a ``ValueError``) naming the file and the problem.

Rules, in this order (the first that applies is reported):

1. **No tensor name matches** the model: a checkpoint of a different architecture
   (or with a key prefix the model lacks); the message shows what keys look like on
   both sides, and which prefix would make them match if one would.
2. **Backbone shapes**: a tensor under ``backbone.`` (also ``online.backbone.``
   etc., adapters aside) with another shape, except those the model resizes while
   loading (position embeddings, relative position tables).
   With ``strict_shapes=True`` (the downstream backbones) every non-adapter
   tensor of another shape is refused, whatever its prefix.
3. **Adapters** (keys containing ``.adapter.``; :func:`adapter_problem`, the one
   set of adapter-size rules): any adapter tensor of another shape (bottleneck:
   "adapter bottleneck in checkpoint is 64, config has 32"; scale predictor:
   another ``scale_mode``); a checkpoint with adapters loaded into a model without
   any (the learned adapters would be dropped); both with adapters but different
   adapter keys. *Tolerated* unless ``tolerate_missing_adapters=False`` (the
   downstream backbones): a checkpoint without any adapter tensor loaded into a
   model with adapters (a stock ImageNet checkpoint starting PAD pre-training; the
   adapters keep their init).
4. **Too little fits**: the tensors that would load (same name and shape) hold less
   than ``min_loaded_fraction`` (default 0.5) of the checkpoint's values *and* less
   than ``min_loaded_fraction`` of the model's values. A checkpoint that mostly fits
   (a COCO 80-class detector fine-tuned with 3 classes: only the classifier differs)
   or that mostly fills the model passes.
5. **Resume** (``resume=True``): the checkpoint must be of this very model: any
   missing, unexpected or reshaped tensor is an error.

Never counted: ``num_batches_tracked`` (mmengine ignores it) and buffers a ViT
recomputes (``relative_position_index``). Opt out per config with
``checkpoint_compat_check = False``, or pass options, e.g.
``checkpoint_compat_check = dict(min_loaded_fraction=0.2)``.

:func:`check_against_config` compares a converted state dict with the model a
config builds (the converters' ``--check-config`` / ``--config``).
"""
from __future__ import annotations

from collections import Counter
from typing import (Callable, Dict, Iterable, List, Mapping, Optional,
                    Tuple, Union)

import torch
import torch.nn as nn

from mmpad.core.adapters.freezing import ADAPTER_KEY, is_adapter_param
from mmpad.core.checkpoint.errors import CheckpointMismatchError
from mmpad.core.checkpoint.reader import STRIP_MODULE, read_state_dict
from mmpad.core.checkpoint.report import SHOW, CheckpointReport
from mmpad.core.checkpoint.report import fmt_shape as _fmt_shape

#: entries never compared (mmengine skips the first, ViTs recompute the second)
IGNORED_SUFFIXES = ('num_batches_tracked', 'relative_position_index')
#: name fragments of tensors that backbones resize to their geometry when loading
RESIZED_ON_LOAD = ('pos_embed', 'relative_position_bias_table', 'rel_pos_')
#: the config key that switches the check off (False) or passes options (dict)
CONFIG_KEY = 'checkpoint_compat_check'
#: the report of :func:`check_checkpoint_compatible` (one report type)
CompatReport = CheckpointReport
__all__ = ['ADAPTER_KEY', 'CheckpointMismatchError', 'CompatReport',
           'check_checkpoint_compatible', 'compare_state_dicts',
           'adapter_problem', 'check_against_config', 'tensor_state_dict']


def _default_resized_on_load(key: str) -> bool:
    return any(part in key for part in RESIZED_ON_LOAD)


_is_adapter = is_adapter_param


def _is_backbone(key: str) -> bool:
    return key.startswith('backbone.') or '.backbone.' in key


def _ignored(key: str, ignored: Tuple[str, ...] = IGNORED_SUFFIXES) -> bool:
    return bool(ignored) and key.endswith(ignored)


def _shape(t) -> Tuple[int, ...]:
    return tuple(t.shape)


def tensor_state_dict(checkpoint: Mapping,
                      revise_keys: Iterable[Tuple[str, str]] = STRIP_MODULE
                      ) -> Dict[str, torch.Tensor]:
    """The state dict mmengine's loader would load from ``checkpoint``:
    ``checkpoint['state_dict']`` if present, else the checkpoint itself, with
    ``revise_keys`` applied (default: strip ``module.``); non-tensors dropped
    (:func:`mmpad.core.checkpoint.reader.read_state_dict`)."""
    if not isinstance(checkpoint, Mapping):
        return {}
    return read_state_dict(checkpoint, wrappers=('state_dict', ),
                           revise_keys=revise_keys, allow_empty=True)


def compare_state_dicts(
        model_state: Mapping[str, torch.Tensor],
        checkpoint_state: Mapping[str, torch.Tensor],
        resized_on_load: Optional[Callable[[str], bool]] = None,
        tolerate_missing_adapters: bool = True,
        ignored: Tuple[str, ...] = IGNORED_SUFFIXES) -> CheckpointReport:
    """Compare names and shapes; see the module docstring for what counts.

    Args:
        model_state: the model's tensors.
        checkpoint_state: the checkpoint's (non-tensors are skipped).
        resized_on_load: keys whose shape may differ (default: position
            embeddings and relative position tables).
        tolerate_missing_adapters: model adapter keys absent from an
            adapter-less checkpoint go to ``tolerated_missing``.
        ignored: key suffixes never compared (``()``: compare every key).
    """
    resized = resized_on_load or _default_resized_on_load
    model = {k: v for k, v in model_state.items() if not _ignored(k, ignored)}
    ckpt = {k: v for k, v in checkpoint_state.items()
            if torch.is_tensor(v) and not _ignored(k, ignored)}
    report = CheckpointReport()
    ckpt_has_adapters = any(_is_adapter(k) for k in ckpt)
    for key, value in model.items():
        if key not in ckpt:
            if (tolerate_missing_adapters and _is_adapter(key)
                    and not ckpt_has_adapters):
                report.tolerated_missing.append(key)
                continue
            report.missing.append(key)
        elif _shape(ckpt[key]) != _shape(value) and not resized(key):
            report.shape_mismatch.append(
                (key, _shape(ckpt[key]), _shape(value)))
        else:
            report.matched.append(key)
            report.loaded_values += ckpt[key].numel()
        report.model_values += value.numel()
    report.unexpected = [k for k in ckpt if k not in model]
    report.checkpoint_values = sum(v.numel() for v in ckpt.values())
    return report


def _common_prefix_hint(model_keys: List[str], ckpt_keys: List[str]) -> str:
    """A prefix that, removed from one side, makes names match (if any)."""
    model_set, ckpt_set = set(model_keys), set(ckpt_keys)
    best = ('', 0)
    for side, keys, other in (('checkpoint', ckpt_keys, model_set),
                              ('model', model_keys, ckpt_set)):
        prefixes = Counter(k.split('.', 1)[0] + '.' for k in keys if '.' in k)
        for prefix, _ in prefixes.most_common(4):
            hits = sum(k[len(prefix):] in other for k in keys
                       if k.startswith(prefix))
            if hits <= best[1]:
                continue
            text = (f"with the prefix '{prefix}' removed from the {side} "
                    f'keys, {hits} would match')
            if side == 'model':
                text += (f': a checkpoint of model.{prefix[:-1]} alone belongs '
                         f'in model.{prefix}init_cfg=dict(type=\'Pretrained\', '
                         'checkpoint=...)')
            best = (text, hits)
    return best[0]


def _kind_hint(ckpt_keys: List[str]) -> str:
    """What a checkpoint of a known mmpad kind should go through instead."""
    if any(k.startswith('online.') for k in ckpt_keys) and \
            any(k.startswith('target.') for k in ckpt_keys):
        return ('it is an AlignDet pre-training checkpoint: convert it with '
                'tools/aligndet_to_mmdet.py first')
    return ''


def adapter_problem(report: CheckpointReport, ckpt_keys: List[str],
                    model_keys: List[str],
                    tolerate_missing_adapters: bool = True) -> str:
    """The adapter-size rules (rule 3 of the module docstring): what is wrong
    with the checkpoint's adapters for this model ('' when nothing is).

    Args:
        report: :func:`compare_state_dicts` of the two.
        ckpt_keys: the checkpoint's tensor names.
        model_keys: the model's tensor names.
        tolerate_missing_adapters: an adapter-less checkpoint may start a model
            with adapters (PAD pre-training); False refuses it (downstream).
    """
    adapters = [m for m in report.shape_mismatch if _is_adapter(m[0])]
    downs = [m for m in adapters if m[0].endswith('.adapter.down.weight')
             and m[1][0] != m[2][0]]
    if downs:
        key, ckpt_shape, model_shape = downs[0]
        return (f'adapter bottleneck in checkpoint is {ckpt_shape[0]}, config '
                f'has {model_shape[0]} (model {key}: checkpoint '
                f'{_fmt_shape(ckpt_shape)} vs model {_fmt_shape(model_shape)}); '
                'set the adapter bottleneck of the config (PAD pre-training: '
                'model.adapter.bottleneck, downstream: '
                'model.backbone.adapter_cfg.bottleneck) to '
                f'{ckpt_shape[0]}, or use a checkpoint trained with '
                f'{model_shape[0]}')
    if adapters:
        key, ckpt_shape, model_shape = adapters[0]
        return (f'adapter tensors have another shape ({key}: checkpoint '
                f'{_fmt_shape(ckpt_shape)} vs model {_fmt_shape(model_shape)}): '
                'the checkpoint was trained with another adapter scale mode '
                '(scale_mode) or embedding width than the config')
    ckpt_adapters = [k for k in ckpt_keys if _is_adapter(k)]
    model_adapters = [k for k in model_keys if _is_adapter(k)]
    if ckpt_adapters and not model_adapters:
        return (f'the checkpoint holds {len(ckpt_adapters)} adapter tensors (a PAD '
                'checkpoint) but the model has no adapters, which would drop '
                'the learned adapters and scales; use the PAD config '
                '(downstream: model.backbone.adapter_cfg set), or convert with '
                '--drop-adapters for a baseline on purpose')
    if model_adapters and not ckpt_adapters and not tolerate_missing_adapters:
        return ('the checkpoint has no adapter weights but the model has '
                'adapters (model.backbone.adapter_cfg is set); use a PAD '
                'checkpoint, or set model.backbone.adapter_cfg=None for an '
                'ImageNet / full-pre-training baseline')
    if ckpt_adapters and model_adapters:
        extra = [k for k in report.unexpected if _is_adapter(k)]
        absent = [k for k in report.missing if _is_adapter(k)]
        if extra or absent:
            return ('the adapter tensors differ (checkpoint only: '
                    f'{extra[:SHOW] or "none"}; model only: '
                    f'{absent[:SHOW] or "none"}): another adapter scale mode '
                    '(scale_mode), or adapters in other blocks')
    return ''


def check_checkpoint_compatible(
        model: Union[nn.Module, Mapping[str, torch.Tensor]],
        state_dict: Mapping[str, torch.Tensor],
        filename: str,
        resume: bool = False,
        min_loaded_fraction: float = 0.5,
        resized_on_load: Optional[Callable[[str], bool]] = None,
        what: Optional[str] = None,
        check_adapters: bool = True,
        opt_out: Optional[str] = f'set {CONFIG_KEY}=False in the config',
        strict_shapes: bool = False,
        tolerate_missing_adapters: bool = True
) -> CheckpointReport:
    """Raise :class:`CheckpointMismatchError` if ``state_dict`` does not fit.

    Args:
        model: the model (or its ``state_dict``) the checkpoint is loaded into.
        state_dict: the checkpoint's tensors, keys as the loader will use them
            (see :func:`tensor_state_dict`).
        filename: the checkpoint's path, named in the message.
        resume: the checkpoint resumes this model's training; every tensor
            must match.
        min_loaded_fraction: rule 4's threshold (0 disables rule 4).
        resized_on_load: keys the model resizes while loading (default:
            position embeddings and relative position tables).
        what: how to name the model in the message (default: its class).
        check_adapters: apply rule 3.
        opt_out: how to skip the check, appended to the message (None: no
            way to skip is named).
        strict_shapes: rule 2 for every non-adapter tensor, not only those
            under ``backbone.`` (a bare backbone's keys have no prefix).
        tolerate_missing_adapters: see :func:`adapter_problem`.

    Returns:
        The :class:`CheckpointReport` (``kind='compat'``) when it fits.
    """
    if isinstance(model, nn.Module):
        what = what or type(model).__name__
        model_state = model.state_dict()
    else:
        what = what or 'the model'
        model_state = model
    report = compare_state_dicts(
        model_state, state_dict, resized_on_load,
        tolerate_missing_adapters=tolerate_missing_adapters and not resume)
    model_keys = [k for k in model_state if not _ignored(k)]
    ckpt_keys = [k for k, v in state_dict.items()
                 if torch.is_tensor(v) and not _ignored(k)]

    problem = ''
    if not ckpt_keys:
        problem = 'the checkpoint holds no tensors'
    elif not report.matched and not report.shape_mismatch:
        hint = _kind_hint(ckpt_keys) or _common_prefix_hint(model_keys, ckpt_keys)
        problem = (
            'no tensor name matches the model: this looks like a checkpoint of '
            'a different architecture (checkpoint keys look like '
            + ', '.join(repr(k) for k in ckpt_keys[:2]) + '; model keys like '
            + ', '.join(repr(k) for k in model_keys[:2]) + ')'
            + (f'; {hint}' if hint else ''))
    if not problem:
        wrong = [m for m in report.shape_mismatch if not _is_adapter(m[0])
                 and (strict_shapes or _is_backbone(m[0]))]
        if wrong:
            key, a, b = wrong[0]
            kind = 'tensors' if strict_shapes else 'backbone tensors'
            problem = (f'{len(wrong)} {kind} have another shape '
                       f'(e.g. {key}: checkpoint {_fmt_shape(a)} vs model '
                       f'{_fmt_shape(b)}): a backbone of another width or '
                       'architecture')
    if not problem and check_adapters:
        problem = adapter_problem(report, ckpt_keys, model_keys,
                                  tolerate_missing_adapters)
    if not problem and min_loaded_fraction > 0:
        of_ckpt = report.loaded_values / max(report.checkpoint_values, 1)
        of_model = report.loaded_values / max(report.model_values, 1)
        if of_ckpt < min_loaded_fraction and of_model < min_loaded_fraction:
            problem = (
                f'only {of_ckpt:.0%} of the checkpoint\'s values fit the model, '
                f'covering {of_model:.0%} of it (threshold '
                f'{min_loaded_fraction:.0%}): this looks like a checkpoint of a '
                'different architecture')
    if not problem and resume and (report.missing or report.unexpected
                                   or report.shape_mismatch):
        problem = ('resuming needs a checkpoint of this very model (missing: '
                   f'{report.missing[:SHOW] or "none"}; unexpected: '
                   f'{report.unexpected[:SHOW] or "none"}); to start from its '
                   'weights instead of resuming, set `resume = False` and keep it as '
                   '`load_from` (stock configs such as mmpretrain\'s MAE set '
                   '`resume = True`)')
    if problem:
        skip = f'; to load it anyway {opt_out}' if opt_out else ''
        raise CheckpointMismatchError(
            f'checkpoint {filename} does not fit {what}: {problem}. '
            f'[{report.counts()}{skip}]')
    return report


def check_against_config(state_dict: Mapping[str, torch.Tensor], config: str,
                         cfg_options: Optional[dict] = None,
                         default_scope: Optional[str] = None
                         ) -> CheckpointReport:
    """Every difference of names and shapes between ``state_dict`` and the
    model ``config`` builds (nothing ignored, nothing resized).

    The model is built through mmengine's root registry in the config's
    ``default_scope`` (else ``default_scope``), which is restored afterwards;
    mmpad's modules must be registered (``import mmpad``).

    Returns:
        A :class:`CheckpointReport` with ``matched``, ``missing``,
        ``unexpected`` and ``shape_mismatch`` filled in.
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', default_scope)):
        model = MODELS.build(cfg.model)
    return compare_state_dicts(model.state_dict(), state_dict,
                               resized_on_load=lambda key: False,
                               tolerate_missing_adapters=False, ignored=())
