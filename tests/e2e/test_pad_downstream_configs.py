"""The full downstream configs hold the PAD authors' fine-tuning recipes and build;
the PAD and baseline variants differ only by the adapters (1,226,496 parameters)."""
import os.path as osp

import pytest

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
import mmpad  # noqa: F401,E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs/pad/downstream')
DET = 'faster-rcnn_vit-b{}_simplefpn_2xb1-amp-lsj-53k_flir-1024x1024.py'
SODA = 'upernet_vit-b{}_2xb4-amp-14.4k_soda-512x512.py'
MFNET = 'upernet_vit-b{}_2xb4-amp-9.8k_mfnet-512x512.py'
PAD_ADAPTER = dict(bottleneck=64, dropout=0.1, scale_mode='concat')


def _cfg(name):
    return Config.fromfile(osp.join(CFG, name))


def _scheduler(cfg, kind):
    return next(s for s in cfg.param_scheduler if s.type == kind)


def test_detection_recipe():
    pad, base = _cfg(DET.format('-pad')), _cfg(DET.format(''))
    assert pad.model.backbone.adapter_cfg == PAD_ADAPTER
    assert base.model.backbone.adapter_cfg is None
    b = pad.model.backbone
    assert (b.type, b.img_size, b.window_size, b.drop_path_rate) == (
        'PADViTDet', 1024, 14, 0.1)
    assert b.arch.global_attn_indexes == [2, 5, 8, 11] and b.use_rel_pos
    assert b.pretrain_img_size == 224
    assert pad.model.neck.type == 'SimpleFPN'
    assert pad.model.rpn_head.num_convs == 2
    assert pad.model.roi_head.bbox_head.type == 'Shared4Conv1FCBBoxHead'
    assert pad.model.roi_head.bbox_head.num_classes == 3
    assert pad.model.data_preprocessor.mean == [96.9255] * 3
    assert pad.model.data_preprocessor.std == [47.8976] * 3
    resize = next(t for t in pad.train_pipeline if t.type == 'RandomResize')
    assert resize.ratio_range == (0.1, 2.0) and resize.scale == (1024, 1024)
    assert pad.train_dataloader.dataset.type == 'FLIRDataset'
    assert pad.train_dataloader.dataset.filter_cfg.filter_empty_gt
    ow = pad.optim_wrapper
    assert (ow.optimizer.type, ow.optimizer.lr, ow.optimizer.weight_decay) == (
        'AdamW', 1e-4, 0.1)
    assert ow.paramwise_cfg.layer_decay_rate == 0.7
    assert ow.type == 'AmpOptimWrapper'
    assert pad.train_cfg.max_iters == 53172
    assert _scheduler(pad, 'MultiStepLR').milestones == [35448, 48741]
    warm = _scheduler(pad, 'LinearLR')
    assert (warm.start_factor, warm.end) == (0.001, 250)
    assert pad.train_dataloader.batch_size * 2 == 2  # 2 GPUs x 1
    assert pad.randomness.seed == 42


@pytest.mark.parametrize('name, classes, iters, warmup, interval, val_list', [
    (SODA, 21, 14400, 1500, 800, 'ImageSets/Segmentation/test_infrared.txt'),
    (MFNET, 9, 9800, 1000, 700, 'val_test.txt'),
])
def test_segmentation_recipe(name, classes, iters, warmup, interval,
                             val_list):
    pad, base = _cfg(name.format('-pad')), _cfg(name.format(''))
    assert pad.model.backbone.adapter_cfg == PAD_ADAPTER
    assert base.model.backbone.adapter_cfg is None
    b = pad.model.backbone
    assert (b.type, b.img_size, b.init_values, b.drop_path_rate) == (
        'PADMAE', 512, 1.0, 0.1)
    assert b.out_indices == [3, 5, 7, 11]
    assert pad.model.decode_head.num_classes == classes
    assert pad.model.auxiliary_head.num_classes == classes
    assert pad.model.decode_head.channels == 768
    aux = pad.model.auxiliary_head
    assert (aux.in_index, aux.channels, aux.loss_decode.loss_weight) == (
        2, 256, 0.4)
    assert pad.model.test_cfg == dict(
        mode='slide', crop_size=(512, 512), stride=(341, 341))
    ow = pad.optim_wrapper
    assert (ow.optimizer.lr, ow.optimizer.weight_decay) == (1e-4, 0.05)
    assert ow.paramwise_cfg.layer_decay_rate == 0.65
    assert pad.train_cfg.max_iters == iters
    assert pad.train_cfg.val_interval == interval
    warm = _scheduler(pad, 'LinearLR')
    assert (warm.start_factor, warm.end) == (1e-6, warmup)
    poly = _scheduler(pad, 'PolyLR')
    assert (poly.begin, poly.end, poly.power, poly.eta_min) == (
        warmup, iters, 1.0, 0.0)
    assert pad.train_dataloader.batch_size * 2 == 8  # 2 GPUs x 4
    assert pad.val_dataloader.dataset.ann_file == val_list
    assert pad.randomness.seed == 0


def _without_adapters(cfg):
    model = cfg.model.to_dict()
    model['backbone'].pop('adapter_cfg')
    model['backbone'].pop('init_cfg')
    return model


@pytest.mark.parametrize('name', [DET, SODA, MFNET])
def test_pad_and_baseline_differ_by_the_adapters_only(name):
    pad, base = _cfg(name.format('-pad')), _cfg(name.format(''))
    assert _without_adapters(pad) == _without_adapters(base)
    assert pad.optim_wrapper == base.optim_wrapper
    assert pad.train_cfg == base.train_cfg
    assert pad.model.backbone.init_cfg.checkpoint != \
        base.model.backbone.init_cfg.checkpoint


@pytest.mark.parametrize('scope, name', [('mmdet', DET), ('mmseg', SODA)])
def test_vit_b_adapter_parameter_count(scope, name):
    """ViT-B, r = 64: 102,208 adapter parameters per block, 1,226,496 in all."""
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    cfg = _cfg(name.format('-pad')).model.backbone
    cfg.init_cfg = None
    backbone = registry.build(cfg)
    per_block = [sum(p.numel() for p in layer.adapter.parameters())
                 for layer in backbone.layers]
    assert per_block == [102_208] * 12
    assert sum(p.numel() for n, p in backbone.named_parameters()
               if '.adapter.' in n) == 1_226_496
