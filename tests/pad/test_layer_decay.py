"""Layer-wise lr decay of the downstream configs: every adapter is in its block's
group; exemptions from weight decay (in segmentation also cls_token / pos_embed,
which the PAD authors' code decays through a parameter-name mismatch)."""
import os.path as osp

import pytest

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
import mmpad  # noqa: F401,E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmpad.core.layer_decay import vit_layer_id  # noqa: E402
from mmpad.engine.optim_constructor import group_of_each_param  # noqa: E402

DEMO = 'configs/pad/downstream/demo'


def _groups(repo_root, name, scope):
    cfg = Config.fromfile(osp.join(repo_root, DEMO, name))
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    cfg.model.backbone.init_cfg = None
    model = registry.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = group_of_each_param(model, wrapper.optimizer.param_groups)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(groups) == names  # every trainable parameter, once
    in_groups = [p for g in wrapper.optimizer.param_groups for p in g['params']]
    assert len(in_groups) == len(names)
    # merged: one group per (layer id, weight decay)
    settings = {(g['layer_id'], g['weight_decay']) for g in groups.values()}
    assert len(wrapper.optimizer.param_groups) == len(settings) < len(names)
    return cfg, groups


def test_vit_layer_id_rule():
    assert vit_layer_id('backbone.pos_embed', 12) == 0
    assert vit_layer_id('backbone.patch_embed.projection.weight', 12) == 0
    assert vit_layer_id('backbone.layers.0.attn.qkv.weight', 12) == 1
    assert vit_layer_id('backbone.layers.11.adapter.scale_pred.weight', 12) == 12
    assert vit_layer_id('backbone.ln1.weight', 12) == 13
    assert vit_layer_id('decode_head.conv_seg.weight', 12) == 13


@pytest.mark.parametrize('name, scope, rate, wd', [
    ('faster-rcnn_vit-tiny-pad_simplefpn_flir-demo.py', 'mmdet', 0.7, 0.1),
    ('upernet_mae-tiny-pad_soda-demo.py', 'mmseg', 0.65, 0.05),
])
def test_adapters_take_their_blocks_learning_rate(repo_root, name, scope, rate,
                                                  wd):
    cfg, groups = _groups(repo_root, name, scope)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == rate
    base_lr, depth = cfg.optim_wrapper.optimizer.lr, 4
    adapter_names = [n for n in groups if '.adapter.' in n]
    assert len(adapter_names) == 7 * depth
    for n in adapter_names:
        i = int(n.split('.')[2])
        expected = base_lr * rate**(depth + 1 - (i + 1))
        assert groups[n]['lr'] == pytest.approx(expected)
        assert groups[n]['lr'] == pytest.approx(
            groups[f'backbone.layers.{i}.attn.qkv.weight']['lr'])
    assert groups['backbone.pos_embed']['lr'] == pytest.approx(
        base_lr * rate**(depth + 1))
    assert groups['backbone.patch_embed.projection.weight']['lr'] == \
        groups['backbone.pos_embed']['lr']
    heads = [n for n in groups if not n.startswith('backbone.')]
    assert heads and all(groups[n]['lr'] == pytest.approx(base_lr)
                         for n in heads)
    # weight decay: on for matrices, off for position embeddings and norms
    assert groups['backbone.pos_embed']['weight_decay'] == 0
    assert groups['backbone.layers.0.adapter.norm.weight']['weight_decay'] == 0
    assert groups['backbone.layers.0.ln1.weight']['weight_decay'] == 0
    assert groups['backbone.layers.0.adapter.down.weight']['weight_decay'] == wd
    assert groups['backbone.layers.0.adapter.scale_pred.weight'][
        'weight_decay'] == wd
    if scope == 'mmseg':  # cls_token / pos_embed exempt (the reference decays them)
        assert groups['backbone.cls_token']['weight_decay'] == 0
        assert groups['backbone.layers.0.gamma_1']['weight_decay'] == 0
        assert groups['backbone.layers.0.attn.qkv.bias']['weight_decay'] == 0
    else:  # ViTDet / detectron2: no decay on norms (incl. LN2d) and pos_embed
        assert groups['neck.fpn1.1.weight']['weight_decay'] == 0
        assert groups['backbone.layers.0.attn.qkv.bias']['weight_decay'] == wd
