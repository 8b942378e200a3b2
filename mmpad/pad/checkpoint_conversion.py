"""Convert a PAD / MAE pre-training checkpoint (mmpretrain layout) into the key
layout of the downstream backbones.

Source (mmpretrain ``MAE`` / ``MILAN`` algorithm, ``state_dict`` of the Runner)::

    backbone.cls_token (1, 1, C)          backbone.pos_embed (1, 1 + g*g, C)
    backbone.patch_embed.projection.*     backbone.ln1.*  (final norm)
    backbone.layers.<i>.{ln1, attn.qkv, attn.proj, ln2, ffn.layers.0.0, ffn.layers.1}.*
    backbone.layers.<i>.adapter.{norm, down, up}.*,
    backbone.layers.<i>.adapter.scale_pred.weight (or .adapter.scale)
    neck.* (decoder), target_generator.* (MILAN teacher), ...

Targets (keys without prefix, loaded by ``init_cfg=dict(type='Pretrained')``):

* ``det`` -> :class:`~mmpad.pad.pad_vit_det.PADViTDet` (mmpretrain
  ``ViTSAM`` names): CLS token and its position entry dropped, ``pos_embed`` as
  (1, g, g, C), zero decomposed relative position tables ``attn.rel_pos_{h,w}``
  created (zero-initialised), final norm dropped.
* ``seg`` -> :class:`~mmpad.pad.pad_mae_seg.PADMAE` (mmseg ``MAE``
  names): CLS kept, zero ``attn.relative_position_bias_table`` and layer-scale
  ``gamma_1/gamma_2`` (init 1.0) created, final norm dropped. With
  ``qv_bias=True`` the qkv bias is split into ``q_bias`` / ``v_bias`` for BEiT-style
  backbones and the key bias is dropped, which is exact (the key bias adds the
  same constant to every logit of a query, which the softmax cancels).

Created tensors use the pre-training grid; the backbones resize them on load.
Adapters and scale predictors are kept unchanged (or dropped on request).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from mmpad.core.checkpoint.errors import CheckpointConversionError
from mmpad.core.checkpoint.reader import read_state_dict
from mmpad.core.checkpoint.report import CheckpointReport

__all__ = ['CheckpointConversionError', 'ConversionReport', 'AdapterInfo',
           'ViTInfo', 'extract_state_dict', 'inspect_pretrain_checkpoint',
           'convert_pad_checkpoint', 'expected_keys']

TARGETS = ('det', 'seg')
SRC = 'backbone.'
#: block weights whose names are identical in mmpretrain, ViTSAM and mmseg MAE
BLOCK_KEYS = tuple(f'{m}.{p}' for m in (
    'ln1', 'attn.qkv', 'attn.proj', 'ln2', 'ffn.layers.0.0', 'ffn.layers.1')
                   for p in ('weight', 'bias'))
ADAPTER_KEYS = ('norm.weight', 'norm.bias', 'down.weight', 'down.bias',
                'up.weight', 'up.bias')
_LAYER_RE = re.compile(r'^backbone\.layers\.(\d+)\.(.+)$')


@dataclass
class AdapterInfo:
    """Adapters found in the checkpoint."""
    bottleneck: int
    scale: str            # 'concat' | 'sum/side/gside' | 'scalar' | 'fixed'


@dataclass
class ViTInfo:
    """Geometry of the pre-trained ViT."""
    embed_dims: int
    num_layers: int
    grid: int             # patch grid side of the pre-training pos_embed
    adapter: Optional[AdapterInfo]


#: what :func:`convert_pad_checkpoint` returns (``kind='pad'``, one report type)
ConversionReport = CheckpointReport


def _title(target: str, info: ViTInfo) -> str:
    adapter = ('none' if info.adapter is None else
               f'bottleneck {info.adapter.bottleneck}, scale '
               f'{info.adapter.scale}')
    return (f'target {target}: ViT with {info.num_layers} blocks, width '
            f'{info.embed_dims}, pre-training grid {info.grid}x{info.grid}; '
            f'adapters: {adapter}')


def extract_state_dict(checkpoint: dict, filename: str) -> Dict[str, Tensor]:
    """The tensors of a Runner checkpoint (``state_dict``), a timm-style one
    (``model``) or a bare state dict
    (:func:`mmpad.core.checkpoint.reader.read_state_dict`, keys as stored)."""
    return read_state_dict(checkpoint, filename=filename, revise_keys=(),
                           allow_empty=True, error=CheckpointConversionError)


def inspect_pretrain_checkpoint(sd: Dict[str, Tensor],
                                filename: str) -> ViTInfo:
    """Check that ``sd`` is an mmpretrain MAE-layout ViT and read its geometry.

    Raises:
        CheckpointConversionError: another kind of checkpoint (timm / FAIR MAE,
            already converted, a detector / segmentor), a non-square grid, or
            inconsistent adapters.
    """
    if 'backbone.patch_embed.projection.weight' not in sd or \
            'backbone.layers.0.attn.qkv.weight' not in sd:
        if 'blocks.0.attn.qkv.weight' in sd:
            kind = 'a timm / FAIR-MAE checkpoint (blocks.*)'
        elif 'layers.0.attn.qkv.weight' in sd:
            kind = 'an already converted backbone checkpoint'
        elif any(k.startswith(('roi_head.', 'decode_head.', 'rpn_head.'))
                 for k in sd):
            kind = 'a detector / segmentor checkpoint'
        else:
            kind = f'an unknown checkpoint (keys: {sorted(sd)[:4]})'
        raise CheckpointConversionError(
            f'{filename}: this is {kind}, not an mmpretrain MAE / MILAN / PAD '
            'pre-training checkpoint (expected backbone.patch_embed.projection.'
            'weight and backbone.layers.<i>.attn.qkv.weight)')
    embed_dims = sd['backbone.patch_embed.projection.weight'].shape[0]
    layer_ids = sorted({int(m.group(1)) for k in sd
                        for m in [_LAYER_RE.match(k)] if m})
    num_layers = len(layer_ids)
    if layer_ids != list(range(num_layers)):
        raise CheckpointConversionError(
            f'{filename}: backbone layers are not numbered 0..N-1: {layer_ids}')
    if 'backbone.pos_embed' not in sd:
        raise CheckpointConversionError(f'{filename}: no backbone.pos_embed')
    num_pos = sd['backbone.pos_embed'].shape[1] - 1  # minus CLS
    grid = math.isqrt(num_pos)
    if grid * grid != num_pos:
        raise CheckpointConversionError(
            f'{filename}: backbone.pos_embed has {num_pos + 1} entries; expected '
            'CLS + a square grid')
    return ViTInfo(embed_dims, num_layers, grid,
                   _inspect_adapters(sd, num_layers, embed_dims, filename))


def _inspect_adapters(sd: Dict[str, Tensor], num_layers: int, embed_dims: int,
                      filename: str) -> Optional[AdapterInfo]:
    with_adapter = [i for i in range(num_layers)
                    if f'{SRC}layers.{i}.adapter.down.weight' in sd]
    if not with_adapter:
        return None
    if len(with_adapter) != num_layers:
        raise CheckpointConversionError(
            f'{filename}: adapters in blocks {with_adapter} only; PAD has one '
            f'in each of the {num_layers} blocks')
    infos = set()
    for i in range(num_layers):
        pre = f'{SRC}layers.{i}.adapter.'
        absent = [k for k in ADAPTER_KEYS if pre + k not in sd]
        if absent:
            raise CheckpointConversionError(
                f'{filename}: block {i} adapter lacks {absent}')
        bottleneck = sd[pre + 'down.weight'].shape[0]
        if pre + 'scale_pred.weight' in sd:
            width = sd[pre + 'scale_pred.weight'].shape[1]
            scale = {2 * embed_dims: 'concat',
                     embed_dims: 'sum/side/gside'}.get(width)
            if scale is None:
                raise CheckpointConversionError(
                    f'{filename}: {pre}scale_pred.weight has width {width}, '
                    f'expected {2 * embed_dims} (concat) or {embed_dims}')
        elif pre + 'scale' in sd:
            scale = 'scalar/fixed'
        else:
            raise CheckpointConversionError(
                f'{filename}: block {i} adapter has no scale (scale_pred.weight'
                ' or scale)')
        infos.add((bottleneck, scale))
    if len(infos) != 1:
        raise CheckpointConversionError(
            f'{filename}: adapters differ between blocks: {sorted(infos)}')
    bottleneck, scale = infos.pop()
    return AdapterInfo(bottleneck, scale)


def convert_pad_checkpoint(
        sd: Dict[str, Tensor],
        target: str,
        filename: str = '<checkpoint>',
        num_heads: Optional[int] = None,
        layer_scale_init: Optional[float] = 1.0,
        qv_bias: bool = False,
        drop_adapters: bool = False,
        bottleneck: Optional[int] = None
) -> Tuple[Dict[str, Tensor], ConversionReport]:
    """Convert an mmpretrain PAD / MAE state dict for a downstream backbone.

    Args:
        sd: source tensors (see module docstring).
        target: ``'det'`` or ``'seg'``.
        filename: named in errors.
        num_heads: attention heads, sizes the created relative position tables
            (default ``embed_dims // 64``, 12 for ViT-B).
        layer_scale_init: ``seg`` only: init of the created ``gamma_1/2``
            (1.0); ``None`` creates none (backbone without layer scale).
        qv_bias: ``seg`` only: split the qkv bias into ``q_bias`` / ``v_bias``
            (BEiT layout), dropping the key bias (exact, see the module
            docstring).
        drop_adapters: drop the adapters on purpose (baseline from a PAD run).
        bottleneck: refuse a checkpoint whose adapters have another bottleneck
            (PAD: 64).

    Returns:
        The converted state dict and a :class:`CheckpointReport`
        (``kind='pad'``: ``mapped``, ``created``, ``dropped``, ``missing``).
    """
    if target not in TARGETS:
        raise ValueError(f'target must be one of {TARGETS}, got {target!r}')
    info = inspect_pretrain_checkpoint(sd, filename)
    if bottleneck is not None:
        if info.adapter is None:
            raise CheckpointConversionError(
                f'{filename}: --bottleneck {bottleneck} asked for but the '
                'checkpoint has no adapters (not a PAD checkpoint)')
        if info.adapter.bottleneck != bottleneck:
            raise CheckpointConversionError(
                f'{filename}: adapter bottleneck is {info.adapter.bottleneck}, '
                f'expected {bottleneck}')
    heads = num_heads or max(info.embed_dims // 64, 1)
    if info.embed_dims % heads:
        raise CheckpointConversionError(
            f'{filename}: width {info.embed_dims} is not divisible by '
            f'num_heads={heads}')
    report = CheckpointReport(kind='pad', target=target, info=info,
                              title=_title(target, info))
    out: Dict[str, Tensor] = {}

    def put(src: str, dst: str, value: Optional[Tensor] = None) -> None:
        out[dst] = (sd[src] if value is None else value).clone()
        report.mapped[src] = dst

    put(SRC + 'patch_embed.projection.weight', 'patch_embed.projection.weight')
    put(SRC + 'patch_embed.projection.bias', 'patch_embed.projection.bias')
    pos = sd[SRC + 'pos_embed']
    if target == 'det':  # no CLS token; (1, g, g, C)
        put(SRC + 'pos_embed', 'pos_embed',
            pos[:, 1:].reshape(1, info.grid, info.grid, info.embed_dims))
    else:
        put(SRC + 'pos_embed', 'pos_embed')
        put(SRC + 'cls_token', 'cls_token')

    head_dims = info.embed_dims // heads
    rel_len = 2 * info.grid - 1
    for i in range(info.num_layers):
        src, dst = f'{SRC}layers.{i}.', f'layers.{i}.'
        for key in BLOCK_KEYS:
            if src + key not in sd:
                continue  # reported as missing below
            if key == 'attn.qkv.bias' and target == 'seg' and qv_bias:
                q, _k, v = sd[src + key].chunk(3)
                put(src + key, dst + 'attn.q_bias', q)
                out[dst + 'attn.v_bias'] = v.clone()
                continue
            put(src + key, dst + key)
        if target == 'det':
            for axis in ('h', 'w'):
                out[dst + f'attn.rel_pos_{axis}'] = torch.zeros(
                    rel_len, head_dims)
                report.created.append(dst + f'attn.rel_pos_{axis}')
        else:
            out[dst + 'attn.relative_position_bias_table'] = torch.zeros(
                rel_len * rel_len + 3, heads)
            report.created.append(dst + 'attn.relative_position_bias_table')
            if layer_scale_init is not None:
                for g in ('gamma_1', 'gamma_2'):
                    out[dst + g] = torch.full((info.embed_dims, ),
                                              float(layer_scale_init))
                    report.created.append(dst + g)
        if info.adapter is not None and not drop_adapters:
            for key in sd:
                if key.startswith(src + 'adapter.'):
                    put(key, dst + key[len(src):])

    report.dropped = sorted(k for k in sd if k not in report.mapped)
    report.missing = sorted(
        set(expected_keys(info, target, qv_bias, drop_adapters,
                          layer_scale_init is not None)) - set(out))
    return out, report


def expected_keys(info: ViTInfo, target: str, qv_bias: bool = False,
                  drop_adapters: bool = False,
                  layer_scale: bool = True) -> List[str]:
    """The learnable keys the target backbone expects (for the missing list)."""
    keys = ['patch_embed.projection.weight', 'patch_embed.projection.bias',
            'pos_embed']
    if target == 'seg':
        keys.append('cls_token')
    for i in range(info.num_layers):
        dst = f'layers.{i}.'
        block = list(BLOCK_KEYS)
        if target == 'seg' and qv_bias:
            block.remove('attn.qkv.bias')
            block += ['attn.q_bias', 'attn.v_bias']
        if target == 'det':
            block += ['attn.rel_pos_h', 'attn.rel_pos_w']
        else:
            block.append('attn.relative_position_bias_table')
            if layer_scale:
                block += ['gamma_1', 'gamma_2']
        if info.adapter is not None and not drop_adapters:
            block += [f'adapter.{k}' for k in ADAPTER_KEYS]
        keys += [dst + k for k in block]
    return keys
