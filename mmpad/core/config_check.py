"""Fail early, with the field's path, on config mistakes that otherwise surface as a
deep traceback inside a data-loader worker or a registry builder.

Checked before the Runner is built:

* every ``type='...'`` string in the config resolves in the registries of the
  config's ``default_scope`` (or in mmcv ops / ``torch.nn``, which some builders use);
  a miss names the field (``model.backbone.type``) and suggests close names;
* every dataset's ``data_root`` exists, and so does its ``ann_file``.
"""
from __future__ import annotations

import difflib
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


def check_config(cfg: Config, data: bool = True) -> None:
    """Raise :class:`ConfigError` listing every problem found in ``cfg``."""
    if not isinstance(cfg, Config):
        cfg = Config(dict(cfg) if isinstance(cfg, ConfigDict) else cfg)
    errors = check_types(cfg)
    if data:
        errors += check_data_paths(cfg)
    if errors:
        src = f' ({cfg.filename})' if getattr(cfg, 'filename', None) else ''
        raise ConfigError('Invalid config' + src + ':\n  - ' + '\n  - '.join(errors))
