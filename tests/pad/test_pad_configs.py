"""The full-size PAD configs (configs/pad/*.py): they load, every type
resolves, and they carry the PAD pre-training recipe. ViT-B models are built on the
meta device (shapes only)."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import mmpad  # noqa: F401
from mmpad.core.config_check import check_config
from mmpad_test_utils import REPO

CFGS = sorted(glob.glob(osp.join(REPO, 'configs/pad/*.py')) +
              glob.glob(osp.join(REPO, 'configs/pad/demo/*.py')))


def _cfg(name):
    return Config.fromfile(osp.join(REPO, 'configs/pad', name))


@pytest.mark.parametrize('path', CFGS, ids=osp.basename)
def test_config_types_resolve(path):
    cfg = Config.fromfile(path)
    check_config(cfg, data=False)
    assert cfg.runner_type == 'MMPadRunner'
    assert 'mmpad' in cfg.custom_imports['imports']


def test_pad_mae_recipe():
    cfg = _cfg('pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py')
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper'
    assert opt.optimizer.lr == pytest.approx(1e-4 * 4096 / 256)
    assert opt.optimizer.betas == (0.9, 0.95)
    assert opt.optimizer.weight_decay == 0.05
    assert cfg.auto_scale_lr.base_batch_size == 4096
    assert cfg.train_dataloader.batch_size * 8 == 4096
    warm, cos = cfg.param_scheduler
    assert (warm.type, warm.end, cos.type, cos.begin, cos.end,
            cos.eta_min) == ('LinearLR', 30, 'CosineAnnealingLR', 30, 100, 0.)
    assert warm.convert_to_iter_based and cos.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == 100
    assert not cfg.get('find_unused_parameters') and 'model_wrapper_cfg' not in cfg
    hooks = {h.type: h for h in cfg.custom_hooks}
    assert hooks['DelayedScaleHook'].ratio == 0.6
    assert cfg.model.algorithm.backbone.mask_ratio == 0.75
    assert cfg.model.algorithm.head.norm_pix
    assert cfg.data_preprocessor.mean == [96.9255] * 3
    assert cfg.data_preprocessor.std == [47.7105] * 3
    crop = cfg.train_dataloader.dataset.pipeline[1]
    assert crop.type == 'ObjectSensitiveRandomRoICrop' and crop.p == 0.85
    assert cfg.train_dataloader.dataset.type == 'MSIPDataset'
    assert cfg.load_from.endswith('f7569ca2.pth') and not cfg.resume


def test_pad_mae_vit_base_counts_and_weight_decay():
    cfg = _cfg('pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py')
    with torch.device('meta'):
        model = MODELS.build(cfg.model.to_dict())
    adapters = sum(p.numel() for n, p in model.named_parameters()
                   if p.requires_grad and '.adapter.' in n)
    assert adapters == 1226496
    decoder = sum(p.numel() for n, p in model.named_parameters()
                  if p.requires_grad and n.startswith('neck.'))
    embed = model.neck.decoder_embed
    assert not embed.weight.requires_grad  # frozen, as in PAD
    # the decoder trains (~25.6M for MAE ViT-B) except decoder_embed (768x512
    # + 512, frozen) and the fixed sin-cos table (197 x 512)
    total = sum(p.numel() for p in model.neck.parameters())
    assert decoder == total - (768 * 512 + 512) - 197 * 512 == 25614592
    optim_cfg = copy.deepcopy(cfg.optim_wrapper.to_dict())
    optim_cfg.update(type='OptimWrapper')
    optim_cfg.pop('loss_scale')
    from mmengine.optim import build_optim_wrapper
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        optim = build_optim_wrapper(model, optim_cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    wd = {names[id(p)]: g['weight_decay'] for g in optim.param_groups
          for p in g['params'] if id(p) in names}
    assert wd['neck.mask_token'] == 0.05  # decayed, as in the PAD code
    assert wd['backbone.layers.0.adapter.scale_pred.weight'] == 0.05  # ditto
    assert wd['backbone.layers.0.adapter.down.weight'] == 0.05
    assert wd['backbone.layers.0.adapter.down.bias'] == 0.0
    assert wd['backbone.layers.0.adapter.norm.weight'] == 0.0
    assert wd['neck.decoder_blocks.0.ln1.weight'] == 0.0


def test_baselines():
    full = _cfg('mae_vit-base-p16_8xb512-amp-coslr-100e_msip-in1k-full.py')
    assert full.model.type == 'MAE' and full.train_cfg.max_epochs == 100
    assert full.load_from.endswith('f7569ca2.pth')
    ld = _cfg('mae_vit-base-p16_8xb512-amp-coslr-100e_msip-in1k-full-ld0.7.py')
    assert ld.optim_wrapper.constructor == \
        'SelfSupLayerDecayOptimWrapperConstructor'
    assert ld.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.7
    scratch = _cfg('mae_vit-base-p16_8xb512-amp-coslr-400e_msip-scratch.py')
    assert scratch.load_from is None and scratch.train_cfg.max_epochs == 400
    assert scratch.param_scheduler[0].end == 40
    assert scratch.param_scheduler[1].end == 400


def test_milan_and_maskfeat_versions():
    milan = _cfg('pad-milan_vit-base-p16_8xb512-amp-coslr-100e_msip.py')
    assert milan.model.type == 'PAD'
    assert milan.model.algorithm.neck.embed_dim == 768
    assert milan.model.algorithm.target_generator.type == 'CLIPGenerator'
    assert milan.train_dataloader.dataset.pipeline[1].p == 0.85  # documented command
    mf = _cfg('pad-maskfeat_vit-base-p16_8xb512-amp-coslr-100e_msip.py')
    with torch.device('meta'):
        model = MODELS.build(mf.model.to_dict())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all('.adapter.' in n or n.startswith('neck.')
                             for n in trainable)
    assert sum(p.numel() for n, p in model.named_parameters()
               if n in trainable and '.adapter.' in n) == 1226496


def _adapter_count(embed_dims, num_layers, bottleneck=64):
    """Trainable parameters of the concat-fusion adapters: per block the adapter
    LayerNorm (2d), down (d x r + r), up (r x d + d) and the bias-free scale
    predictor on [M ; A] (2d): 2dr + r + 5d."""
    d, r = embed_dims, bottleneck
    return num_layers * (2 * d * r + r + 5 * d)


@pytest.mark.parametrize('name, embed_dims, num_layers, adapters, patches', [
    ('pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py', 768, 12, 1226496, 196),
    ('pad-mae_vit-large-p16_8xb512-amp-coslr-100e_msip.py', 1024, 24, 3270144, 196),
    ('pad-mae_vit-huge-p14_8xb512-amp-coslr-100e_msip.py', 1280, 32, 5449728, 256),
])
def test_pad_mae_adapter_counts_by_size(name, embed_dims, num_layers, adapters,
                                        patches):
    assert _adapter_count(embed_dims, num_layers) == adapters
    cfg = _cfg(name)
    with torch.device('meta'):
        model = MODELS.build(cfg.model.to_dict())
    counted = sum(p.numel() for n, p in model.named_parameters()
                  if p.requires_grad and '.adapter.' in n)
    assert counted == adapters
    assert len(model.backbone.layers) == num_layers
    assert model.backbone.embed_dims == embed_dims
    # the frozen encoder with a decoder whose table fits the patch grid
    assert model.neck.decoder_pos_embed.shape == (1, patches + 1, 512)
    assert model.neck.decoder_embed.weight.shape == (512, embed_dims)
    assert not any(p.requires_grad for n, p in model.backbone.named_parameters()
                   if '.adapter.' not in n)
    assert cfg.load_from.startswith('checkpoints/mae_vit-')
    # the metafile states the same count for the config and its FSDP twin
    import yaml
    with open(osp.join(REPO, 'configs/pad/metafile.yml')) as f:
        meta = {m['Name']: m for m in yaml.safe_load(f)['Models']}
    for twin in (name[:-3], name[:-3] + '_fsdp'):
        if twin in meta or twin == name[:-3]:
            assert meta[twin]['Metadata']['Adapter Parameters'] == adapters, twin


@pytest.mark.parametrize('size', ['base-p16', 'large-p16'])
def test_pad_mae_fsdp_twins(size):
    plain = _cfg(f'pad-mae_vit-{size}_8xb512-amp-coslr-100e_msip.py')
    cfg = _cfg(f'pad-mae_vit-{size}_8xb512-amp-coslr-100e_msip_fsdp.py')
    wrapper = cfg.model_wrapper_cfg
    assert wrapper.type == 'PADFullyShardedDataParallel'
    assert wrapper.auto_wrap_policy == 'pad_fsdp_wrap_policy'
    assert wrapper.use_orig_params and 'find_unused_parameters' not in wrapper
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper' and opt.use_fsdp
    # no rule by number of dimensions (FSDP's flat views are all 1-d)
    assert dict(opt.paramwise_cfg) == dict(norm_decay_mult=0.0, bias_decay_mult=0.0)
    assert cfg.model == plain.model and cfg.load_from == plain.load_from
    assert cfg.default_hooks.checkpoint == plain.default_hooks.checkpoint
    assert cfg.custom_hooks == plain.custom_hooks
