"""SimpleFPN: ViTDet's pyramid from one stride-16 map."""
import pytest
import torch

pytest.importorskip('mmdet')
import mmpad.det  # noqa: F401,E402
from mmdet.registry import MODELS  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402


def _fpn(**kwargs):
    init_default_scope('mmdet')
    cfg = dict(type='SimpleFPN', backbone_channel=64,
               in_channels=[16, 32, 64, 64], out_channels=32, num_outs=5,
               norm_cfg=dict(type='LN2d', requires_grad=True))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_levels_strides_and_p6():
    fpn = _fpn()
    fpn.init_weights()
    x = torch.randn(2, 64, 6, 10)  # stride 16 of a 96 x 160 image
    outs = fpn((x, ))
    assert [o.shape[-2:] for o in outs] == [
        (24, 40), (12, 20), (6, 10), (3, 5), (2, 3)]
    assert all(o.shape[:2] == (2, 32) for o in outs)
    torch.testing.assert_close(outs[4], outs[3][:, :, ::2, ::2])  # P6
    # the norms are channel LayerNorms: each level's output norm layer
    # normalises over channels at every position
    norm = fpn.fpn_convs[0].norm
    y = norm(torch.randn(2, 32, 3, 3) * 5 + 2)
    torch.testing.assert_close(y.mean(1), torch.zeros(2, 3, 3), atol=1e-5,
                               rtol=0)


def test_in_channels_must_match_the_rescales():
    with pytest.raises(ValueError, match=r'must be \[16, 32, 64, 64\]'):
        _fpn(in_channels=[64, 64, 64, 64])
