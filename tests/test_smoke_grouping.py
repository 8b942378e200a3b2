"""Which shipped configs share one smoke run (tools/smoke_configs.py), and why that
is safe: the members of a group differ only at schedule / scalar paths (lr, weight
decay, AMP vs fp32 wrapper, iterations, checkpoint and log intervals, batch size,
label fraction and seed of the split file), so after removing those they resolve to
the same model (init and ``load_from`` included), pipelines, dataset classes and
folders, evaluators and hooks. Controls: configs that differ in model, init or
pipeline are not grouped, and a change to the model or the pipeline of one config
moves it out of its group, while a change to its lr does not."""
import copy
import functools

import pytest

from tools.smoke_configs import (DATALOADER_SCALARS, checkpoint_refs, OPTIM_WRAPPER_SCALARS,
                                 OPTIMIZER_SCALARS, SCHEDULE_KEYS, SHUFFLING_SAMPLERS,
                                 SPLIT_FILE,
                                 config_name, group_configs, leaf_configs,
                                 load_config_dict, signature_diff, smoke_signature)

load = functools.lru_cache(maxsize=None)(load_config_dict)


@functools.lru_cache(maxsize=None)
def _groups():
    return group_configs(leaf_configs(), load=lambda p: copy.deepcopy(load(p)))


def _allowed(path: str, a: dict, b: dict) -> bool:
    """Is a difference at dotted ``path`` between configs a and b a schedule /
    scalar one (the rules smoke_signature applies)?"""
    parts = path.split('.')
    top = parts[0]
    if top in SCHEDULE_KEYS:
        return True
    if top == 'optim_wrapper':
        if parts[1:2] == ['type']:
            return {a['optim_wrapper'].get('type'), b['optim_wrapper'].get('type')} <= \
                {'OptimWrapper', 'AmpOptimWrapper', None}
        return parts[1] in OPTIM_WRAPPER_SCALARS or (
            parts[1] == 'optimizer' and len(parts) == 3 and parts[2] in OPTIMIZER_SCALARS)
    if top.endswith('_dataloader'):
        if len(parts) == 2 and parts[1] in DATALOADER_SCALARS:
            return True
        if parts[1:] == ['sampler', 'type']:  # epoch- vs iteration-based schedule
            return {_get(a, parts), _get(b, parts)} <= SHUFFLING_SAMPLERS
        if parts[-1] == 'ann_file':
            va, vb = (_get(x, parts) for x in (a, b))
            return bool(SPLIT_FILE.match(va or '')) and bool(SPLIT_FILE.match(vb or ''))
    return False


def _get(tree, parts):
    for p in parts:
        tree = tree[int(p)] if isinstance(tree, list) else tree.get(p)
    return tree


def test_every_leaf_config_is_in_exactly_one_group():
    paths = leaf_configs()
    assert len(paths) >= 88
    assert not [p for p in paths if '/_base_/' in p or '/demo/' in p]
    members = [c for g in _groups() for c in g.configs]
    assert sorted(members) == paths


def test_group_members_differ_only_in_schedule_and_scalars():
    shared = [g for g in _groups() if len(g.configs) > 1]
    assert len(shared) >= 10  # twins exist: amp / fp32, 12k / 1x, label fractions
    for g in shared:
        first = load(g.configs[0])
        for other in g.configs[1:]:
            cfg = load(other)
            diff = signature_diff(first, cfg)
            assert diff, (g.configs[0], other)  # not the same file twice
            bad = [d for d in diff if not _allowed(d, first, cfg)]
            assert not bad, f'{g.configs[0]} and {other} differ in {bad}'
        # and what a run builds is the same
        assert all(smoke_signature(load(c)) == g.signature for c in g.configs)


def test_an_fp32_config_runs_when_the_group_has_one():
    for g in _groups():
        if any('-amp-' not in config_name(c) for c in g.configs):
            assert '-amp-' not in config_name(g.runs), g.configs


@pytest.mark.parametrize('twins', [
    # schedule twins (12k vs 1x), lr / wd twins, AMP twins, label fractions
    ('configs/aligndet/finetune/retinanet_r50-in1k_fpn_8xb2-12k_coco.py',
     'configs/aligndet/finetune/retinanet_r50-in1k_fpn_8xb2-1x_coco.py'),
    ('configs/aligndet/aligndet_fcos_r50_fpn_8xb2-12e_coco-proposals.py',
     'configs/aligndet/aligndet_fcos_r50_fpn_8xb2-amp-12e_coco-proposals.py'),
    ('configs/sop/finetune/deeplabv3plus_r50-d8-in1k_4xb4-10k_loveda-1pct-512x512.py',
     'configs/sop/finetune/deeplabv3plus_r50-d8-in1k_4xb4-10k_loveda-5pct-512x512.py'),
    ('configs/aligndet/finetune/detr_r50-in1k_8xb2-50e_coco.py',
     'configs/aligndet/finetune/detr_r50-in1k_8xb2-150e_coco.py'),
], ids=['12k-1x', 'amp', 'label-fraction', 'detr-50e-150e'])
def test_schedule_twins_share_a_run(twins):
    by_config = {c: g for g in _groups() for c in g.configs}
    assert by_config[twins[0]] is by_config[twins[1]]


@pytest.mark.parametrize('pair', [
    # another init (ImageNet vs SOP / AlignDet weights): load_from / pretrained
    ('configs/sop/finetune/deeplabv3plus_r50-d8-in1k_4xb4-10k_loveda-1pct-512x512.py',
     'configs/sop/finetune/deeplabv3plus_r50-d8-sop_4xb4-10k_loveda-1pct-512x512.py'),
    ('configs/aligndet/finetune/retinanet_r50-in1k_fpn_8xb2-1x_coco.py',
     'configs/aligndet/finetune/retinanet_r50-aligndet_fpn_8xb2-1x_coco.py'),
    # another detector (model) on the same data
    ('configs/aligndet/finetune/faster-rcnn_r50-in1k_fpn_8xb2-1x_coco.py',
     'configs/aligndet/finetune/mask-rcnn_r50-in1k_fpn_8xb2-1x_coco.py'),
    # another dataset (LoveDA vs Potsdam) for the same model
    ('configs/sop/sop_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py',
     'configs/sop/sop_deeplabv3plus_r50-d8_1xb16-40k_potsdam-512x512.py'),
    # the full training set vs a label-fraction split file
    ('configs/sop/finetune/deeplabv3plus_r50-d8-in1k_4xb4-80k_loveda-512x512.py',
     'configs/sop/finetune/deeplabv3plus_r50-d8-in1k_4xb4-80k_loveda-25pct-512x512.py'),
], ids=['sop-init', 'aligndet-init', 'model', 'dataset', 'split-vs-full'])
def test_control_configs_that_differ_in_model_or_data_are_not_grouped(pair):
    by_config = {c: g for g in _groups() for c in g.configs}
    assert by_config[pair[0]] is not by_config[pair[1]]


def test_control_a_model_or_pipeline_change_leaves_the_group_an_lr_change_does_not():
    path = 'configs/aligndet/finetune/retinanet_r50-in1k_fpn_8xb2-12k_coco.py'
    twin = 'configs/aligndet/finetune/retinanet_r50-in1k_fpn_8xb2-1x_coco.py'
    base = load(twin)

    def variant(edit):
        cfg = copy.deepcopy(load(path))
        edit(cfg)
        return smoke_signature(cfg) == smoke_signature(base)

    def lr(cfg):
        cfg['optim_wrapper']['optimizer']['lr'] *= 3

    def model(cfg):
        cfg['model']['bbox_head']['stacked_convs'] += 1

    def pipeline(cfg):
        resize = [t for t in cfg['train_dataloader']['dataset']['pipeline']
                  if t['type'] == 'Resize'][0]
        resize['scale'] = [1024, 1024]

    def dataset(cfg):
        cfg['train_dataloader']['dataset']['type'] = 'LVISV1Dataset'

    assert variant(lambda cfg: None)
    assert variant(lr)
    assert not variant(model)
    assert not variant(pipeline)
    assert not variant(dataset)


def test_each_converted_checkpoint_is_made_by_one_pretraining_run():
    """A path the fine-tuning configs load (``checkpoints/pad-mae_vit-b_det.pth``,
    ``work_dirs/<pretraining>/aligndet_mmdet.pth`` ...) is produced by exactly one
    group, and the PAD ones by the ViT-B pre-training. (The ViT-L / ViT-H / FSDP
    PAD-MAE runs once all claimed ``pad-mae_vit-b_*.pth``, and the ViT-B FLIR
    detector was handed a ViT-L checkpoint.)"""
    from tools.smoke_configs import PAD_DOWNSTREAM_SOURCE, conversions
    producers = {}
    for g in _groups():
        for conv in conversions(g.runs, load(g.runs)):
            producers.setdefault(conv.produces, []).append(g.name)
    assert producers
    shared = {p: names for p, names in producers.items() if len(names) > 1}
    assert not shared, shared
    read = {v for g in _groups() for _, v in checkpoint_refs(load(g.runs))
            if v in producers}
    pad = sorted(v for v in read if v.startswith('checkpoints/pad-mae_'))
    assert pad == ['checkpoints/pad-mae_vit-b_det.pth', 'checkpoints/pad-mae_vit-b_seg.pth']
    assert {producers[v][0] for v in pad} == {PAD_DOWNSTREAM_SOURCE}
    model = load(f'configs/pad/{PAD_DOWNSTREAM_SOURCE}.py')['model']
    arch = model['algorithm']['backbone']['arch']
    assert arch in ('b', 'base'), arch
