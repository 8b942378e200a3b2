"""The patchwise-scale adapter alone: init, counts, scale modes."""
import math

import pytest
import torch

from mmpad.core.adapters.patchwise_scale_adapter import (
    SCALE_MODES, PatchwiseScaleAdapter, fixed_scale_value)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def expected_count(d, r, mode):
    """Per block: LN 2d, down d*r+r, up r*d+d, predictor; x 12 blocks = 1,226,496
    for ViT-B (the PAD paper's 1.23M)."""
    base = 2 * d + (d * r + r) + (r * d + d)
    pred = {'concat': 2 * d, 'sum': d, 'side': d, 'gside': d, 'scalar': 1}
    return base + pred.get(mode, 0)


def test_vit_base_count_matches_paper():
    per_block = n_params(PatchwiseScaleAdapter(768, 64))
    assert per_block == 1536 + 49216 + 49920 + 1536 == 102208
    assert 12 * per_block == 1226496
    no_pred = PatchwiseScaleAdapter(768, 64, scale_mode='constant')
    assert 12 * n_params(no_pred) == 1208064


@pytest.mark.parametrize('mode', SCALE_MODES)
@pytest.mark.parametrize('d,r', [(64, 8), (384, 64), (1024, 32)])
def test_count_per_mode(mode, d, r):
    ad = PatchwiseScaleAdapter(d, r, scale_mode=mode, num_layers=4)
    assert n_params(ad) == expected_count(d, r, mode)


@pytest.mark.parametrize('mode', SCALE_MODES)
def test_zero_output_at_init_and_init_values(mode):
    torch.manual_seed(0)
    ad = PatchwiseScaleAdapter(32, 8, scale_mode=mode, layer_idx=1,
                               num_layers=3)
    # a global init of the parent that scribbles over everything ...
    for p in ad.parameters():
        torch.nn.init.normal_(p)
    ad.init_weights()  # ... is undone by the adapter's own init
    assert torch.equal(ad.up.weight, torch.zeros_like(ad.up.weight))
    assert torch.equal(ad.up.bias, torch.zeros(32))
    assert torch.equal(ad.down.bias, torch.zeros(8))
    assert torch.equal(ad.norm.weight, torch.ones(32))
    assert torch.equal(ad.norm.bias, torch.zeros(32))
    bound = 1 / math.sqrt(32)  # kaiming-uniform(a=sqrt(5)) == torch Linear
    assert ad.down.weight.abs().max() <= bound
    assert ad.down.weight.std() > bound / 4
    x, m = torch.randn(2, 5, 32), torch.randn(2, 5, 32)
    out = ad(x, m)
    assert out.shape == (2, 5, 32)
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize('mode', ['concat', 'sum', 'side', 'gside'])
def test_learned_scale_is_half_at_init_and_per_token(mode):
    ad = PatchwiseScaleAdapter(16, 4, scale_mode=mode, dropout=0.0)
    a, m = torch.randn(3, 7, 16), torch.randn(3, 7, 16)
    s = ad.compute_scale(a, m)
    assert s.shape == (3, 7, 1)
    assert torch.equal(s, torch.full_like(s, 0.5))
    with torch.no_grad():
        ad.scale_pred.weight.normal_()
    w = ad.scale_pred.weight[0]
    feat = {'concat': torch.cat([m, a], -1), 'sum': m + a, 'side': a,
            'gside': m}[mode]
    ref = torch.sigmoid(feat @ w).unsqueeze(-1)
    torch.testing.assert_close(ad.compute_scale(a, m), ref)


def test_forward_matches_hand_computation():
    torch.manual_seed(1)
    ad = PatchwiseScaleAdapter(16, 4, dropout=0.0).eval()
    with torch.no_grad():
        for p in ad.parameters():
            p.normal_()
    x, m = torch.randn(2, 3, 16), torch.randn(2, 3, 16)
    ln = torch.nn.functional.layer_norm(x, (16, ), ad.norm.weight,
                                        ad.norm.bias)
    a = torch.relu(ln @ ad.down.weight.T + ad.down.bias) @ ad.up.weight.T \
        + ad.up.bias
    s = torch.sigmoid(torch.cat([m, a], -1) @ ad.scale_pred.weight.T)
    torch.testing.assert_close(ad(x, m), s * a)


def test_fixed_scales():
    assert fixed_scale_value('constant', 3, 12) == 0.5
    assert fixed_scale_value('layer_decay', 11, 12) == pytest.approx(0.5)
    assert fixed_scale_value('layer_decay', 0, 12) == pytest.approx(
        0.5 * 0.8**11)
    lin = [fixed_scale_value('linspace', i, 12) for i in range(12)]
    torch.testing.assert_close(
        torch.tensor(lin, dtype=torch.float64),
        torch.linspace(0.1, 0.5, 12, dtype=torch.float64))
    ad = PatchwiseScaleAdapter(8, 2, scale_mode='layer_decay', layer_idx=10)
    assert 'scale' in dict(ad.named_buffers())
    assert ad.scale.item() == pytest.approx(0.5 * 0.8)
    scalar = PatchwiseScaleAdapter(8, 2, scale_mode='scalar')
    assert scalar.scale.requires_grad and scalar.scale.item() == 0.5


@pytest.mark.parametrize('mode', ['concat', 'scalar'])
def test_detach_scale_blocks_gradient_only(mode):
    ad = PatchwiseScaleAdapter(8, 4, scale_mode=mode, dropout=0.0)
    with torch.no_grad():
        ad.up.weight.normal_()
    x, m = torch.randn(2, 3, 8), torch.randn(2, 3, 8)
    (scale_param, ) = ad.scale_parameters()
    free = ad(x, m)
    ad.detach_scale = True
    held = ad(x, m)
    assert torch.equal(held, free)  # same value, held or not
    held.sum().backward()
    # held in the graph: an exact zero gradient, the others as without it
    assert scale_param.requires_grad and torch.equal(
        scale_param.grad, torch.zeros_like(scale_param))
    up_grad = ad.up.weight.grad.clone()
    ad.zero_grad(set_to_none=True)
    ad.hold_in_graph = False  # the plain detach: no gradient at all
    ad(x, m).sum().backward()
    assert scale_param.grad is None
    assert torch.equal(ad.up.weight.grad, up_grad)
    ad.zero_grad(set_to_none=True)
    ad.detach_scale = False
    ad(x, m).sum().backward()
    assert scale_param.grad is not None and scale_param.grad.abs().sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match='scale_mode'):
        PatchwiseScaleAdapter(8, 2, scale_mode='gated')
    with pytest.raises(ValueError, match='layer_idx'):
        PatchwiseScaleAdapter(8, 2, scale_mode='linspace', layer_idx=12)
