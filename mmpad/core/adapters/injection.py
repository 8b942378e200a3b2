"""Put patchwise-scale adapters into the blocks of an existing ViT, for every host.

Host-agnostic (torch + mmengine only). A host registers, once per block class,
an *adapted* subclass built on :class:`~mmpad.core.adapters.adapted_block.
AdaptedBlockMixin`, which holds the block update with the adapter::

    @register_adapted_layer(TransformerEncoderLayer)
    class PADTransformerEncoderLayer(AdaptedBlockMixin, TransformerEncoderLayer):
        def attention_residual(self, x): ...

After the host backbone's own ``__init__`` built its blocks, :func:`adapt_blocks`
(or :func:`inject_adapters`) switches every block to its adapted class and adds
``block.adapter``. The same call serves mmpretrain's ViTs, mmdet's ``PADViTDet``
(ViTSAM blocks) and mmseg's ``PADMAE``. No stock submodule is moved or renamed,
so ImageNet checkpoints load unchanged and the only new keys are
``layers.<i>.adapter.*``.

:class:`AdapterBackboneMixin` turns any backbone class whose blocks live in
``self.layers`` into its adapter-equipped version (``class PADMAEViT(
AdapterBackboneMixin, MAEViT)``).
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Sequence

import torch.nn as nn

from mmpad.core.adapters.adapted_block import AdaptedBlockMixin
from mmpad.core.adapters.patchwise_scale_adapter import (PatchwiseScaleAdapter,
                                                         check_adapter_cfg)

_ADAPTED_LAYERS: Dict[type, type] = {}


def register_adapted_layer(base: type):
    """Class decorator: ``adapted`` is the adapter-equipped twin of ``base``.

    The adapted class must subclass :class:`AdaptedBlockMixin` and ``base``, and
    must not define ``__init__`` state other than what :func:`adapt_blocks` adds
    (``self.adapter``). Its classmethod / staticmethod ``check_adaptable(layer)``
    raises if a given block's configuration is not supported.
    """

    def decorator(adapted: type) -> type:
        if not issubclass(adapted, base):
            raise TypeError(f'{adapted.__name__} must subclass {base.__name__}')
        if not issubclass(adapted, AdaptedBlockMixin):
            raise TypeError(f'{adapted.__name__} must subclass AdaptedBlockMixin')
        _ADAPTED_LAYERS[base] = adapted
        return adapted

    return decorator


def adapted_layer_types() -> Dict[type, type]:
    """A copy of the base-class -> adapted-class table."""
    return dict(_ADAPTED_LAYERS)


def _layer_embed_dims(layer: nn.Module) -> int:
    dims = getattr(layer, 'embed_dims', None)
    if isinstance(dims, int):
        return dims
    for module in layer.modules():  # first LayerNorm: ln1 / norm1
        if isinstance(module, nn.LayerNorm):
            return int(module.normalized_shape[-1])
    raise ValueError(f'Cannot tell the width of {type(layer).__name__}: it has '
                     'no `embed_dims` attribute and no LayerNorm')


def _adapted_class(idx: int, layer: nn.Module) -> type:
    base = type(layer)
    if base in _ADAPTED_LAYERS.values():
        raise RuntimeError(f'Block {idx} ({base.__name__}) already has an '
                           'adapter; inject_adapters was called twice')
    adapted = _ADAPTED_LAYERS.get(base)
    if adapted is None:
        known = ', '.join(sorted(b.__name__ for b in _ADAPTED_LAYERS))
        raise TypeError(
            f'Block {idx} is a {base.__module__}.{base.__name__}, which has '
            f'no adapter-equipped twin registered (known: {known or "none"}'
            '). Register one with @register_adapted_layer.')
    adapted.check_adaptable(layer)  # raises with a message if it cannot work
    return adapted


def adapt_blocks(layers: Sequence[nn.Module],
                 adapter_cfg: Optional[dict]) -> List[Optional[PatchwiseScaleAdapter]]:
    """Turn every block of ``layers`` into its adapted twin (in place).

    Args:
        layers: the blocks built by the host backbone, e.g. ``backbone.layers``
            (block i gets ``layer_idx=i``, ``num_layers=len(layers)``).
        adapter_cfg: keyword arguments of :class:`PatchwiseScaleAdapter` other
            than ``embed_dims`` / ``layer_idx`` / ``num_layers`` (``{}``: its
            defaults); ``None`` adapts the blocks with ``adapter = None``, the
            adapter-free baseline (stock update, same keys as the host).

    Returns:
        The new adapters (``None`` entries without adapters), in block order.
    """
    cfg = None if adapter_cfg is None else check_adapter_cfg(
        'inject_adapters', 'adapter settings', adapter_cfg)
    adapted = [_adapted_class(idx, layer) for idx, layer in enumerate(layers)]
    adapters: List[Optional[PatchwiseScaleAdapter]] = []
    for idx, (layer, cls) in enumerate(zip(layers, adapted)):
        adapter = None
        if cfg is not None:
            adapter = PatchwiseScaleAdapter(
                _layer_embed_dims(layer), layer_idx=idx,
                num_layers=len(layers), **cfg)
            ref = next(layer.parameters(), None)
            if ref is not None:
                adapter.to(device=ref.device, dtype=ref.dtype)
        # A class switch of the built block, not a new block: every host
        # backbone __init__ (mmpretrain VisionTransformer / BEiTViT / ViTSAM,
        # mmseg MAE._build_layers) hard-codes its block class, so constructing
        # the subclass instead would mean copying the host's layer loop (which
        # then drifts from the host) or building every block a second time
        # (twice the construction, and the blocks do not keep the constructor
        # arguments needed to rebuild them). The twin only overrides methods and
        # adds `adapter`, so switching the class of the built block is exact.
        layer.__class__ = cls
        layer.add_module('adapter', adapter)
        adapters.append(adapter)
    return adapters


def inject_adapters(layers: Sequence[nn.Module],
                    bottleneck: int = 64,
                    dropout: float = 0.1,
                    scale_mode: str = 'concat',
                    constant: float = 0.5) -> List[PatchwiseScaleAdapter]:
    """Add one adapter to every block of ``layers`` (in place): :func:`adapt_blocks`
    with these settings.

    Args:
        layers: the blocks, e.g. ``backbone.layers``.
        bottleneck, dropout, scale_mode, constant: see
            :class:`PatchwiseScaleAdapter`.

    Returns:
        The new adapters, in block order.
    """
    return adapt_blocks(layers, dict(bottleneck=bottleneck, dropout=dropout,
                                     scale_mode=scale_mode, constant=constant))


def iter_adapters(model: nn.Module) -> Iterator[PatchwiseScaleAdapter]:
    """Every :class:`PatchwiseScaleAdapter` in ``model`` (model wrappers
    included, since they are ``nn.Module`` containers)."""
    for module in model.modules():
        if isinstance(module, PatchwiseScaleAdapter):
            yield module


def set_scale_detached(model: nn.Module, detached: bool) -> int:
    """Set ``detach_scale`` on every adapter with a learned scale.

    Returns:
        The number of adapters whose scale is learned (and was set).
    """
    count = 0
    for adapter in iter_adapters(model):
        if adapter.learned_scale:
            adapter.detach_scale = detached
            count += 1
    return count


def _is_pretrained_init(init_cfg) -> bool:
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(
        isinstance(c, dict) and c.get('type') == 'Pretrained' for c in cfgs)


class AdapterBackboneMixin:
    """Mixin placed before a ViT backbone class whose blocks are
    ``self.layers``: builds the stock backbone, then injects the adapters.

    Args:
        adapter_cfg (dict, optional): keyword arguments of
            :func:`inject_adapters` (``bottleneck``, ``dropout``,
            ``scale_mode``, ``constant``). Defaults to the PAD settings.

    ``init_weights`` runs the stock backbone init with the adapters detached
    (so stock init code that walks every ``nn.Linear``, such as MoCo v3's, sees
    exactly the stock model), then gives the adapters their own init
    (:meth:`PatchwiseScaleAdapter.init_weights`: zero ``up`` and scale, so the
    block starts as the stock block).
    With a ``Pretrained`` ``init_cfg`` the adapters stay attached, so a PAD
    checkpoint loads them.
    """

    def __init__(self, *args, adapter_cfg: Optional[dict] = None, **kwargs):
        adapter_cfg = check_adapter_cfg(type(self).__name__, 'adapter_cfg',
                                        adapter_cfg)
        super().__init__(*args, **kwargs)
        self.adapter_cfg = dict(adapter_cfg or {})
        inject_adapters(self.layers, **self.adapter_cfg)

    def init_weights(self) -> None:
        if _is_pretrained_init(getattr(self, 'init_cfg', None)):
            super().init_weights()
            return
        detached = [(layer, layer._modules.pop('adapter'))
                    for layer in self.layers if 'adapter' in layer._modules]
        try:
            super().init_weights()
        finally:
            for layer, adapter in detached:
                layer._modules['adapter'] = adapter
        for _, adapter in detached:
            adapter.init_weights()
