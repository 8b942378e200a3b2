"""The input layer of an early-fusion SOP backbone (``fusion='early'``).

Going up (3 -> 6 channels): the pretrained kernel is copied into the image half and
the sub-image half and both are halved, so that ``[I ‖ I]`` gives the pretrained
response. Going down (6 -> 3): keep the image half, ×2 by default (ablations: the
image half as is, or the sum of both halves). Pure torch, no host library.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional, Tuple

import torch

SLICE_MODES = ('image_x2', 'image', 'sum')


def inflate_input_conv(weight: torch.Tensor) -> torch.Tensor:
    """(O, 3, kh, kw) -> (O, 6, kh, kw) = 0.5·[W ‖ W]."""
    if weight.ndim != 4 or weight.shape[1] != 3:
        raise ValueError(f'expected a (O, 3, kh, kw) kernel, got {tuple(weight.shape)}')
    return torch.cat([weight, weight], dim=1) * 0.5


def slice_input_conv(weight: torch.Tensor, mode: str = 'image_x2') -> torch.Tensor:
    """(O, 6, kh, kw) -> (O, 3, kh, kw).

    ``image_x2``: 2·W[:, :3] (undoes the 0.5 of :func:`inflate_input_conv`);
    ``image``: W[:, :3]; ``sum``: W[:, :3] + W[:, 3:].
    """
    if weight.ndim != 4 or weight.shape[1] != 6:
        raise ValueError(f'expected a (O, 6, kh, kw) kernel, got {tuple(weight.shape)}')
    if mode == 'image_x2':
        return weight[:, :3] * 2
    if mode == 'image':
        return weight[:, :3].clone()
    if mode == 'sum':
        return weight[:, :3] + weight[:, 3:]
    raise ValueError(f'unknown slice mode {mode!r}; choose from {SLICE_MODES}')


def find_input_conv(params: Iterable[Tuple[str, torch.Tensor]],
                    in_channels: int = 6) -> Optional[str]:
    """Name of the first 4-D kernel with ``in_channels`` input channels (in
    definition order: the stem / patch embedding), or None."""
    for name, tensor in params:
        if name.endswith('weight') and tensor.ndim == 4 and \
                tensor.shape[1] == in_channels:
            return name
    return None


def state_dict_items(state: Mapping[str, torch.Tensor], prefix: str = ''):
    """``(name, tensor)`` of the entries under ``prefix`` (prefix stripped)."""
    for key, value in state.items():
        if key.startswith(prefix) and isinstance(value, torch.Tensor):
            yield key[len(prefix):], value
