"""PADViTDet: the ViTDet-style mmdet backbone with PAD adapters."""
import pytest
import torch

pytest.importorskip('mmdet')
import mmpad.det  # noqa: F401,E402
from mmpretrain.models.backbones import ViTSAM  # noqa: E402

from mmpad.pad.pad_vit_det import PADViTDet  # noqa: E402
from mmpad_test_utils import randomise_, seeded_backbone  # noqa: E402

ARCH = dict(embed_dims=64, num_layers=4, num_heads=2, feedforward_channels=128,
            global_attn_indexes=[1, 3])
KW = dict(arch=ARCH, img_size=64, window_size=3, out_channels=0,
          out_indices=[1, 3])
ADAPTER = dict(bottleneck=16, dropout=0.1, scale_mode='concat')


def _build(adapter_cfg=ADAPTER, **kwargs):
    return seeded_backbone(PADViTDet, adapter_cfg, **dict(KW, **kwargs))


def test_zero_initialised_adapters_reproduce_plain_vitdet():
    pad = _build()
    pad.eval()
    plain = ViTSAM(**KW)
    plain.eval()
    stock = {k: v for k, v in pad.state_dict().items() if '.adapter.' not in k}
    plain.load_state_dict(stock, strict=True)  # same stock names, nothing else
    x = torch.randn(2, 3, 80, 48)  # not a multiple of the window: padding path
    for a, b in zip(pad(x), plain(x)):
        assert a.shape == (2, 64, 5, 3)
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_adapters_in_every_block_trainable_and_window_layout():
    model = _build()
    for i, layer in enumerate(model.layers):
        assert layer.adapter is not None and layer.adapter.layer_idx == i
        assert layer.window_size == (0 if i in (1, 3) else 3)
    names = [n for n, p in model.named_parameters() if '.adapter.' in n]
    assert {n.split('.')[1] for n in names} == {'0', '1', '2', '3'}
    assert all(p.requires_grad for _, p in model.named_parameters())
    # the baseline variant has exactly ViTSAM's keys
    plain_keys = set(ViTSAM(**KW).state_dict())
    assert set(_build(adapter_cfg=None).state_dict()) == plain_keys
    assert set(model.state_dict()) - plain_keys == {
        f'layers.{i}.adapter.{k}' for i in range(4)
        for k in ('norm.weight', 'norm.bias', 'down.weight', 'down.bias',
                  'up.weight', 'up.bias', 'scale_pred.weight')}


def test_block_update_matches_pad_formula():
    """x <- x + Attn ; x <- x + s*A + M with s = sigmoid(w^T [M ; A])."""
    model = _build()
    model.eval()
    layer = model.layers[0]
    randomise_(layer.adapter)
    x = torch.randn(2, 6, 6, 64)
    with torch.no_grad():
        h = x + layer._attention(x)
        m = layer.ffn.layers(layer.ln2(h))
        a = layer.adapter.up(torch.relu(layer.adapter.down(
            layer.adapter.norm(h))))
        s = torch.sigmoid(torch.cat([m, a], -1) @ layer.adapter.scale_pred.weight.T)
        expected = h + s * a + m
        torch.testing.assert_close(layer(x), expected)
        assert s.shape == (2, 6, 6, 1) and not torch.allclose(s, s.mean())


def test_adapter_term_bypasses_drop_path():
    model = _build(drop_path_rate=0.999)
    model.train()
    layer = model.layers[-1]
    randomise_(layer.adapter)
    layer.adapter.dropout.p = 0.
    torch.manual_seed(1)
    x = torch.randn(4, 3, 3, 64)
    with torch.no_grad():
        h = x + layer._attention(x)
        term = layer.adapter(h, layer.ffn.layers(layer.ln2(h)))
        out = layer(x)
    # DropPath dropped the MLP branch of (almost surely) every sample; the
    # adapter term survives unscaled.
    dropped = [b for b in range(4)
               if torch.allclose(out[b], h[b] + term[b], atol=1e-5)]
    assert len(dropped) >= 3


def test_position_embedding_kept_at_pretraining_grid():
    """ViTDet: a 4x4 (pre-training) table interpolated in every forward gives
    the same features as ViTSAM's table resized once on load, and stays 4x4."""
    torch.manual_seed(0)
    src = ViTSAM(**dict(KW, img_size=64)).state_dict()['pos_embed']
    src.normal_()
    weights = {k: v for k, v in _build().state_dict().items()}
    weights['pos_embed'] = src  # (1, 4, 4, 64)
    kept = PADViTDet(adapter_cfg=ADAPTER, pretrain_img_size=64,
                     **dict(KW, img_size=128))
    once = PADViTDet(adapter_cfg=ADAPTER, **dict(KW, img_size=128))
    for model in (kept, once):
        model.load_state_dict(
            {k: v for k, v in weights.items() if 'rel_pos' not in k},
            strict=False)
        model.eval()
    assert kept.pos_embed.shape == (1, 4, 4, 64)
    assert once.pos_embed.shape == (1, 8, 8, 64)
    x = torch.randn(1, 3, 128, 128)
    torch.testing.assert_close(kept(x), once(x))


def test_pretrained_backbone_of_a_finetuned_detector(tmp_path):
    """init_cfg prefix='backbone.' takes the backbone out of a detector."""
    src = _build()
    for layer in src.layers:
        randomise_(layer.adapter)
    state = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    state['neck.fpn1.0.weight'] = torch.zeros(1)
    path = str(tmp_path / 'detector.pth')
    torch.save(dict(state_dict=state), path)
    dst = PADViTDet(adapter_cfg=ADAPTER, init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='backbone.'), **KW)
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
