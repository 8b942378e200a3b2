"""Fail early, with the field's path, on config mistakes that otherwise surface as a
deep traceback inside a data-loader worker or a registry builder.

Checked before the Runner is built:

* every ``type='...'`` string in the config resolves in the registries of the
  config's ``default_scope`` (or in mmcv ops / ``torch.nn``, which some builders use);
  a miss names the field (``model.backbone.type``) and suggests close names;
* every dataset's ``data_root`` exists, and so does its ``ann_file``; a dataset
  class with a ``config_problems(cfg) -> list of str`` static method (e.g.
  ``FLIRDataset``: ``split`` against an inherited ``ann_file``) checks its own
  fields;
* ``load_from`` (also the checkpoint that ``resume`` continues) exists; with
  ``training=True`` (``tools/train.py``, ``MMPadRunner.train``) so does every
  ``init_cfg=dict(type='Pretrained', checkpoint=...)``;
* a ``type='PAD'`` model starts from weights: ``load_from`` or a ``Pretrained``
  ``init_cfg`` (else its adapters would train around a random frozen encoder);
  ``allow_random_frozen_encoder = True`` in the config allows it (tests, demos);
* a ``collate_fn`` / ``worker_init_fn`` with the ``_scope_`` that a ``scope::``
  base config adds is refused for a runner that would pass that key to the
  function (mmengine's ``Runner``); ``MMPadRunner`` drops it.
"""
from __future__ import annotations

import difflib
import glob
import os.path as osp
from typing import Any, Iterator, List, Optional, Set, Tuple

from mmengine.config import Config, ConfigDict


class ConfigError(ValueError):
    """A config that cannot work, with a message naming the field or path."""


def _walk(node: Any, path: str) -> Iterator[Tuple[str, dict]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk(value, f'{path}[{i}]')


def _registries(scope: Optional[str]) -> list:
    """The scope's child registry of every mmengine root registry."""
    import mmengine.registry as root
    from mmengine.registry import Registry

    if scope:
        try:  # populate the scope's children (e.g. mmdet.registry)
            __import__(f'{scope}.registry')
        except ImportError:
            pass
    regs = []
    for name in dir(root):
        reg = getattr(root, name)
        if isinstance(reg, Registry) and reg.parent is None:
            regs.append(reg._children.get(scope, reg) if scope else reg)
    return regs


def _known_elsewhere(name: str) -> bool:
    """Types some builders resolve with getattr instead of a registry."""
    import torch.nn as nn
    if hasattr(nn, name):
        return True
    try:
        import mmcv.ops as ops
        return hasattr(ops, name)
    except Exception:  # noqa: BLE001 - mmcv without ops
        return False


def _resolves(name: str, regs: list) -> bool:
    for reg in regs:
        try:
            if reg.get(name) is not None:
                return True
        except Exception:  # noqa: BLE001 - registry import errors count as a miss
            continue
    return False


def _candidates(regs: list) -> Set[str]:
    names: Set[str] = set()
    for reg in regs:
        r = reg
        while r is not None:
            names.update(r.module_dict.keys())
            r = r.parent
    return names


def check_types(cfg: Config) -> List[str]:
    """Return one message per ``type`` string that no registry knows."""
    scope = cfg.get('default_scope', None)
    regs = _registries(scope)
    errors = []
    pool: Optional[Set[str]] = None
    for path, node in _walk(cfg._cfg_dict.to_dict(), ''):
        typ = node.get('type')
        if not isinstance(typ, str):
            continue
        if _resolves(typ, regs) or _known_elsewhere(typ.split('.')[-1]):
            continue
        if pool is None:
            for reg in regs:  # make lazy registries import their modules
                try:
                    reg.import_from_location()
                except Exception:  # noqa: BLE001
                    pass
            pool = _candidates(regs)
            if _resolves(typ, regs):
                continue
        close = difflib.get_close_matches(typ.split('.')[-1], sorted(pool), n=3)
        hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
        where = f'{path}.type' if path else 'type'
        errors.append(f'{where}: {typ!r} is not registered in scope '
                      f'{scope!r} (nor in mmcv.ops / torch.nn).{hint}')
    return errors


def _datasets(cfg: Config) -> Iterator[Tuple[str, dict]]:
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not isinstance(loader, dict) or loader.get('dataset') is None:
            continue
        stack = [(f'{key}.dataset', loader['dataset'])]
        while stack:
            path, ds = stack.pop()
            if isinstance(ds, (list, tuple)):
                stack.extend((f'{path}[{i}]', d) for i, d in enumerate(ds))
                continue
            if not isinstance(ds, dict):
                continue
            yield path, ds
            for sub in ('dataset', 'datasets'):
                if sub in ds:
                    stack.append((f'{path}.{sub}', ds[sub]))


def check_data_paths(cfg: Config) -> List[str]:
    """Return one message per dataset ``data_root`` / ``ann_file`` that is missing."""
    errors = []
    for path, ds in _datasets(cfg):
        root = ds.get('data_root')
        if isinstance(root, str) and root and '://' not in root:
            if not osp.isdir(root):
                errors.append(f'{path}.data_root: directory {root!r} does not exist')
                continue
        ann = ds.get('ann_file')
        if isinstance(ann, str) and ann and '://' not in ann:
            full = ann if osp.isabs(ann) or not isinstance(root, str) \
                else osp.join(root, ann)
            if not osp.exists(full):
                errors.append(f'{path}.ann_file: file {full!r} does not exist')
    return errors


def _registered(name: Any, scope: Optional[str]) -> Any:
    """The object registered as ``name`` in any registry of ``scope`` (or None)."""
    if not isinstance(name, str):
        return name
    for reg in _registries(scope):
        try:
            obj = reg.get(name)
        except Exception:  # noqa: BLE001 - registry import errors count as a miss
            continue
        if obj is not None:
            return obj
    return None


def check_dataset_fields(cfg: Config) -> List[str]:
    """The problems each dataset class finds in its own config
    (``config_problems``, a static method returning messages that start with the
    field name), prefixed with the dataset's path in the config."""
    errors = []
    default = cfg.get('default_scope', None)
    for path, ds in _datasets(cfg):
        cls = _registered(ds.get('type'), ds.get('_scope_', default))
        problems = getattr(cls, 'config_problems', None)
        if callable(problems):
            errors += [f'{path}.{msg}' for msg in problems(ds)]
    return errors


def _is_local(path: Any) -> bool:
    return isinstance(path, str) and bool(path) and '://' not in path


def check_checkpoint_paths(cfg: Config) -> List[str]:
    """``load_from`` (the checkpoint ``resume`` continues, too) must exist."""
    load_from = cfg.get('load_from')
    if _is_local(load_from) and not osp.isfile(load_from):
        what = 'the checkpoint to resume' if cfg.get('resume') else 'the checkpoint'
        return [f'load_from: {what} {load_from!r} does not exist (a path relative '
                f'to the directory the command runs in, or a URL)']
    return []


def _pretrained_inits(node: Any, path: str) -> Iterator[Tuple[str, dict]]:
    """(field path, init dict) of every ``init_cfg`` entry of type Pretrained."""
    for where, d in _walk(node, path):
        init = d.get('init_cfg')
        entries = init if isinstance(init, (list, tuple)) else [init]
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and entry.get('type') == 'Pretrained':
                sub = f'[{i}]' if isinstance(init, (list, tuple)) else ''
                yield f'{where}.init_cfg{sub}' if where else f'init_cfg{sub}', entry


def check_init_checkpoints(cfg: Config, raise_error: bool = True) -> List[str]:
    """Every ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` under
    ``model`` must name an existing file (they are read when training starts).

    Raises:
        ConfigError: when ``raise_error`` and a file is missing; else the
        messages are returned.
    """
    errors = []
    model = cfg.get('model')
    if isinstance(model, dict):
        for where, init in _pretrained_inits(model.to_dict() if isinstance(
                model, ConfigDict) else model, 'model'):
            ckpt = init.get('checkpoint')
            if _is_local(ckpt) and not osp.isfile(ckpt):
                errors.append(f'{where}.checkpoint: file {ckpt!r} does not exist')
    if errors and raise_error:
        _raise(cfg, errors)
    return errors


#: config flag that lets a ``type='PAD'`` model train from random weights
ALLOW_RANDOM_ENCODER_KEY = 'allow_random_frozen_encoder'


def _has_checkpoints(work_dir: Any) -> bool:
    """Whether auto-resume could find a checkpoint in ``work_dir`` (a cheap look
    at the names; the runner verifies the file it picks)."""
    if not isinstance(work_dir, str) or not osp.isdir(work_dir):
        return False
    return osp.isfile(osp.join(work_dir, 'last_checkpoint')) or bool(
        glob.glob(osp.join(work_dir, 'epoch_*.pth'))
        or glob.glob(osp.join(work_dir, 'iter_*.pth')))


def check_pad_initialised(cfg: Config) -> List[str]:
    """A ``type='PAD'`` model whose encoder is frozen must start from weights:
    ``load_from``, a ``Pretrained`` ``init_cfg`` on the model, its ``algorithm``
    or the algorithm's ``backbone``, or ``resume = True`` with a checkpoint in the
    work dir (``resume = True`` alone, as stock MAE configs set it, starts from
    random weights when the work dir is new)."""
    model = cfg.get('model')
    if not isinstance(model, dict) or model.get('type') != 'PAD':
        return []
    if cfg.get(ALLOW_RANDOM_ENCODER_KEY, False) or cfg.get('load_from'):
        return []
    if cfg.get('resume') and _has_checkpoints(cfg.get('work_dir')):
        return []  # auto-resume (resume = True) continues a run of this model
    frozen = model.get('frozen')
    if frozen is not None and len(frozen) == 0:  # frozen=[]: everything trains
        return []
    algorithm = model.get('algorithm') or {}
    backbone = algorithm.get('backbone') if isinstance(algorithm, dict) else None
    for node in (model, algorithm, backbone):
        if isinstance(node, dict) and next(_pretrained_inits(
                {'init_cfg': node.get('init_cfg')}, ''), None) is not None:
            return []
    return [
        'load_from / model.algorithm.backbone.init_cfg: neither is set, so the '
        'frozen encoder of this type=\'PAD\' model keeps its random '
        'initialisation and only the adapters around it would train. Start from '
        'the SSL checkpoint: load_from = \'checkpoints/<ImageNet SSL model>.pth\' '
        '(or --cfg-options load_from=PATH), or model.algorithm.backbone.init_cfg = '
        'dict(type=\'Pretrained\', checkpoint=PATH, prefix=\'backbone.\'); set '
        f'{ALLOW_RANDOM_ENCODER_KEY} = True to train from random weights anyway']


def _runner_class(cfg: Config, runner: Any) -> Any:
    if runner is not None:
        return runner
    name = cfg.get('runner_type', 'Runner')
    if not isinstance(name, str):
        return name
    from mmengine.registry import RUNNERS
    return RUNNERS.get(name)


def check_function_scopes(cfg: Config, runner: Any = None) -> List[str]:
    """``collate_fn`` / ``worker_init_fn`` dicts with a ``_scope_`` key (added by
    a ``scope::`` base config) for a runner that would pass the key to the
    function as a keyword argument.

    Args:
        runner: the runner class that will run ``cfg``; None = the one named by
            ``cfg.runner_type`` (mmengine's ``Runner`` when unset).
    """
    cls = _runner_class(cfg, runner)
    if cls is None or getattr(cls, 'resolves_function_scope', False):
        return []
    errors = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dl = cfg.get(loader)
        if not isinstance(dl, dict):
            continue
        for key in ('collate_fn', 'worker_init_fn'):
            fn = dl.get(key)
            if isinstance(fn, dict) and '_scope_' in fn:
                errors.append(
                    f'{loader}.{key}: carries _scope_={fn["_scope_"]!r} (added by '
                    f'a \'{fn["_scope_"]}::\' base config); runner '
                    f'{getattr(cls, "__name__", cls)!r} passes it to '
                    f'{fn.get("type")!r} as a keyword argument and fails at the '
                    f'first batch. Use runner_type = \'MMPadRunner\' (it drops the '
                    f'key), or re-state the field in your config: {loader} = '
                    f'dict({key}=dict(_delete_=True, type={fn.get("type")!r}))')
    return errors


def _raise(cfg: Config, errors: List[str]) -> None:
    src = f' ({cfg.filename})' if getattr(cfg, 'filename', None) else ''
    raise ConfigError('Invalid config' + src + ':\n  - ' + '\n  - '.join(errors))


def check_config(cfg: Config, data: bool = True, training: bool = False,
                 runner: Any = None) -> None:
    """Raise :class:`ConfigError` listing every problem found in ``cfg``.

    Args:
        cfg: the config (a ``Config`` or a dict).
        data: also check what must be on disk: data paths, dataset fields and
            checkpoint files (False: only what the config itself says, e.g. for
            a shipped config whose data and checkpoints are not downloaded).
        training: with ``data``, also check the ``init_cfg`` checkpoints (read
            by ``init_weights`` when training starts, not by testing).
        runner: the runner class that will run ``cfg``; None = the one
            ``cfg.runner_type`` names.
    """
    if not isinstance(cfg, Config):
        cfg = Config(dict(cfg) if isinstance(cfg, ConfigDict) else cfg)
    errors = check_types(cfg)
    if data:
        errors += check_data_paths(cfg)
        errors += check_dataset_fields(cfg)
        errors += check_checkpoint_paths(cfg)
        if training:
            errors += check_init_checkpoints(cfg, raise_error=False)
    errors += check_pad_initialised(cfg)
    errors += check_function_scopes(cfg, runner)
    if errors:
        _raise(cfg, errors)
