"""One layer-decay constructor, two registered names: the depth rule (parameter
names / the backbone's get_layer_depth) is the only difference; both names are
found where configs look for them, with the same argument checks."""
import pytest
import torch.nn as nn
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as ROOT

import mmpad.pretrain  # noqa: F401
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS as PRETRAIN

from mmpad.core.arg_check import InvalidArgumentError
from mmpad.core.layer_decay import vit_layer_depth, vit_layer_id
from mmpad.engine.optim_constructor import group_of_each_param
from mmpad.pad.layer_decay import (LayerDecayOptimWrapperConstructor,
                                   SelfSupLayerDecayOptimWrapperConstructor,
                                   ViTLayerDecayOptimWrapperConstructor)

VIT, SELFSUP = ('ViTLayerDecayOptimWrapperConstructor',
                'SelfSupLayerDecayOptimWrapperConstructor')


class Backbone(nn.Module):
    """Two blocks, a stem and a final norm; depth by mmpretrain's ViT rule."""
    num_layers = 2

    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Linear(2, 2)
        self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
        self.ln1 = nn.LayerNorm(2)

    def get_layer_depth(self, name, prefix=''):
        name = name[len(prefix):] if name.startswith(prefix) else None
        if name is None or name.startswith('ln1'):
            return 3, 4
        if name.startswith('patch_embed'):
            return 0, 4
        return int(name.split('.')[1]) + 1, 4


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Linear(2, 2)


def _build(cls, model, **paramwise):
    make = cls(optim_wrapper_cfg=dict(type='OptimWrapper',
                                      optimizer=dict(type='AdamW', lr=1.0,
                                                     weight_decay=0.05)),
               paramwise_cfg=paramwise)
    groups = make(model).optimizer.param_groups
    return {n: g['lr'] for n, g in group_of_each_param(model, groups).items()}


def test_both_names_are_the_one_constructor_in_their_registries():
    assert ROOT.get(VIT) is ViTLayerDecayOptimWrapperConstructor
    assert PRETRAIN.get(SELFSUP) is SelfSupLayerDecayOptimWrapperConstructor
    for cls in (ViTLayerDecayOptimWrapperConstructor,
                SelfSupLayerDecayOptimWrapperConstructor):
        assert issubclass(cls, LayerDecayOptimWrapperConstructor)
        assert set(vars(cls)) <= {'depth_rule', '__module__', '__doc__',
                                  '__qualname__', '__firstlineno__',
                                  '__static_attributes__'}
    assert ViTLayerDecayOptimWrapperConstructor.depth_rule == 'names'
    assert SelfSupLayerDecayOptimWrapperConstructor.depth_rule == 'backbone'


def test_the_two_depth_rules():
    model = Model()
    by_names = _build(ViTLayerDecayOptimWrapperConstructor, model,
                      layer_decay_rate=0.5)
    for name, lr in by_names.items():
        assert lr == pytest.approx(0.5**(2 + 1 - vit_layer_id(name, 2))), name
    assert vit_layer_depth('backbone.layers.1.weight', 2) == (2, 4)
    by_backbone = _build(SelfSupLayerDecayOptimWrapperConstructor, model,
                         layer_decay_rate=0.5)
    assert by_backbone == by_names  # the same ids for this model
    assert by_backbone['head.weight'] == 1.0
    assert by_backbone['backbone.layers.0.weight'] == pytest.approx(0.25)
    # the model's own get_layer_depth wins under the backbone rule ...
    model.get_layer_depth = lambda name: (0, 2)
    assert set(_build(SelfSupLayerDecayOptimWrapperConstructor, model,
                      layer_decay_rate=0.5).values()) == {0.5}
    # ... while the name rule always reads the names (num_layers from config)
    by_cfg = _build(ViTLayerDecayOptimWrapperConstructor, model,
                    layer_decay_rate=0.5, num_layers=4)
    assert by_cfg['backbone.layers.0.weight'] == pytest.approx(0.5**4)


@pytest.mark.parametrize('cls', [ViTLayerDecayOptimWrapperConstructor,
                                 SelfSupLayerDecayOptimWrapperConstructor])
def test_argument_checks(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=rf'^{name} needs optim_wrapper\.'
                       r'paramwise_cfg\.layer_decay_rate'):
        _build(cls, Model(), norm_decay_mult=0.)
    for rate in (0, 1.5, None):
        with pytest.raises(InvalidArgumentError,
                           match=rf'{name}: argument paramwise_cfg\.layer_decay_rate'):
            _build(cls, Model(), layer_decay_rate=rate)


def test_depth_errors():
    plain = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=rf'{VIT}: set paramwise_cfg\.num_layers'):
        _build(ViTLayerDecayOptimWrapperConstructor, plain, layer_decay_rate=0.5)
    with pytest.raises(TypeError, match='has no backbone with `get_layer_depth`'):
        _build(SelfSupLayerDecayOptimWrapperConstructor, plain,
               layer_decay_rate=0.5)
