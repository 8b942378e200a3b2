"""tools/convert_pad_checkpoint.py: PAD / MAE pre-training checkpoint -> the mmdet
and mmseg adapter backbones."""

import pytest
import torch

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
import mmpad  # noqa: F401,E402
from mmpad_test_utils import load_module, run_tool  # noqa: E402

from mmpad.pad.pad_mae_seg import PADMAE  # noqa: E402
from mmpad.pad.pad_vit_det import PADViTDet  # noqa: E402
from mmpad.core.checkpoint.pretrained import (  # noqa: E402
    load_pretrained_backbone, read_backbone_state_dict)


def _load(path, name):
    return load_module(path, name)


factory = _load('tests/pad/pad_ckpt_factory.py', 'pad_ckpt_factory')
tool = _load('tools/convert_pad_checkpoint.py', 'convert_pad_checkpoint')

ADAPTER = dict(bottleneck=16, dropout=0.1, scale_mode='concat')
# downstream geometry differs from pre-training (64 px -> 128 px: grid 4 -> 8)
DET = dict(arch=dict(embed_dims=64, num_layers=4, num_heads=2,
                     feedforward_channels=256, global_attn_indexes=[1, 3]),
           img_size=128, window_size=4, out_channels=0, out_indices=[3])
SEG = dict(img_size=128, embed_dims=64, num_layers=4, num_heads=2,
           out_indices=[1, 3], init_values=1.0)


@pytest.fixture(scope='module')
def pad_state_dict():
    return factory.build_mae_state_dict(bottleneck=16)


@pytest.fixture(scope='module')
def pad_ckpt(tmp_path_factory, pad_state_dict):
    path = tmp_path_factory.mktemp('ckpt') / 'pad.pth'
    return factory.save_checkpoint(str(path), pad_state_dict)


def _convert(src, dst, *args):
    code = tool.main([str(src), str(dst), '--num-heads', '2', '--force', *args])
    assert code == 0
    return str(dst)


def test_det_checkpoint_loads_with_no_missing_keys(pad_ckpt, pad_state_dict,
                                                   tmp_path, capsys):
    dst = _convert(pad_ckpt, tmp_path / 'det.pth', '--target', 'det',
                   '--bottleneck', '16')
    out = capsys.readouterr().out
    assert 'mapped  79 tensors (28 adapter tensors)' in out
    assert 'neck.* (20)' in out and 'backbone.cls_token' in out  # dropped
    assert 'missing 0 tensors' in out

    backbone = PADViTDet(adapter_cfg=ADAPTER, **DET)
    report = load_pretrained_backbone(
        backbone, read_backbone_state_dict(dst), dst,
        PADViTDet.resized_on_load, has_adapters=True)
    assert report.missing == [] and report.unexpected == []

    # the real path: init_cfg Pretrained through init_weights
    backbone = PADViTDet(adapter_cfg=ADAPTER,
                         init_cfg=dict(type='Pretrained', checkpoint=dst), **DET)
    backbone.init_weights()
    sd = backbone.state_dict()
    for i in range(4):
        for key in ('adapter.down.weight', 'adapter.scale_pred.weight',
                    'attn.qkv.bias', 'ffn.layers.1.weight'):
            assert torch.equal(sd[f'layers.{i}.{key}'],
                               pad_state_dict[f'backbone.layers.{i}.{key}'])
        assert not sd[f'layers.{i}.attn.rel_pos_h'].any()
    # pos_embed: CLS entry dropped, 4x4 grid interpolated to 8x8
    src = pad_state_dict['backbone.pos_embed'][0, 1:].reshape(4, 4, 64)
    assert sd['pos_embed'].shape == (1, 8, 8, 64)
    torch.testing.assert_close(sd['pos_embed'][0].mean((0, 1)), src.mean((0, 1)),
                               atol=0.05, rtol=0)
    # ViTDet style: the table stays at the pre-training grid, loaded verbatim
    kept = PADViTDet(adapter_cfg=ADAPTER, pretrain_img_size=64,
                     init_cfg=dict(type='Pretrained', checkpoint=dst), **DET)
    kept.init_weights()
    assert torch.equal(kept.pos_embed[0], src)


def test_seg_checkpoint_loads_with_no_missing_keys(pad_ckpt, pad_state_dict,
                                                   tmp_path):
    dst = _convert(pad_ckpt, tmp_path / 'seg.pth', '--target', 'seg')
    backbone = PADMAE(adapter_cfg=ADAPTER, **SEG)
    converted = backbone._resize_for_load(read_backbone_state_dict(dst))
    report = load_pretrained_backbone(backbone, converted, dst,
                                      PADMAE.resized_on_load, has_adapters=True)
    assert report.missing == [] and report.unexpected == []

    backbone = PADMAE(adapter_cfg=ADAPTER,
                      init_cfg=dict(type='Pretrained', checkpoint=dst), **SEG)
    backbone.init_weights()
    sd = backbone.state_dict()
    for i in range(4):
        for key in ('adapter.up.weight', 'adapter.norm.bias', 'attn.qkv.bias',
                    'ln2.weight'):
            assert torch.equal(sd[f'layers.{i}.{key}'],
                               pad_state_dict[f'backbone.layers.{i}.{key}'])
        assert torch.equal(sd[f'layers.{i}.gamma_1'], torch.ones(64))
        table = sd[f'layers.{i}.attn.relative_position_bias_table']
        assert table.shape == (15 * 15 + 3, 2) and not table.any()
    assert sd['pos_embed'].shape == (1, 65, 64)
    assert torch.equal(sd['pos_embed'][:, 0],
                       pad_state_dict['backbone.pos_embed'][:, 0])
    assert torch.equal(sd['cls_token'], pad_state_dict['backbone.cls_token'])


def test_seg_checkpoint_of_another_width_is_named_not_interpolated(pad_ckpt, tmp_path):
    """A user's UperNet ViT-B config pointed at a converted checkpoint of another
    width (ViT-L): one error naming the mismatch. Its relative-position tables
    (another head count) used to go to mmseg's geometric interpolation, which
    calls ``scipy.interpolate.interp2d`` (removed in SciPy 1.14)."""
    dst = _convert(pad_ckpt, tmp_path / 'seg.pth', '--target', 'seg')
    for other in (dict(SEG, embed_dims=96, num_heads=3),  # wider
                  dict(SEG, embed_dims=96, num_heads=3, num_layers=2,
                       out_indices=[1])):  # and shallower (ViT-L into ViT-B)
        with pytest.raises(ValueError, match='another width or architecture'):
            PADMAE(adapter_cfg=ADAPTER,
                   init_cfg=dict(type='Pretrained', checkpoint=dst),
                   **other).init_weights()
    # control: the same file into the width it was made for loads
    PADMAE(adapter_cfg=ADAPTER, init_cfg=dict(type='Pretrained', checkpoint=dst),
           **SEG).init_weights()


def test_imagenet_mae_checkpoint_gives_the_baseline(tmp_path):
    src = factory.save_checkpoint(str(tmp_path / 'mae.pth'),
                                  factory.build_mae_state_dict(bottleneck=None))
    dst = _convert(src, tmp_path / 'mae_seg.pth', '--target', 'seg')
    state = read_backbone_state_dict(dst)
    assert not any('.adapter.' in k for k in state)
    baseline = PADMAE(adapter_cfg=None, **SEG)
    report = load_pretrained_backbone(
        baseline, baseline._resize_for_load(state), dst,
        PADMAE.resized_on_load, has_adapters=False)
    assert report.missing == [] and report.unexpected == []
    with pytest.raises(ValueError, match='has no adapter weights'):
        PADMAE(adapter_cfg=ADAPTER,
               init_cfg=dict(type='Pretrained', checkpoint=dst),
               **SEG).init_weights()


def test_wrong_adapters_are_refused_at_load(pad_ckpt, tmp_path):
    dst = _convert(pad_ckpt, tmp_path / 'det.pth', '--target', 'det')
    with pytest.raises(ValueError, match=r'adapter bottleneck.*adapter_cfg'):
        PADViTDet(adapter_cfg=dict(ADAPTER, bottleneck=32),
                  init_cfg=dict(type='Pretrained', checkpoint=dst),
                  **DET).init_weights()
    with pytest.raises(ValueError, match='would drop the learned adapters'):
        PADViTDet(adapter_cfg=None,
                  init_cfg=dict(type='Pretrained', checkpoint=dst),
                  **DET).init_weights()
    with pytest.raises(ValueError, match='another adapter scale mode'):
        PADViTDet(adapter_cfg=dict(ADAPTER, scale_mode='constant'),
                  init_cfg=dict(type='Pretrained', checkpoint=dst),
                  **DET).init_weights()
    with pytest.raises(ValueError, match='unconverted pre-training checkpoint'):
        PADViTDet(adapter_cfg=ADAPTER,
                  init_cfg=dict(type='Pretrained', checkpoint=pad_ckpt),
                  **DET).init_weights()
    # on purpose: a baseline from a PAD checkpoint
    base = _convert(pad_ckpt, tmp_path / 'base.pth', '--target', 'det',
                    '--drop-adapters')
    plain = PADViTDet(adapter_cfg=None,
                      init_cfg=dict(type='Pretrained', checkpoint=base), **DET)
    plain.init_weights()


@pytest.mark.parametrize('case, message', [
    ('fair', 'timm / FAIR-MAE checkpoint'),
    ('detector', 'detector / segmentor checkpoint'),
    ('converted', 'already converted'),
    ('partial', r'adapters in blocks \[0, 1\] only'),
    ('bottleneck', 'adapter bottleneck is 16, expected 64'),
])
def test_wrong_checkpoints_are_refused(pad_state_dict, tmp_path, capsys, case,
                                       message):
    sd = dict(pad_state_dict)
    extra = []
    if case == 'fair':
        sd = {k.replace('backbone.layers.', 'blocks.')
              .replace('backbone.patch_embed.projection', 'patch_embed.proj'): v
              for k, v in sd.items()}
        ckpt = dict(model=sd)
    elif case == 'detector':
        ckpt = dict(state_dict={'roi_head.bbox_head.fc_cls.weight':
                                torch.zeros(4, 8)})
    elif case == 'converted':
        ckpt = dict(state_dict={k[len('backbone.'):]: v for k, v in sd.items()
                                if k.startswith('backbone.')})
    elif case == 'partial':
        ckpt = dict(state_dict={k: v for k, v in sd.items() if not (
            '.adapter.' in k and k.split('.')[2] in '23')})
    else:
        ckpt, extra = dict(state_dict=sd), ['--bottleneck', '64']
    src = tmp_path / 'bad.pth'
    torch.save(ckpt, src)
    code = tool.main([str(src), str(tmp_path / 'out.pth'), '--target', 'seg',
                      *extra])
    err = capsys.readouterr().err
    assert code == 2 and str(src) in err
    assert __import__('re').search(message, err), err
    assert not (tmp_path / 'out.pth').exists()


def test_qv_bias_split_is_exact(pad_state_dict):
    """Dropping the key bias changes every logit of a query by the
    same constant, so the attention output is unchanged."""
    from mmseg.models.backbones.beit import BEiTAttention

    from mmpad.pad.checkpoint_conversion import \
        convert_pad_checkpoint
    out, _ = convert_pad_checkpoint(pad_state_dict, 'seg', num_heads=2,
                                    qv_bias=True)
    assert 'layers.0.attn.q_bias' in out and 'layers.0.attn.qkv.bias' not in out
    full = BEiTAttention(64, 2, (4, 4), bias=True)
    split = BEiTAttention(64, 2, (4, 4), bias='qv_bias')
    prefix = 'backbone.layers.0.attn.'
    weights = {k[len(prefix):]: v for k, v in pad_state_dict.items()
               if k.startswith(prefix)}
    full.load_state_dict(weights, strict=False)
    split.load_state_dict({k[len('layers.0.attn.'):]: v for k, v in out.items()
                           if k.startswith('layers.0.attn.')}, strict=False)
    with torch.no_grad():
        split.relative_position_bias_table.zero_()
        full.relative_position_bias_table.zero_()
        assert pad_state_dict[prefix + 'qkv.bias'][64:128].abs().sum() > 0
        x = torch.randn(2, 17, 64)
        torch.testing.assert_close(split(x), full(x))


def test_cli_help_and_missing_file(tmp_path):
    assert '--target' in run_tool(['tools/convert_pad_checkpoint.py',
                                   '--help']).stdout
    proc = run_tool(['tools/convert_pad_checkpoint.py', str(tmp_path / 'no.pth'),
                     str(tmp_path / 'o.pth'), '--target', 'det'], check=False)
    assert proc.returncode == 2 and 'does not exist' in proc.stderr


def test_trained_relative_position_table_is_resized_with_current_scipy():
    """A trained table (a fine-tuned PAD segmentor loaded at another crop size)
    goes through the geometric-sequence resize. A bicubic spline reproduces a
    function linear in the geometric coordinates exactly, so the resized table is
    known; control: mmseg's own resize fails on this SciPy."""
    from mmseg.models.backbones.beit import BEiT
    src, dst = 13, 19
    # mmseg's geometric coordinates of the 13 source positions (ratio by bisection)
    def gp(r, n):
        return (1.0 - r**n) / (1.0 - r)
    lo, hi = 1.01, 1.5
    while hi - lo > 1e-6:
        q = (lo + hi) / 2
        lo, hi = (lo, q) if gp(q, src // 2) > dst // 2 else (q, hi)
    dis = [sum(q**j for j in range(i + 1)) for i in range(src // 2)]
    x = torch.tensor([-d for d in reversed(dis)] + [0.0] + dis, dtype=torch.float64)
    table = torch.stack([(0.3 * x[None, :] - 0.7 * x[:, None]).reshape(-1),
                         torch.full((src * src, ), 2.5, dtype=torch.float64)], 1).float()
    out = PADMAE._geometric_sequence_interpolation(src, dst, table, 2)
    grid = torch.arange(-(dst // 2), dst // 2 + 1, dtype=torch.float64)
    want = (0.3 * grid[None, :] - 0.7 * grid[:, None]).reshape(-1)
    assert out.shape == (dst * dst, 2)
    torch.testing.assert_close(out[:, 0].double(), want, atol=1e-4, rtol=0)
    torch.testing.assert_close(out[:, 1], torch.full((dst * dst, ), 2.5))
    with pytest.raises(NotImplementedError, match='interp2d'):
        BEiT._geometric_sequence_interpolation(None, src, dst, table, 2)
