""":class:`CheckpointReport`: the one record of what was done with a
checkpoint's tensors, by every mmpad checkpoint path.

* ``kind='compat'``: :func:`mmpad.core.checkpoint.compat.check_checkpoint_compatible`
  (names and shapes against a model; :meth:`CheckpointReport.counts`);
* ``kind='load'``: :func:`mmpad.core.checkpoint.pretrained.load_pretrained_backbone`
  (what was loaded into a backbone: ``loaded`` / ``missing`` / ``unexpected``);
* ``kind='pad'``: the PAD / MAE converter (``mapped`` / ``created`` /
  ``dropped`` / ``missing``, ``target``, ``info``);
* ``kind='sop'``: the SOP converter (``kept`` / ``sliced`` / ``dropped``,
  ``fusion``).

:meth:`CheckpointReport.summary` prints each kind the way its tool always has.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

#: how many keys / mismatches a one-line message lists
SHOW = 3
KINDS = ('compat', 'load', 'pad', 'sop')


def fmt_shape(shape: Sequence[int]) -> str:
    """``(4, 64)``."""
    return '(' + ', '.join(str(s) for s in shape) + ')'


def group_keys(keys: List[str]) -> str:
    """Summarise keys as 'pattern (count)' with layer indices folded and
    ``neck`` / ``target_generator`` / ``head`` collapsed."""
    if not keys:
        return 'none'
    counts: Dict[str, int] = defaultdict(int)
    for key in keys:
        key = re.sub(r'\.layers\.\d+\.', '.layers.*.', key)
        key = re.sub(r'^layers\.\d+\.', 'layers.*.', key)
        parts = key.split('.')
        if parts[0] in ('neck', 'target_generator', 'head'):
            key = parts[0] + '.*'
        counts[key] += 1
    return ', '.join(f'{k} ({n})' if n > 1 else k for k, n in counts.items())


@dataclass
class CheckpointReport:
    """Names (and shapes) of a checkpoint's tensors against a model or a
    conversion target; fields a kind does not use stay empty."""
    kind: str = 'compat'
    #: same name and shape (compat), loaded (load), kept (sop)
    matched: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    #: (key, checkpoint shape, model shape)
    shape_mismatch: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]] = \
        field(default_factory=list)
    #: model adapter keys absent from an adapter-less checkpoint (PAD start)
    tolerated_missing: List[str] = field(default_factory=list)
    loaded_values: int = 0
    checkpoint_values: int = 0
    model_values: int = 0
    #: conversions: source key -> target key
    mapped: Dict[str, str] = field(default_factory=dict)
    #: conversions: tensors created at their downstream init
    created: List[str] = field(default_factory=list)
    #: conversions: source keys left out
    dropped: List[str] = field(default_factory=list)
    #: conversions: key -> (shape before, shape after)
    sliced: Dict[str, Tuple[tuple, tuple]] = field(default_factory=dict)
    #: the PAD converter's target ('det' / 'seg') and ViT geometry
    target: Optional[str] = None
    info: Any = None
    #: the SOP converter's fusion mode
    fusion: Optional[str] = None
    #: first line of :meth:`summary` for a conversion
    title: str = ''

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f'kind must be one of {KINDS}, got {self.kind!r}')

    @property
    def loaded(self) -> List[str]:
        """Tensors loaded (``kind='load'``)."""
        return self.matched

    @property
    def kept(self) -> int:
        """Number of tensors kept (``kind='sop'``)."""
        return len(self.matched)

    def counts(self) -> str:
        """One line: how many model tensors match, are missing, ..."""
        text = (f'{len(self.matched)} of '
                f'{len(self.matched) + len(self.missing) + len(self.shape_mismatch)}'
                f' model tensors match, {len(self.missing)} missing, '
                f'{len(self.unexpected)} unexpected, {len(self.shape_mismatch)} '
                'with another shape')
        if self.tolerated_missing:
            text += (f', {len(self.tolerated_missing)} adapter tensors not in '
                     'the checkpoint keep their init')
        if self.shape_mismatch:
            text += ' (' + '; '.join(
                f'{k}: checkpoint {fmt_shape(a)} vs model {fmt_shape(b)}'
                for k, a, b in self.shape_mismatch[:SHOW])
            if len(self.shape_mismatch) > SHOW:
                text += f'; ... {len(self.shape_mismatch) - SHOW} more'
            text += ')'
        return text

    def summary(self) -> str:
        """What a tool prints: a conversion's lines, else :meth:`counts`."""
        if self.kind == 'pad':
            return '\n'.join([
                self.title,
                f'mapped  {len(self.mapped)} tensors '
                f'({sum(".adapter." in k for k in self.mapped)} adapter '
                'tensors)',
                f'created {len(self.created)} tensors (not in pre-training, at '
                'their downstream init): ' + group_keys(self.created),
                f'dropped {len(self.dropped)} tensors: '
                + group_keys(self.dropped),
                f'missing {len(self.missing)} tensors: '
                + group_keys(self.missing)])
        if self.kind == 'sop':
            lines = [self.title, f'kept: {self.kept} tensors']
            lines += [f'sliced: {k} {list(a)} -> {list(b)}'
                      for k, (a, b) in self.sliced.items()]
            lines += [f'dropped: {k}' for k in self.dropped]
            return '\n'.join(lines)
        if self.kind == 'load':
            return (f'loaded {len(self.matched)} tensors; missing: '
                    f'{self.missing or "none"}; unexpected: '
                    f'{self.unexpected or "none"}')
        return self.counts()
