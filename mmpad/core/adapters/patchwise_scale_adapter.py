"""The patchwise-scale adapter of PAD (Zhang et al., arXiv 2312.08192).

One module used by every host (mmpretrain pre-training backbones, mmdet and mmseg
downstream backbones), so it imports only torch and mmengine.

A block that owns an adapter computes (written once, in
:class:`~mmpad.core.adapters.adapted_block.AdaptedBlockMixin`)::

    x <- x + DropPath(Attn(LN1(x)))
    M <- FFN(LN2(x))                      # before DropPath / layer-scale gamma
    A <- up(Dropout(ReLU(down(LN_a(x)))))
    s <- sigmoid(w_s^T [M ; A])           # one scalar per token, no bias
    x <- x + s * A + DropPath(gamma * M)

:meth:`PatchwiseScaleAdapter.forward` returns the term ``s * A``.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmpad.core.arg_check import (check_choice, check_dict, check_float,
                                   check_int)

#: fusion modes with a learned per-token scale predictor ``scale_pred``
LEARNED_FUSION_MODES = ('concat', 'sum', 'side', 'gside')
#: modes with a fixed scale (buffer ``scale``)
FIXED_SCALE_MODES = ('constant', 'layer_decay', 'linspace')
SCALE_MODES = LEARNED_FUSION_MODES + ('scalar', ) + FIXED_SCALE_MODES


def fixed_scale_value(scale_mode: str, layer_idx: int, num_layers: int,
                      constant: float = 0.5) -> float:
    """The scale of the fixed modes (ablations in the PAD code).

    * ``constant``: ``constant`` (AdaptFormer's 0.5),
    * ``layer_decay``: ``constant * 0.8 ** (num_layers - 1 - layer_idx)``,
    * ``linspace``: ``linspace(0.1, constant, num_layers)[layer_idx]``.
    """
    if not 0 <= layer_idx < num_layers:
        raise ValueError(f'layer_idx={layer_idx} is outside [0, {num_layers})')
    if scale_mode == 'constant':
        return float(constant)
    if scale_mode == 'layer_decay':
        return float(constant) * 0.8**(num_layers - 1 - layer_idx)
    if scale_mode == 'linspace':
        if num_layers == 1:
            return float(constant)
        return 0.1 + (float(constant) - 0.1) * layer_idx / (num_layers - 1)
    raise ValueError(f'{scale_mode!r} is not a fixed scale mode '
                     f'({", ".join(FIXED_SCALE_MODES)})')


class _ZeroGradAttach(torch.autograd.Function):
    """``x`` unchanged; ``weight`` joins the graph with an exact zero gradient.

    A held scale is used detached, so the forward value and every other gradient
    are those of the detached computation, but the weight stays in the autograd
    graph: DDP sees it used (its zero gradient is all-reduced with the others)
    and needs no ``find_unused_parameters``. Nothing is saved for backward.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:
        ctx.weight_meta = (weight.shape, weight.dtype, weight.device)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        shape, dtype, device = ctx.weight_meta
        return grad, torch.zeros(shape, dtype=dtype, device=device)


#: the adapter settings a config may give (``adapter=`` of ``PAD``,
#: ``adapter_cfg=`` of the PAD backbones, :func:`inject_adapters`)
ADAPTER_ARGS = ('bottleneck', 'dropout', 'scale_mode', 'constant')


def check_adapter_args(owner: str, **kwargs) -> dict:
    """Check adapter settings (any of :data:`ADAPTER_ARGS`); returns them.

    Raises:
        InvalidArgumentError: naming the argument, its value and what is allowed.
    """
    if 'bottleneck' in kwargs:
        kwargs['bottleneck'] = check_int(owner, 'bottleneck', kwargs['bottleneck'], 1)
    if 'dropout' in kwargs:
        kwargs['dropout'] = check_float(owner, 'dropout', kwargs['dropout'], 0.0, 1.0,
                                        hi_open=True)
    if 'scale_mode' in kwargs:
        check_choice(owner, 'scale_mode', kwargs['scale_mode'], SCALE_MODES)
    if 'constant' in kwargs:
        kwargs['constant'] = check_float(owner, 'constant', kwargs['constant'])
    return kwargs


def check_adapter_cfg(owner: str, name: str, cfg) -> dict:
    """``cfg`` (None or a dict of :data:`ADAPTER_ARGS`) checked; a dict."""
    cfg = check_dict(owner, name, cfg, allow_none=True, keys=ADAPTER_ARGS)
    return check_adapter_args(owner, **dict(cfg or {}))


class PatchwiseScaleAdapter(BaseModule):
    """PAD's adapter: LN_a -> down (d->r) -> ReLU -> Dropout -> up (r->d), in
    parallel with the FFN, scaled per token by ``s = sigmoid(w_s^T [M ; A])``.

    Args:
        embed_dims: token width d.
        bottleneck: adapter width r. Defaults to 64.
        dropout: dropout after the ReLU. Defaults to 0.1.
        scale_mode: how the adapter output is scaled:

            - ``'concat'`` (PAD): ``sigmoid(w_s^T [M ; A])``, w_s in R^{2d};
            - ``'sum'``: ``sigmoid(w_s^T (M + A))``, w_s in R^d;
            - ``'side'``: ``sigmoid(w_s^T A)``; ``'gside'``: ``sigmoid(w_s^T M)``;
            - ``'scalar'``: one learnable scalar (init ``constant``, no sigmoid);
            - ``'constant'``: fixed ``constant`` (AdaptFormer);
            - ``'layer_decay'`` / ``'linspace'``: fixed per-layer scales, see
              :func:`fixed_scale_value`.
        layer_idx: index of the block holding the adapter (fixed per-layer modes).
        num_layers: number of blocks of the encoder (fixed per-layer modes).
        constant: the constant / initial / top-layer scale. Defaults to 0.5.
        init_cfg: ignored for the adapter's own weights, which always get the
            PAD init in :meth:`init_weights` (the adapter's output is 0 at step 0).

    Submodules / parameters (names are stable; freezing rules, layer decay and
    checkpoint converters rely on them): ``norm``, ``down``, ``up``,
    ``scale_pred`` (learned fusion modes), ``scale`` (parameter in ``'scalar'``
    mode, buffer in the fixed modes).

    Attributes:
        detach_scale (bool): when True the learned scale (``scale_pred.weight``
            or the scalar) is held: used detached, staying
            ``requires_grad=True`` (delayed scale learning, ``DelayedScaleHook``).
            With :attr:`hold_in_graph` (default) it gets an exact zero gradient
            and stays in the graph (DDP needs no ``find_unused_parameters``; the
            hook drops the zero gradient before the optimizer step); without,
            it gets no gradient at all (the PAD code's plain detach).
        hold_in_graph (bool): see ``detach_scale``. Defaults to True.
    """

    hold_in_graph: bool = True

    def __init__(self,
                 embed_dims: int,
                 bottleneck: int = 64,
                 dropout: float = 0.1,
                 scale_mode: str = 'concat',
                 layer_idx: int = 0,
                 num_layers: int = 12,
                 constant: float = 0.5,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        owner = type(self).__name__
        check_adapter_args(owner, bottleneck=bottleneck, dropout=dropout,
                           scale_mode=scale_mode, constant=constant)
        embed_dims = check_int(owner, 'embed_dims', embed_dims, 1)
        num_layers = check_int(owner, 'num_layers', num_layers, 1)
        layer_idx = check_int(owner, 'layer_idx', layer_idx, 0, num_layers - 1)
        super().__init__(init_cfg=init_cfg)
        self.embed_dims = embed_dims
        self.bottleneck = int(bottleneck)
        self.scale_mode = scale_mode
        self.layer_idx = layer_idx
        self.num_layers = num_layers
        self.constant = float(constant)
        self.detach_scale = False

        self.norm = nn.LayerNorm(embed_dims)
        self.down = nn.Linear(embed_dims, bottleneck)
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.up = nn.Linear(bottleneck, embed_dims)

        if scale_mode in LEARNED_FUSION_MODES:
            in_dims = 2 * embed_dims if scale_mode == 'concat' else embed_dims
            self.scale_pred = nn.Linear(in_dims, 1, bias=False)
        elif scale_mode == 'scalar':
            self.scale = nn.Parameter(torch.tensor(self.constant))
        else:
            self.register_buffer(
                'scale',
                torch.tensor(
                    fixed_scale_value(scale_mode, layer_idx, num_layers,
                                      constant)))
        self.reset_adapter_parameters()

    @property
    def learned_scale(self) -> bool:
        """Whether the scale has trainable parameters."""
        return self.scale_mode in LEARNED_FUSION_MODES + ('scalar', )

    def scale_parameters(self) -> list:
        """The parameters of the scale (held by delayed scale learning)."""
        if self.scale_mode in LEARNED_FUSION_MODES:
            return [self.scale_pred.weight]
        if self.scale_mode == 'scalar':
            return [self.scale]
        return []

    @torch.no_grad()
    def reset_adapter_parameters(self) -> None:
        """The PAD code's init: down = kaiming-uniform(a=sqrt(5)), biases and up = 0,
        scale predictor = 0, LayerNorm (1, 0); the scalar goes back to
        ``constant``."""
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        nn.init.ones_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)
        if self.scale_mode in LEARNED_FUSION_MODES:
            nn.init.zeros_(self.scale_pred.weight)
        elif self.scale_mode == 'scalar':
            self.scale.fill_(self.constant)

    def init_weights(self) -> None:
        """Always the PAD init (:meth:`reset_adapter_parameters`), whatever a
        parent's global init did.

        A checkpoint loaded afterwards (``load_from`` / ``Pretrained``
        ``init_cfg`` of the backbone) overrides it as usual.
        """
        self.reset_adapter_parameters()
        self._is_init = True

    def adapter_branch(self, x: Tensor) -> Tensor:
        """A = up(Dropout(ReLU(down(LN_a(x))))). x: (B, T, C) -> (B, T, C)."""
        return self.up(self.dropout(self.act(self.down(self.norm(x)))))

    def compute_scale(self, adapter_out: Tensor,
                      mlp_out: Tensor) -> Tensor:
        """The scale s, (B, T, 1) in the learned fusion modes, a 0-d tensor
        otherwise."""
        if self.scale_mode == 'scalar':
            return self._held(self.scale.detach(), self.scale) \
                if self.detach_scale else self.scale
        if self.scale_mode in FIXED_SCALE_MODES:
            return self.scale
        weight = self.scale_pred.weight  # (1, 2C) or (1, C)
        if self.detach_scale:
            return self._held(
                self._learned_scale(adapter_out, mlp_out, weight.detach()),
                weight)
        return self._learned_scale(adapter_out, mlp_out, weight)

    def _held(self, scale: Tensor, weight: Tensor) -> Tensor:
        """A held scale: ``scale`` (computed from the detached weight), with
        ``weight`` attached by a zero gradient when :attr:`hold_in_graph`."""
        if self.hold_in_graph and torch.is_grad_enabled() and weight.requires_grad:
            return _ZeroGradAttach.apply(scale, weight)
        return scale

    def _learned_scale(self, adapter_out: Tensor, mlp_out: Tensor,
                       weight: Tensor) -> Tensor:
        """sigmoid of the fusion logit with ``weight`` (1, 2C) / (1, C);
        (B, T, 1)."""
        if self.scale_mode == 'concat':
            # w^T [M ; A] = w_M^T M + w_A^T A, without materialising the concat
            c = self.embed_dims
            logit = F.linear(mlp_out, weight[:, :c]) + \
                F.linear(adapter_out, weight[:, c:])
        elif self.scale_mode == 'sum':
            logit = F.linear(mlp_out + adapter_out, weight)
        elif self.scale_mode == 'side':
            logit = F.linear(adapter_out, weight)
        else:  # 'gside'
            logit = F.linear(mlp_out, weight)
        return torch.sigmoid(logit)

    def forward(self, x: Tensor, mlp_out: Tensor) -> Tensor:
        """x: (B, T, C) residual stream after the attention residual;
        mlp_out: (B, T, C) the FFN output M (before DropPath and before
        layer-scale gamma). Returns the scaled adapter term s*A, (B, T, C).
        The block then computes ``x + s*A + DropPath(gamma*M)``."""
        adapter_out = self.adapter_branch(x)
        return self.compute_scale(adapter_out, mlp_out) * adapter_out

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, bottleneck={self.bottleneck}, '
                f'scale_mode={self.scale_mode!r}')
