"""PADMAE: mmseg's MAE backbone with PAD adapters: init order, the layer-scale
update, attention always applied."""
import math

import pytest
import torch

pytest.importorskip('mmseg')
import mmpad.seg  # noqa: F401,E402
from mmseg.models.backbones import MAE  # noqa: E402

from mmpad.pad.pad_mae_seg import PADMAE  # noqa: E402
from mmpad_test_utils import randomise_, seeded_backbone  # noqa: E402

KW = dict(img_size=64, embed_dims=64, num_layers=4, num_heads=2,
          out_indices=[1, 3], init_values=1.0)
ADAPTER = dict(bottleneck=16, dropout=0.1, scale_mode='concat')


def _build(adapter_cfg=ADAPTER, **kwargs):
    return seeded_backbone(PADMAE, adapter_cfg, **dict(KW, **kwargs))


def test_zero_initialised_adapters_reproduce_plain_mae():
    pad = _build()
    pad.eval()
    with torch.no_grad():  # make the relative position bias matter too
        for layer in pad.layers:
            layer.attn.relative_position_bias_table.normal_(0, 0.1)
    plain = MAE(**KW)
    plain.eval()
    stock = {k: v for k, v in pad.state_dict().items() if '.adapter.' not in k}
    plain.load_state_dict(stock, strict=True)
    x = torch.randn(2, 3, 64, 64)
    for a, b in zip(pad(x), plain(x)):
        assert a.shape == (2, 64, 4, 4)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert set(_build(adapter_cfg=None).state_dict()) == set(plain.state_dict())


def test_global_init_then_adapter_init():
    """MAE's trunc-normal init hits every Linear, the adapters are
    re-initialised afterwards: down kaiming-uniform(a=sqrt 5), rest 0, LN (1, 0)."""
    model = _build()
    for layer in model.layers:
        ad = layer.adapter
        bound = 1 / math.sqrt(64)  # kaiming_uniform(a=sqrt(5)) bound = 1/sqrt(fan_in)
        assert ad.down.weight.abs().max() <= bound
        assert ad.down.weight.std() > 0.5 * bound / math.sqrt(3)
        for t in (ad.down.bias, ad.up.weight, ad.up.bias,
                  ad.scale_pred.weight, ad.norm.bias):
            assert not t.any()
        assert torch.equal(ad.norm.weight, torch.ones(64))


def test_update_bypasses_layer_scale_and_uses_mlp_before_gamma():
    """x <- x + s*A + DropPath(g2*M): s is predicted from M before g2, and the
adapter term bypasses both g2 and DropPath."""
    model = _build()
    model.eval()
    layer = model.layers[0]
    randomise_(layer.adapter)
    with torch.no_grad():
        layer.gamma_2.fill_(0.25)
    x = torch.randn(2, 17, 64)
    with torch.no_grad():
        h = x + layer.gamma_1 * layer.attn(layer.norm1(x))
        m = layer.ffn(layer.norm2(h))
        a = layer.adapter.up(torch.relu(layer.adapter.down(
            layer.adapter.norm(h))))
        s = torch.sigmoid(torch.cat([m, a], -1) @ layer.adapter.scale_pred.weight.T)
        torch.testing.assert_close(layer(x), h + s * a + 0.25 * m)


def test_attention_applied_without_layer_scale():
    """The PAD authors' code skipped attention when gamma_1 was absent."""
    model = _build(init_values=None)
    model.eval()
    layer = model.layers[0]
    assert layer.gamma_1 is None and layer.gamma_2 is None
    assert not any('gamma' in k for k in model.state_dict())
    x = torch.randn(2, 17, 64)
    with torch.no_grad():
        out = layer(x)
        h = x + layer.attn(layer.norm1(x))
        expected = h + layer.ffn(layer.norm2(h)) + layer.adapter(
            h, layer.ffn(layer.norm2(h)))
        torch.testing.assert_close(out, expected)
        layer.attn.proj.weight.zero_()
        layer.attn.proj.bias.zero_()
        assert not torch.allclose(layer(x), out)  # attention mattered
