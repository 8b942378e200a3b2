"""Adapters injected into mmpretrain ViTs: counts, exact equivalence at init,
unchanged checkpoint keys."""
import copy

import pytest
import torch
from mmpretrain.registry import MODELS

import mmpad  # noqa: F401
from mmpad.core.adapters import SCALE_MODES, inject_adapters, iter_adapters

TINY_ARCH = dict(embed_dims=64, num_layers=3, num_heads=2,
                 feedforward_channels=128)
IMG = 64


def _pair(stock_type, pad_type, seed=0, adapter_cfg=None, **kw):
    """A stock backbone and its PAD twin holding the same stock weights."""
    torch.manual_seed(seed)
    stock = MODELS.build(dict(type=stock_type, **copy.deepcopy(kw)))
    stock.init_weights()
    pad = MODELS.build(dict(type=pad_type, adapter_cfg=adapter_cfg,
                            **copy.deepcopy(kw)))
    pad.init_weights()
    missing, unexpected = pad.load_state_dict(stock.state_dict(), strict=False)
    assert unexpected == []
    assert missing and all('.adapter.' in k for k in missing)
    stock.eval()
    pad.eval()
    return stock, pad


def _n_adapter_params(model):
    return sum(p.numel() for n, p in model.named_parameters()
               if '.adapter.' in n)


def test_vit_base_adapter_count_is_paper_number():
    with torch.device('meta'):  # shapes only: no 86M-parameter allocation
        pad = MODELS.build(dict(type='PADMAEViT', arch='b'))
        no_scale = MODELS.build(
            dict(type='PADMAEViT', arch='b',
                 adapter_cfg=dict(scale_mode='constant')))
    assert _n_adapter_params(pad) == 1226496
    assert len(list(iter_adapters(pad))) == 12
    assert _n_adapter_params(no_scale) == 1208064


@pytest.mark.parametrize('arch,r,mode', [
    (dict(embed_dims=64, num_layers=3, num_heads=2,
          feedforward_channels=128), 8, 'concat'),
    (dict(embed_dims=96, num_layers=2, num_heads=3,
          feedforward_channels=192), 16, 'sum'),
    (dict(embed_dims=96, num_layers=4, num_heads=3,
          feedforward_channels=192), 4, 'scalar'),
    ('deit-small', 64, 'concat'),
])
def test_adapter_count_arithmetic(arch, r, mode):
    pad = MODELS.build(dict(type='PADVisionTransformer', arch=arch,
                            img_size=IMG, adapter_cfg=dict(bottleneck=r,
                                                           scale_mode=mode)))
    d, n = pad.embed_dims, pad.num_layers
    pred = {'concat': 2 * d, 'sum': d, 'scalar': 1}[mode]
    per_block = 2 * d + (d * r + r) + (r * d + d) + pred
    assert _n_adapter_params(pad) == n * per_block
    stock = MODELS.build(dict(type='VisionTransformer', arch=arch,
                              img_size=IMG))
    total = sum(p.numel() for p in pad.parameters())
    assert total == sum(p.numel() for p in stock.parameters()) + n * per_block


@pytest.mark.parametrize('mode', SCALE_MODES)
def test_mae_vit_identical_at_init_every_scale_mode(mode):
    stock, pad = _pair('MAEViT', 'PADMAEViT', arch=TINY_ARCH, img_size=IMG,
                       adapter_cfg=dict(bottleneck=8, scale_mode=mode))
    x = torch.randn(2, 3, IMG, IMG)
    torch.manual_seed(3)
    ref = stock(x)  # masked forward: (latent, mask, ids_restore)
    torch.manual_seed(3)
    out = pad(x)
    for a, b in zip(ref, out):
        assert torch.equal(a, b)
    # unmasked feature extraction too
    assert torch.equal(stock(x, mask=None)[0], pad(x, mask=None)[0])


def test_adapters_change_output_once_trained():
    stock, pad = _pair('VisionTransformer', 'PADVisionTransformer',
                       arch=TINY_ARCH, img_size=IMG, out_type='raw')
    x = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        pad.layers[1].adapter.up.weight.normal_()
    assert not torch.allclose(stock(x)[0], pad(x)[0])


@pytest.mark.parametrize('stock_type,kw', [
    ('MILANViT', dict(arch=TINY_ARCH, img_size=IMG)),
    ('MaskFeatViT', dict(arch=TINY_ARCH, img_size=IMG)),
    ('MoCoV3ViT', dict(arch=TINY_ARCH, img_size=IMG, patch_size=16)),
    ('BEiTViT', dict(arch=TINY_ARCH, img_size=IMG, layer_scale_init_value=0.1,
                     use_rel_pos_bias=True, out_type='raw')),
    ('BEiTViT', dict(arch=TINY_ARCH, img_size=IMG, layer_scale_init_value=0.,
                     out_type='raw')),
])
def test_other_ssl_backbones_identical_at_init(stock_type, kw):
    stock, pad = _pair(stock_type, 'PAD' + stock_type, **kw)
    x = torch.randn(2, 3, IMG, IMG)
    if stock_type == 'MILANViT':
        importance = torch.rand(2, (IMG // 16)**2)
        torch.manual_seed(1)
        ref = stock(x, importance)
        torch.manual_seed(1)
        out = pad(x, importance)
    elif stock_type == 'MaskFeatViT':
        mask = torch.rand(2, (IMG // 16)**2) > 0.5
        ref, out = stock(x, mask), pad(x, mask)
    else:
        ref, out = stock(x), pad(x)
    ref = ref if isinstance(ref, (tuple, list)) else [ref]
    out = out if isinstance(out, (tuple, list)) else [out]
    for a, b in zip(ref, out):
        assert torch.equal(a, b)


def test_moco_v3_global_init_does_not_clobber_adapters():
    # MoCoV3ViT re-initialises every nn.Linear after its children
    pad = MODELS.build(dict(type='PADMoCoV3ViT', arch=TINY_ARCH, img_size=IMG,
                            patch_size=16))
    pad.init_weights()
    for adapter in iter_adapters(pad):
        assert torch.count_nonzero(adapter.up.weight) == 0
        assert torch.count_nonzero(adapter.scale_pred.weight) == 0


def test_stock_checkpoint_loads_with_only_adapter_keys_missing(
        tmp_path, tiny_mae):
    from mmengine.runner import load_checkpoint, save_checkpoint
    torch.manual_seed(0)
    stock = MODELS.build(copy.deepcopy(tiny_mae))
    stock.init_weights()
    path = str(tmp_path / 'mae_stock.pth')
    save_checkpoint({'state_dict': stock.state_dict(), 'meta': {}}, path)

    pad = MODELS.build(dict(type='PAD', algorithm=tiny_mae))
    pad.init_weights()
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    missing, unexpected = pad.load_state_dict(ckpt['state_dict'], strict=False)
    assert unexpected == []
    assert sorted(missing) == sorted(
        k for k in pad.state_dict() if '.adapter.' in k)
    # mmengine's loader (what load_from / Pretrained use) agrees
    load_checkpoint(pad, path, map_location='cpu', strict=False)
    for k, v in stock.state_dict().items():
        assert torch.equal(pad.state_dict()[k], v), k


def test_injection_errors():
    vit = MODELS.build(dict(type='VisionTransformer', arch=TINY_ARCH,
                            img_size=IMG))
    inject_adapters(vit.layers, bottleneck=4)
    with pytest.raises(RuntimeError, match='twice'):
        inject_adapters(vit.layers)
    with pytest.raises(TypeError, match='no adapter-equipped twin'):
        inject_adapters(torch.nn.ModuleList([torch.nn.Linear(4, 4)]))
    swiglu = MODELS.build(dict(
        type='VisionTransformer', arch=TINY_ARCH, img_size=IMG,
        layer_cfgs=dict(ffn_type='swiglu_fused')))
    with pytest.raises(TypeError, match="ffn_type='origin'"):
        inject_adapters(swiglu.layers)
