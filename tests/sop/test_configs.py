"""SOP configs: every file is valid Python whose bases exist; the pre-training,
demo and a sample of fine-tuning configs parse and name registered types; each
full-size SOP pre-training model converts into the stock model of its fine-tuning
twin with only the classifiers missing (shapes included). Nothing is downloaded:
models are built, not initialised. (mmengine parses an mmseg:: config in ~1 s,
hence samples.)"""
import ast
import functools
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmpad  # noqa: F401
from mmpad.sop.convert import CONV_SEG, sop_to_seg_state_dict
from mmpad.core.config_check import check_config

from mmpad_test_utils import REPO  # noqa: E402
SOP = osp.join(REPO, 'configs', 'sop')
ALL = sorted(glob.glob(osp.join(SOP, '**', '*.py'), recursive=True))
LEAVES = [p for p in ALL if '_base_' not in p]
PARSED = sorted(glob.glob(osp.join(SOP, 'sop*_*.py')) +
                glob.glob(osp.join(SOP, 'demo', '*.py')))
TWINS = ['deeplabv3plus_r50-d8-in1k_4xb4-10k_loveda-1pct-512x512.py',
         'deeplabv3plus_r50-d8-in1k_4xb4-80k_potsdam-512x512.py',
         'segformer_mit-b2-in1k_4xb4-80k_loveda-512x512.py',
         'upernet_vit-b16-in1k_4xb4-80k_loveda-512x512.py']
PAIRS = [
    ('sop_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py',
     'finetune/deeplabv3plus_r50-d8-sop_4xb4-10k_loveda-1pct-512x512.py'),
    ('sop_upernet_r50_1xb16-40k_loveda-512x512.py',
     'finetune/upernet_r50-sop_4xb4-80k_loveda-512x512.py'),
    ('sop_segformer_mit-b2_1xb16-40k_loveda-512x512.py',
     'finetune/segformer_mit-b2-sop_4xb4-80k_loveda-512x512.py'),
    ('sop_upernet_vit-b16_1xb16-40k_loveda-512x512.py',
     'finetune/upernet_vit-b16-sop_4xb4-80k_loveda-512x512.py'),
]


@functools.lru_cache(maxsize=None)
def _cfg(path: str) -> Config:
    return Config.fromfile(path if osp.isabs(path) else osp.join(SOP, path))


def test_every_file_is_python_with_existing_bases():
    assert len(LEAVES) >= 39
    for path in ALL:
        tree = ast.parse(open(path).read(), path)
        for node in tree.body:
            if isinstance(node, ast.Assign) and node.targets[0].id == '_base_':
                bases = ast.literal_eval(node.value)
                for base in [bases] if isinstance(bases, str) else bases:
                    if '::' not in base:
                        assert osp.isfile(osp.join(osp.dirname(path), base)), (path, base)


@pytest.mark.parametrize('path', PARSED + [osp.join(SOP, 'finetune', t) for t in TWINS],
                         ids=lambda p: osp.basename(p)[:-3])
def test_config_is_valid(path):
    cfg = _cfg(path)
    assert cfg.runner_type == 'MMPadRunner'
    assert 'mmpad' in cfg.custom_imports['imports']
    check_config(cfg, data=False)


@pytest.mark.parametrize('imnet', TWINS, ids=lambda p: p[:-3])
def test_finetune_twins_differ_only_in_initialisation(imnet):
    a = _cfg(osp.join(SOP, 'finetune', imnet))
    b = _cfg(osp.join(SOP, 'finetune', imnet.replace('-in1k_', '-sop_')))
    assert b.load_from and not a.load_from
    for key in ('train_dataloader', 'val_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg', 'val_evaluator'):
        assert a[key] == b[key], key
    ma, mb = a.model.to_dict(), b.model.to_dict()
    for m in (ma, mb):
        m.pop('pretrained', None)
        m['backbone'].pop('init_cfg', None)
    assert ma == mb


@pytest.mark.parametrize('pretrain,finetune', PAIRS, ids=[p[0][13:-3] for p in PAIRS])
def test_pretrain_converts_into_finetune_twin(pretrain, finetune):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    models = []
    for path in (pretrain, finetune):
        model_cfg = _cfg(path).model.copy()
        if 'vit' in path:  # same structure with 2 of the 12 blocks: 5x faster
            model_cfg.backbone = dict(model_cfg.backbone, num_layers=2,
                                      out_indices=(0, 1, 1, 1))
        models.append(MODELS.build(model_cfg))
    out, _ = sop_to_seg_state_dict(models[0].state_dict())
    target = models[1].state_dict()
    assert [k for k in out if k not in target] == []
    assert all(CONV_SEG.match(k) for k in target if k not in out)
    assert [k for k, v in out.items() if v.shape != target[k].shape] == []
