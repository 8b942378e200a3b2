"""SOPEncoderDecoder: each fusion mode trains on CPU, uses the sub-image, predicts a
binary mask; early fusion inflates a pretrained 3-channel kernel."""
import math

import pytest
import torch

import mmpad  # noqa: F401
from mmpad.sop.segmentor import binary_accuracy
from tests.sop.tiny_sop import boxes_batch, build, deeplab_cfg, vit_cfg

MODES = {
    'early': lambda: deeplab_cfg(fusion='early'),
    'siamese_gap': lambda: deeplab_cfg(fusion='siamese_gap'),
    'token_concat': lambda: vit_cfg(),
}


@pytest.mark.parametrize('mode', sorted(MODES))
def test_forward_backward_finite_loss(mode):
    torch.manual_seed(0)
    model = build(MODES[mode]())
    model.train()
    inputs, samples = boxes_batch(n=2)
    losses = model.loss(inputs, samples)
    assert {'decode.loss_bce', 'decode.loss_dice', 'decode.acc_seg'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert math.isfinite(total.item()) and total.item() > 0
    total.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    # the sub-image path gets gradient
    if mode == 'early':
        assert grads['backbone.stem.0.weight'][:, 3:].abs().sum() > 0
    elif mode == 'token_concat':
        assert grads['backbone.segment_embed'][1].abs().sum() > 0
    else:
        assert sorted(k for k in grads if k.startswith('fusion')) == [
            f'fusion.convs.{i}.{p}' for i in (0, 2, 3) for p in ('bias', 'weight')]
        assert all(grads[f'fusion.convs.{i}.weight'].abs().sum() > 0 for i in (0, 2, 3))


@pytest.mark.parametrize('mode', sorted(MODES))
def test_prediction_depends_on_the_sub_image(mode):
    torch.manual_seed(0)
    model = build(MODES[mode]()).eval()
    if mode == 'siamese_gap':  # identity at init (see next test): as after training
        for conv in model.fusion.convs.values():
            torch.nn.init.normal_(conv.weight, std=0.1)
    inputs, samples = boxes_batch(n=2)
    other = inputs.clone()
    other[:, 3:] = torch.randn_like(other[:, 3:])
    with torch.no_grad():
        a = model(inputs, mode='tensor')
        b = model(other, mode='tensor')
        fa, fb = model.extract_feat(inputs)[-1], model.extract_feat(other)[-1]
    assert a.shape[1] == 1
    assert (a - b).abs().max() > 1e-3 * a.abs().max()
    assert (fa - fb).abs().mean() > 1e-3 * fa.abs().mean()
    preds = model.predict(inputs, samples)
    mask = preds[0].pred_sem_seg.data
    assert tuple(mask.shape) == (1, 64, 64)
    assert set(mask.unique().tolist()) <= {0, 1}
    probs = preds[0].seg_logits.data
    torch.testing.assert_close(mask.float(), (probs > 0.5).float())


def test_siamese_fusion_starts_as_identity():
    model = build(deeplab_cfg(fusion='siamese_gap')).eval()
    inputs, _ = boxes_batch(n=1)
    with torch.no_grad():
        img_feats = model.backbone(inputs[:, :3])
        sub_feats = model.backbone(model._resize_sub(inputs[:, 3:]))
        fused = model.fusion(img_feats, sub_feats)
    for f, i in zip(fused, img_feats):
        torch.testing.assert_close(f, i)
    assert model.sub_size == (32, 32)


def test_token_concat_matches_stock_vit_without_sub_image():
    from mmseg.models.backbones import VisionTransformer
    torch.manual_seed(0)
    model = build(vit_cfg())
    sop_vit = model.backbone
    stock = VisionTransformer(img_size=(64, 64), patch_size=8, embed_dims=32,
                              num_layers=2, num_heads=2, mlp_ratio=2,
                              out_indices=(0, 1), final_norm=True,
                              norm_cfg=dict(type='LN', eps=1e-6))
    sop_vit.eval()  # (mmseg's ViT.train() returns None: no chaining)
    stock.eval()
    state = {k: v for k, v in sop_vit.state_dict().items() if k != 'segment_embed'}
    stock.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(sop_vit(x), stock(x)):
            torch.testing.assert_close(a, b)
        joint = sop_vit(x, torch.randn(2, 3, 32, 32))
    assert [tuple(f.shape) for f in joint] == [(2, 32, 8, 8)] * 2


def test_early_fusion_inflates_pretrained_kernel(tmp_path):
    from mmseg.models.backbones import ResNetV1c
    torch.manual_seed(0)
    src = ResNetV1c(depth=18, stem_channels=16, base_channels=16)
    path = str(tmp_path / 'r18.pth')
    torch.save(dict(state_dict=src.state_dict()), path)
    cfg = deeplab_cfg(fusion='early', aux=False)
    cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint=path)
    model = build(cfg)
    w3 = src.state_dict()['stem.0.weight']
    w6 = dict(model.backbone.named_parameters())['stem.0.weight']
    assert tuple(w6.shape) == (8, 6, 3, 3)
    torch.testing.assert_close(w6[:, :3].detach(), 0.5 * w3)
    torch.testing.assert_close(w6[:, 3:].detach(), 0.5 * w3)
    torch.testing.assert_close(model.backbone.layer1[0].conv1.weight.detach(),
                               src.layer1[0].conv1.weight)
    # [I ‖ I] through the inflated stem conv equals I through the pretrained conv
    x = torch.randn(1, 3, 16, 16)
    torch.testing.assert_close(
        torch.nn.functional.conv2d(torch.cat([x, x], 1), w6.detach(), padding=1),
        torch.nn.functional.conv2d(x, w3, padding=1), rtol=1e-4, atol=1e-5)


def test_binary_accuracy_by_hand():
    logits = torch.tensor([[[[2.0, -1.0], [0.1, -3.0]]]])  # p > .5 at (0,0), (1,0)
    label = torch.tensor([[[1, 1], [255, 0]]])
    # valid: (0,0) correct, (0,1) wrong, (1,1) correct -> 2 / 3
    assert binary_accuracy(logits, label, 0.5, 255).item() == pytest.approx(200 / 3)


def test_clear_errors():
    with pytest.raises(ValueError, match='out_channels=1'):
        cfg = deeplab_cfg()
        cfg.decode_head.update(out_channels=2)
        build(cfg)
    with pytest.raises(TypeError, match='SOPVisionTransformer'):
        build(deeplab_cfg(fusion='token_concat'))
    with pytest.raises(ValueError, match='fusion_channels'):
        cfg = deeplab_cfg(fusion='siamese_gap')
        cfg.pop('fusion_channels')
        build(cfg)
    with pytest.raises(ValueError, match="argument fusion='late'"):
        build(deeplab_cfg(fusion='late'))
    model = build(deeplab_cfg())
    with pytest.raises(ValueError, match='6, H, W'):
        model(torch.randn(1, 3, 32, 32), mode='tensor')
