"""type='PAD' around mmpretrain SSL algorithms: freezing, one
optimisation step touches only adapters + decoder, MILAN / MaskFeat versions,
layer decay for the baselines."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmpad  # noqa: F401
from mmpad.core.adapters import iter_adapters, set_scale_detached
from mmpad.engine.optim_constructor import group_of_each_param

IMG = 64


def _trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_pad_mae_freezing_rule(tiny_pad):
    model = MODELS.build(tiny_pad)
    names = {n for n, _ in model.named_parameters()}
    expected = {n for n in names if '.adapter.' in n} | {
        n for n in names if n.startswith('neck.')
        and not n.startswith('neck.decoder_embed.')
        and n != 'neck.decoder_pos_embed'
    }
    assert _trainable(model) == expected
    assert not model.neck.decoder_pos_embed.requires_grad  # fixed sin-cos table
    assert not model.neck.decoder_embed.weight.requires_grad  # frozen, as in PAD
    assert model.neck.mask_token.requires_grad
    for n in ('backbone.cls_token', 'backbone.pos_embed',
              'backbone.patch_embed.projection.weight', 'backbone.ln1.weight',
              'backbone.layers.0.ffn.layers.0.0.weight'):
        assert n in names and n not in _trainable(model)


def test_pad_logs_counts(tiny_pad, capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('pad_count_test', log_level='INFO')
    model = MODELS.build(tiny_pad)
    out = capsys.readouterr().out
    n_adapter = sum(p.numel() for n, p in model.named_parameters()
                    if '.adapter.' in n)
    n_frozen = sum(p.numel() for p in model.parameters()
                   if not p.requires_grad)
    assert f'adapters {n_adapter:,}' in out
    assert f'frozen params: {n_frozen:,}' in out


def _batch(n=4, seed=0, img=IMG):
    g = torch.Generator().manual_seed(seed)
    imgs = torch.randint(0, 256, (n, 3, img, img), generator=g,
                         dtype=torch.uint8)  # what default_collate yields
    return dict(inputs=imgs, data_samples=[DataSample() for _ in range(n)])


def _build_optim(model, cfg):
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return build_optim_wrapper(model, cfg)


@pytest.mark.parametrize('detached', [False, True])
def test_one_step_changes_only_adapters_and_decoder(tiny_pad, demo_cfg,
                                                    detached):
    torch.manual_seed(0)
    model = MODELS.build(tiny_pad)
    model.init_weights()
    set_scale_detached(model, detached)
    optim = _build_optim(model, copy.deepcopy(demo_cfg.optim_wrapper))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    # two steps: at step 0 the adapter output A is 0, so dL/ds = 0 as well
    for step in range(2):
        data = model.data_preprocessor(_batch(seed=step), True)
        optim.update_params(model(**data, mode='loss')['loss'])
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    after = model.state_dict()
    trainable = _trainable(model)
    for name, value in after.items():
        if name in trainable:
            continue
        assert torch.equal(value, before[name]), f'frozen {name} changed'
    assert len(frozen) > 0
    changed = {n for n in trainable if not torch.equal(after[n], before[n])}
    # the adapters and the decoder moved
    assert all(f'backbone.layers.{i}.adapter.{m}.weight' in changed
               for i in range(3) for m in ('up', 'down'))
    assert 'neck.decoder_pred.weight' in changed
    scale = {f'backbone.layers.{i}.adapter.scale_pred.weight'
             for i in range(3)}
    if detached:  # held: no gradient, AdamW (and its weight decay) skip it
        assert not scale & changed
        for a in iter_adapters(model):
            assert torch.count_nonzero(a.scale_pred.weight) == 0
    else:
        assert scale <= changed


def test_frozen_parameters_get_no_gradient(tiny_pad):
    model = MODELS.build(tiny_pad)
    model.init_weights()
    data = model.data_preprocessor(_batch(), True)
    model(**data, mode='loss')['loss'].backward()
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, n
        else:
            assert p.grad is None, n
    _every_trainable_in_graph_while_held(model, data)
    # nothing before the first adapter needs backward: the patch embedding
    # output does not require grad
    x = model.backbone.patch_embed(torch.randn(1, 3, IMG, IMG))[0]
    assert not x.requires_grad


def test_unknown_backbone_and_bad_prefix(tiny_mae):
    cfg = copy.deepcopy(tiny_mae)
    cfg['backbone']['type'] = 'SwinTransformer'
    with pytest.raises(KeyError, match='no adapter-equipped twin'):
        MODELS.build(dict(type='PAD', algorithm=cfg))
    with pytest.raises(ValueError, match='match no parameter'):
        MODELS.build(dict(type='PAD', algorithm=copy.deepcopy(tiny_mae),
                          frozen=['backbone.', 'nek.decoder_embed.']))


def test_pad_accepts_explicit_pad_backbone_and_empty_freeze(tiny_mae):
    cfg = copy.deepcopy(tiny_mae)
    cfg['backbone']['type'] = 'PADMAEViT'
    model = MODELS.build(dict(type='PAD', algorithm=cfg, frozen=[],
                              adapter=dict(bottleneck=4,
                                           scale_mode='scalar')))
    assert all(p.requires_grad for n, p in model.named_parameters()
               if n != 'neck.decoder_pos_embed' and 'pos_embed' not in n)
    assert model.backbone.layers[0].adapter.down.out_features == 4


# ------------------------------------------------------------------ MILAN
def _tiny_clip_checkpoint(path, embed_dim=16):
    from mmpretrain.models.utils.clip_generator_helper import CLIP
    torch.manual_seed(0)
    clip = CLIP(embed_dim=embed_dim, image_resolution=IMG, vision_layers=1,
                vision_width=64, vision_patch_size=16, context_length=4,
                vocab_size=10, transformer_width=64, transformer_heads=1,
                transformer_layers=1)
    torch.save(clip.state_dict(), path)



def _every_trainable_in_graph_while_held(model, data):
    """With the scales held, every trainable parameter still gets a gradient (the
    scale predictors an exact zero): DDP needs no find_unused_parameters."""
    model.zero_grad(set_to_none=True)
    set_scale_detached(model, True)
    model(**data, mode='loss')['loss'].backward()
    set_scale_detached(model, False)
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads == _trainable(model)
    scale = [p for a in iter_adapters(model) for p in a.scale_parameters()]
    assert scale and all(torch.equal(p.grad, torch.zeros_like(p)) for p in scale)
    model.zero_grad(set_to_none=True)

def test_pad_milan_trains_adapters_and_decoder_only(tmp_path, tiny_mae):
    ckpt = str(tmp_path / 'clip_tiny.pth')
    _tiny_clip_checkpoint(ckpt)
    arch = tiny_mae['backbone']['arch']
    milan = dict(
        type='MILAN',
        backbone=dict(type='MILANViT', arch=arch, img_size=IMG,
                      patch_size=16, mask_ratio=0.75),
        neck=dict(type='MILANPretrainDecoder', num_patches=16, patch_size=16,
                  embed_dim=64, decoder_embed_dim=32, decoder_depth=1,
                  decoder_num_heads=2, predict_feature_dim=16, mlp_ratio=2),
        head=dict(type='MIMHead',
                  loss=dict(type='CosineSimilarityLoss', shift_factor=2.0,
                            scale_factor=2.0)),
        target_generator=dict(type='CLIPGenerator', tokenizer_path=ckpt),
        data_preprocessor=tiny_mae['data_preprocessor'])
    model = MODELS.build(dict(type='PAD', algorithm=milan))
    model.init_weights()
    trainable = _trainable(model)
    assert not any(n.startswith(('target_generator.', 'neck.decoder_embed.'))
                   for n in trainable)
    assert not any(n.startswith('backbone.') and '.adapter.' not in n
                   for n in trainable)
    data = model.data_preprocessor(_batch(), True)
    loss = model(**data, mode='loss')['loss']
    loss.backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads <= trainable
    assert 'backbone.layers.0.adapter.up.weight' in grads
    _every_trainable_in_graph_while_held(model, data)


# --------------------------------------------------------------- MaskFeat
def test_pad_maskfeat(tiny_mae):
    arch = tiny_mae['backbone']['arch']
    maskfeat = dict(
        type='MaskFeat',
        backbone=dict(type='MaskFeatViT', arch=arch, img_size=224,
                      patch_size=16),  # HOGGenerator assumes 14x14 patches
        neck=dict(type='LinearNeck', in_channels=64, out_channels=108,
                  norm_cfg=None),
        head=dict(type='MIMHead',
                  loss=dict(type='PixelReconstructionLoss', criterion='L2')),
        target_generator=dict(type='HOGGenerator', nbins=9, pool=8,
                              gaussian_window=16),
        data_preprocessor=tiny_mae['data_preprocessor'])
    model = MODELS.build(dict(type='PAD', algorithm=maskfeat))
    model.init_weights()
    batch = _batch(n=2, img=224)
    for ds in batch['data_samples']:
        ds.set_field(torch.rand(14, 14) > 0.5, 'mask')
    data = model.data_preprocessor(batch, True)
    model(**data, mode='loss')['loss'].backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads <= _trainable(model)
    assert any('.adapter.' in n for n in grads)
    assert 'neck.fc.weight' in grads
    assert 'backbone.mask_token' not in _trainable(model)
    _every_trainable_in_graph_while_held(model, data)


# ------------------------------------------------------------- layer decay
def test_selfsup_layer_decay_constructor(tiny_mae):
    for wrap in (False, True):
        cfg = dict(type='PAD', algorithm=copy.deepcopy(tiny_mae),
                   frozen=[]) if wrap else copy.deepcopy(tiny_mae)
        model = MODELS.build(cfg)
        optim = _build_optim(model, dict(
            constructor='SelfSupLayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
            paramwise_cfg=dict(layer_decay_rate=0.7, flat_decay_mult=0.0)))
        lr = {n: g['lr'] for n, g in group_of_each_param(
            model, optim.param_groups).items()}
        # n blocks -> depths 0 (stem) .. n + 1 (after the last block / decoder)
        n = tiny_mae['backbone']['arch']['num_layers']
        assert lr['backbone.patch_embed.projection.weight'] == \
            pytest.approx(0.7**(n + 1))
        for i in range(n):
            assert lr[f'backbone.layers.{i}.attn.qkv.weight'] == \
                pytest.approx(0.7**(n - i))
            if wrap:
                assert lr[f'backbone.layers.{i}.adapter.down.weight'] == \
                    pytest.approx(0.7**(n - i))
        assert lr['neck.decoder_embed.weight'] == pytest.approx(1.0)
        assert lr['neck.decoder_blocks.0.attn.qkv.weight'] == \
            pytest.approx(1.0)
        assert 'neck.decoder_pos_embed' not in lr
