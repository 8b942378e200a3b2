"""Name-based freezing rules of PAD pre-training.

A parameter is frozen iff its name starts with one of the ``frozen`` prefixes
and contains none of the ``trainable`` substrings. The PAD default freezes the
whole encoder (``backbone.``) except its adapters (``.adapter.``), the SSL
target generator, and MAE's ``neck.decoder_embed``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import torch.nn as nn

ADAPTER_KEY = '.adapter.'


def is_adapter_param(name: str) -> bool:
    """True for adapter parameters / buffers (``...layers.<i>.adapter.*``)."""
    return ADAPTER_KEY in '.' + name


@dataclass
class FreezeSummary:
    """Parameter counts after :func:`apply_freeze`."""
    trainable: int = 0
    frozen: int = 0
    adapter: int = 0
    trainable_by_prefix: Dict[str, int] = field(default_factory=dict)
    frozen_names: List[str] = field(default_factory=list)

    def format(self) -> str:
        total = self.trainable + self.frozen
        parts = ', '.join(f'{k}: {v:,}'
                          for k, v in self.trainable_by_prefix.items())
        return (f'trainable params: {self.trainable:,} '
                f'({100.0 * self.trainable / max(total, 1):.2f}%; adapters '
                f'{self.adapter:,}; by module: {parts}), frozen params: '
                f'{self.frozen:,}, total: {total:,}')


def is_frozen(name: str, frozen: Sequence[str],
              trainable: Sequence[str]) -> bool:
    """The rule: under a frozen prefix and not matching a trainable key."""
    if not any(name.startswith(p) for p in frozen):
        return False
    return not any(key in '.' + name for key in trainable)


def apply_freeze(model: nn.Module,
                 frozen: Sequence[str] = ('backbone.', ),
                 trainable: Sequence[str] = (ADAPTER_KEY, ),
                 strict: bool = True) -> FreezeSummary:
    """Set ``requires_grad`` of every parameter of ``model`` by the rule.

    Parameters outside the frozen prefixes keep their flag (a fixed table such
    as MAE's ``decoder_pos_embed`` stays non-trainable; the PAD code marked it
    trainable although it never reached the optimizer).

    Args:
        model: the algorithm (names as in its ``state_dict``).
        frozen: name prefixes to freeze, e.g. ``'backbone.'``,
            ``'neck.decoder_embed.'``.
        trainable: substrings that keep a parameter trainable inside a frozen
            prefix.
        strict: raise if a frozen prefix matches no parameter (a typo).
    """
    matched = {p: False for p in frozen}
    for name, param in model.named_parameters():
        for prefix in frozen:
            if name.startswith(prefix):
                matched[prefix] = True
        if is_frozen(name, frozen, trainable):
            param.requires_grad_(False)
    if strict:
        missing = [p for p, hit in matched.items() if not hit]
        if missing:
            raise ValueError(
                f'Freeze prefixes {missing} match no parameter of '
                f'{type(model).__name__}; parameter names start with '
                f'{sorted({n.split(".")[0] + "." for n, _ in model.named_parameters()})}')
    return summarize(model)


def summarize(model: nn.Module) -> FreezeSummary:
    """Count trainable / frozen / adapter parameters of ``model``."""
    summary = FreezeSummary()
    for name, param in model.named_parameters():
        n = param.numel()
        if param.requires_grad:
            summary.trainable += n
            top = name.split('.')[0]
            summary.trainable_by_prefix[top] = \
                summary.trainable_by_prefix.get(top, 0) + n
            if is_adapter_param(name):
                summary.adapter += n
        else:
            summary.frozen += n
            summary.frozen_names.append(name)
    return summary
