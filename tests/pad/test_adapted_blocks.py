"""One adapter mechanism for every host: the blocks of mmpretrain's ViT / BEiT,
mmdet's PADViTDet (ViTSAM) and mmseg's PADMAE are the host's own blocks switched
to an AdaptedBlockMixin twin, and each applies DropPath to its FFN branch once:
x <- x + s*A + DropPath(gamma * M)."""
import pytest
import torch

import mmpad  # noqa: F401
from mmpad.core.adapters import AdaptedBlockMixin
from mmpad.core.adapters.injection import adapted_layer_types

ARCH = dict(embed_dims=64, num_layers=3, num_heads=2, feedforward_channels=128)
ADAPTER = dict(bottleneck=8, dropout=0.1, scale_mode='concat')
RATE = 0.6


def _vit():
    from mmpretrain.registry import MODELS
    model = MODELS.build(dict(type='PADVisionTransformer', arch=ARCH, img_size=64,
                              drop_path_rate=RATE, adapter_cfg=ADAPTER))
    layer = model.layers[-1]
    return model, layer, (), lambda m: layer.ffn.gamma2(m)


def _beit():
    from mmpretrain.registry import MODELS
    model = MODELS.build(dict(type='PADBEiTViT', arch=ARCH, img_size=64,
                              drop_path_rate=RATE, layer_scale_init_value=0.1,
                              use_rel_pos_bias=True, adapter_cfg=ADAPTER))
    layer = model.layers[-1]
    with torch.no_grad():
        layer.gamma_2.uniform_(0.5, 1.5)
    bias = torch.randn(2, 17, 17)  # (heads, T, T) with T = 16 patches + CLS
    return model, layer, (bias, ), lambda m: layer.gamma_2 * m


def _vitdet():
    pytest.importorskip('mmdet')
    import mmpad.det  # noqa: F401
    from mmpad.pad.pad_vit_det import PADViTDet
    model = PADViTDet(arch=dict(ARCH, global_attn_indexes=[2]), img_size=64,
                      window_size=2, out_channels=0, drop_path_rate=RATE,
                      adapter_cfg=ADAPTER)
    layer = model.layers[-1]
    return model, layer, (), lambda m: m


def _mae_seg():
    pytest.importorskip('mmseg')
    import mmpad.seg  # noqa: F401
    from mmpad.pad.pad_mae_seg import PADMAE
    model = PADMAE(img_size=64, embed_dims=64, num_layers=3, num_heads=2,
                   init_values=1.0, drop_path_rate=RATE, adapter_cfg=ADAPTER)
    layer = model.layers[-1]
    with torch.no_grad():
        layer.gamma_2.uniform_(0.5, 1.5)
    return model, layer, (), lambda m: layer.gamma_2 * m


#: host -> (builder, DropPath calls per block forward: attention + FFN branch)
HOSTS = {'mmpretrain-vit': (_vit, 2), 'mmpretrain-beit': (_beit, 2),
         'mmdet-vitdet': (_vitdet, 1), 'mmseg-mae': (_mae_seg, 2)}


def _tokens(model, layer):
    if type(model).__name__ == 'PADViTDet':
        return torch.randn(4, 4, 4, 64)  # (B, H, W, C)
    return torch.randn(4, 17, 64)


@pytest.mark.parametrize('host', sorted(HOSTS))
def test_every_host_block_is_its_own_class_switched_to_an_adapted_twin(host):
    torch.manual_seed(0)
    model, *_ = HOSTS[host][0]()
    table = adapted_layer_types()
    for i, layer in enumerate(model.layers):
        assert isinstance(layer, AdaptedBlockMixin)
        stock = type(layer).__mro__[2]  # (twin, mixin, host block, ...)
        assert table[stock] is type(layer)
        assert layer.adapter.layer_idx == i
        assert type(layer).__init__ is stock.__init__  # no copied host __init__


@pytest.mark.parametrize('host', sorted(HOSTS))
def test_ffn_branch_gets_drop_path_once(host):
    """Train mode, DropPath > 0: the FFN branch's DropPath receives gamma * M
    and the block returns h + s*A + that DropPath's output. The old BEiT twin ran
    the FFN's own DropPath on M first (three DropPath calls, a second drop)."""
    build, n_drop_paths = HOSTS[host]
    torch.manual_seed(0)
    model, layer, extra, gamma_m = build()
    with torch.no_grad():
        for p in layer.adapter.parameters():
            p.normal_(0, 0.1)
    layer.adapter.dropout.p = 0.
    model.train()
    calls, seen = [], {}
    hooks = [m.register_forward_hook(
        lambda mod, inp, out: calls.append((inp[0], out)))
        for m in layer.modules()
        if type(m).__name__ == 'DropPath' and m.drop_prob > 0]
    hooks.append(layer.norm2.register_forward_pre_hook(
        lambda mod, inp: seen.setdefault('h', inp[0])))
    x = _tokens(model, layer)
    torch.manual_seed(3)
    with torch.no_grad():
        out = layer(x, *extra)
        for h in hooks:
            h.remove()
        assert len(calls) == n_drop_paths
        h = seen['h']  # the residual stream after the attention residual
        m = layer.ffn.layers(layer.norm2(h))
        ffn_in, ffn_out = calls[-1]
        torch.testing.assert_close(ffn_in, gamma_m(m))
        assert not torch.equal(ffn_out, ffn_in)  # some samples were dropped
        torch.testing.assert_close(out, h + layer.adapter(h, m) + ffn_out)
