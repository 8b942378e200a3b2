"""SOP -> stock segmentor conversion: slicing by hand, detection of the fusion
mode, and the converted weights load into the stock segmentor (conv_seg excepted)."""
import pytest
import torch

import mmpad  # noqa: F401
from mmpad.sop.convert import (ConversionError, detect_fusion,
                                      sop_to_seg_state_dict)
from mmpad.sop.first_conv import inflate_input_conv, slice_input_conv
from tests.sop.tiny_sop import build, deeplab_cfg, vit_cfg


def test_slice_modes_by_hand():
    w = torch.arange(2 * 6 * 1 * 1, dtype=torch.float32).reshape(2, 6, 1, 1)
    torch.testing.assert_close(slice_input_conv(w, 'image'), w[:, :3])
    torch.testing.assert_close(slice_input_conv(w, 'image_x2'), 2 * w[:, :3])
    torch.testing.assert_close(slice_input_conv(w, 'sum'), w[:, :3] + w[:, 3:])
    w3 = torch.randn(4, 3, 3, 3)
    torch.testing.assert_close(slice_input_conv(inflate_input_conv(w3)), w3)
    with pytest.raises(ValueError):
        slice_input_conv(w3)


def _stock_missing_unexpected(stock_cfg, state):
    stock = build(stock_cfg)
    result = stock.load_state_dict(state, strict=False)
    return sorted(result.missing_keys), sorted(result.unexpected_keys), stock


CONV_SEG = ['auxiliary_head.conv_seg.bias', 'auxiliary_head.conv_seg.weight',
            'decode_head.conv_seg.bias', 'decode_head.conv_seg.weight']


@pytest.mark.parametrize('slice_mode', ['image_x2', 'image'])
def test_early_checkpoint_loads_into_stock_deeplab(slice_mode):
    sop = build(deeplab_cfg(fusion='early'))
    state = sop.state_dict()
    assert detect_fusion(state) == 'early'
    out, report = sop_to_seg_state_dict(state, early_slice=slice_mode)
    assert sorted(report.dropped) == CONV_SEG
    assert list(report.sliced) == ['backbone.stem.0.weight']
    missing, unexpected, stock = _stock_missing_unexpected(
        deeplab_cfg(sop=False, num_classes=21), out)
    assert missing == CONV_SEG and unexpected == []
    w6 = state['backbone.stem.0.weight']
    factor = 2 if slice_mode == 'image_x2' else 1
    torch.testing.assert_close(stock.backbone.stem[0].weight.detach(), factor * w6[:, :3])
    torch.testing.assert_close(stock.decode_head.image_pool[1].conv.weight.detach(),
                               state['decode_head.image_pool.1.conv.weight'])
    stock.eval()
    assert tuple(stock(torch.randn(1, 3, 32, 32), mode='tensor').shape) == (1, 21, 8, 8)


def test_siamese_checkpoint_drops_fusion_convs():
    sop = build(deeplab_cfg(fusion='siamese_gap'))
    state = sop.state_dict()
    assert detect_fusion(state) == 'siamese_gap'
    out, report = sop_to_seg_state_dict(state)
    assert not report.sliced and any(k.startswith('fusion.') for k in report.dropped)
    missing, unexpected, _ = _stock_missing_unexpected(deeplab_cfg(sop=False), out)
    assert missing == CONV_SEG and unexpected == []


def test_token_concat_checkpoint_loads_into_stock_vit():
    sop = build(vit_cfg())
    state = sop.state_dict()
    assert detect_fusion(state) == 'token_concat'
    out, report = sop_to_seg_state_dict(state)
    assert 'backbone.segment_embed' in report.dropped
    missing, unexpected, stock = _stock_missing_unexpected(vit_cfg(sop=False), out)
    assert missing == ['decode_head.conv_seg.bias', 'decode_head.conv_seg.weight']
    assert unexpected == []
    torch.testing.assert_close(stock.backbone.pos_embed.detach(),
                               state['backbone.pos_embed'])


def test_not_an_sop_checkpoint():
    stock_state = build(deeplab_cfg(sop=False)).state_dict()
    with pytest.raises(ConversionError, match='not an SOP checkpoint'):
        sop_to_seg_state_dict(stock_state)
    with pytest.raises(ConversionError, match='6-channel'):
        sop_to_seg_state_dict(stock_state, fusion='early')
