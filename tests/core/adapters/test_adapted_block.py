"""AdaptedBlockMixin and adapt_blocks on a host-free toy block: the one block
update x + s*A + DropPath(gamma * M), the class switch, and its checks."""
import pytest
import torch
import torch.nn as nn

from mmpad.core.adapters import (AdaptedBlockMixin, adapt_blocks,
                                 inject_adapters, register_adapted_layer)

C = 8


class ToyFFN(nn.Module):
    """mmcv's FFN layout: ``layers``, ``gamma2``, ``dropout_layer``."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(C, 16), nn.GELU(), nn.Linear(16, C))
        self.gamma2 = nn.Identity()
        self.dropout_layer = nn.Identity()


class ToyBlock(nn.Module):
    """A stock block: x + Attn(LN1 x); x + FFN(LN2 x)."""

    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(C)
        self.attn = nn.Linear(C, C)
        self.norm2 = nn.LayerNorm(C)
        self.ffn = ToyFFN()

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ffn.dropout_layer(self.ffn.gamma2(
            self.ffn.layers(self.norm2(x))))


@register_adapted_layer(ToyBlock)
class PADToyBlock(AdaptedBlockMixin, ToyBlock):

    def attention_residual(self, x):
        return x + self.attn(self.ln1(x))


class Halve(nn.Module):
    """A deterministic stand-in for DropPath, to see where it is applied."""

    def forward(self, x):
        return 0.5 * x


def _blocks(n=2):
    torch.manual_seed(0)
    return nn.ModuleList([ToyBlock() for _ in range(n)])


def test_class_switch_keeps_stock_keys_and_output():
    blocks = _blocks()
    stock_keys = set(blocks.state_dict())
    x = torch.randn(2, 5, C)
    ref = [b(x) for b in blocks]
    adapters = inject_adapters(blocks, bottleneck=4)
    assert [type(b) for b in blocks] == [PADToyBlock, PADToyBlock]
    assert [a.layer_idx for a in adapters] == [0, 1]
    assert all(a.num_layers == 2 and a.embed_dims == C for a in adapters)
    new = set(blocks.state_dict()) - stock_keys
    assert stock_keys <= set(blocks.state_dict())
    assert new and all(k.split('.')[1] == 'adapter' for k in new)
    for b, r in zip(blocks, ref):  # zero-initialised up: the stock output
        assert torch.equal(b(x), r)


def test_update_is_x_plus_sA_plus_drop_path_of_gamma_m():
    blocks = _blocks(1)
    inject_adapters(blocks, bottleneck=4)
    block = blocks[0]
    block.eval()
    with torch.no_grad():
        for p in block.adapter.parameters():
            p.normal_(0, 0.3)
    block.ffn.gamma2 = nn.Linear(C, C)  # any gamma, any DropPath stand-in
    block.ffn.dropout_layer = Halve()
    x = torch.randn(2, 5, C)
    with torch.no_grad():
        h = x + block.attn(block.ln1(x))
        m = block.ffn.layers(block.norm2(h))
        expected = h + block.adapter(h, m) + 0.5 * block.ffn.gamma2(m)
        torch.testing.assert_close(block(x), expected)
        # the adapter term bypasses gamma and DropPath
        assert not torch.allclose(block.adapter(h, m), torch.zeros(()))


def test_without_adapter_the_update_is_the_stock_one():
    blocks = _blocks()
    x = torch.randn(2, 5, C)
    with torch.no_grad():
        for b in blocks:
            b.ffn.gamma2 = nn.Linear(C, C)
            b.ffn.dropout_layer = Halve()
        ref = [b(x) for b in blocks]
    keys = set(blocks.state_dict())
    assert adapt_blocks(blocks, None) == [None, None]
    assert all(type(b) is PADToyBlock and b.adapter is None for b in blocks)
    assert set(blocks.state_dict()) == keys
    with torch.no_grad():
        for b, r in zip(blocks, ref):
            assert torch.equal(b(x), r)


def test_checks_run_before_any_block_changes():
    blocks = nn.ModuleList([ToyBlock(), nn.Linear(C, C)])
    with pytest.raises(TypeError, match='no adapter-equipped twin'):
        adapt_blocks(blocks, {})
    assert type(blocks[0]) is ToyBlock and 'adapter' not in blocks[0]._modules
    bad = ToyBlock()
    bad.ffn = nn.Linear(C, C)
    with pytest.raises(TypeError, match="ffn_type='origin'"):
        adapt_blocks(nn.ModuleList([ToyBlock(), bad]), {})
    with pytest.raises(ValueError, match='bottleneck'):
        adapt_blocks(_blocks(), dict(bottleneck=0))


def test_twin_must_use_the_mixin():
    with pytest.raises(TypeError, match='AdaptedBlockMixin'):
        @register_adapted_layer(ToyBlock)
        class NotMixed(ToyBlock):
            pass
