"""The hosts' own inferencers (mmdet's ``DetInferencer``, mmseg's
``MMSegInferencer``) on models that went through mmpad: AlignDet and SOP
pre-training checkpoints converted by tools/aligndet_to_mmdet.py and
tools/sop_to_seg.py, and PAD downstream detectors / segmentors (``PADViTDet``,
``PADMAE``: mmpad modules, found through the config's ``custom_imports`` in a
process that never imports mmpad itself).

The pre-training checkpoints are freshly built models saved in the layout
tools/train.py writes (``state_dict`` + ``meta``); the converters are the real tools
(their ``main``, in this process).
"""
import glob
import json
import os.path as osp
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
import mmpad  # noqa: F401,E402

from mmpad_test_utils import REPO, load_module, randomise_, run_tool  # noqa: E402

CONFIGS = osp.join(REPO, 'configs')
ALIGNDET_PRE = osp.join(CONFIGS, 'aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py')
ALIGNDET_FT = osp.join(CONFIGS, 'aligndet/demo/retinanet_r18-tiny_flir-demo_aligndet.py')
SOP_PRE = osp.join(CONFIGS, 'sop/demo/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py')
SOP_FT = osp.join(CONFIGS, 'sop/demo/finetune_deeplabv3plus-r18-tiny_soda_sop-demo.py')
PAD_DET = osp.join(CONFIGS, 'pad/downstream/demo/'
                   'faster-rcnn_vit-tiny-pad_simplefpn_flir-demo.py')
PAD_SEG = osp.join(CONFIGS, 'pad/downstream/demo/upernet_mae-tiny-pad_soda-demo.py')


def _tool(name):
    """A tool's module, run in this process (its ``main``) to save the ~6 s import
    of the OpenMMLab stack per call; tests/tools cover the command lines."""
    return load_module(f'tools/{name}.py')


def _user_config(tmp_path, name, base, body=''):
    """A config a user writes next to their data: inherits a shipped one."""
    path = tmp_path / name
    path.write_text(f'_base_ = [{base!r}]\n' + textwrap.dedent(body))
    return str(path)


def _build(config, scope, **options):
    cfg = Config.fromfile(config)
    if options:
        cfg.merge_from_dict(options)
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
    return model


def _save(model, path, **meta):
    torch.save(dict(state_dict=model.state_dict(), meta=dict(meta)), path)
    return path


def _flir_image(demo_data):
    return sorted(glob.glob(osp.join(demo_data, 'flir', 'val', '**', '*.jp*g'),
                       recursive=True))[0]


def _soda_image(demo_data):
    return sorted(glob.glob(osp.join(demo_data, 'soda', 'JPEGImages', '*.jpg')))[0]


def _equal_keys(model, reference: dict, keys) -> list:
    sd = model.state_dict()
    return [k for k in keys if torch.equal(sd[k].cpu(), reference[k].cpu())]


def test_det_inferencer_on_an_aligndet_converted_detector(tmp_path, demo_data):
    from mmdet.apis import DetInferencer
    pre = _build(ALIGNDET_PRE, 'mmdet')
    randomise_(pre.online.neck)  # distinguishable from any fresh initialisation
    src = _save(pre, str(tmp_path / 'iter_48.pth'), iter=48)
    dst = str(tmp_path / 'aligndet_mmdet.pth')
    assert _tool('aligndet_to_mmdet').main([src, dst, '--config', ALIGNDET_FT]) == 0
    converted = torch.load(dst, weights_only=True)['state_dict']
    online = pre.online.state_dict()
    cfg = _user_config(tmp_path, 'my_retinanet.py', ALIGNDET_FT, f'''
        data_root = {osp.join(demo_data, 'flir') + '/'!r}
        load_from = None
    ''')

    inferencer = DetInferencer(model=cfg, weights=dst, device='cpu',
                               show_progress=False)
    assert sorted(_equal_keys(inferencer.model, online, converted)) == \
        sorted(converted)
    out = inferencer(_flir_image(demo_data), out_dir=str(tmp_path / 'out'),
                     no_save_pred=False)
    pred = out['predictions'][0]
    assert len(pred['bboxes']) == len(pred['scores']) == len(pred['labels']) > 0
    assert glob.glob(str(tmp_path / 'out' / 'vis' / '*'))
    assert glob.glob(str(tmp_path / 'out' / 'preds' / '*.json'))

    # control: without the converted weights the neck is not the pre-trained one
    fresh = DetInferencer(model=cfg, weights=None, device='cpu', show_progress=False)
    neck = [k for k in converted if k.startswith('neck.')]
    assert neck and _equal_keys(fresh.model, online, neck) == []


def test_mmseg_inferencer_on_an_sop_converted_segmentor(tmp_path, demo_data):
    from mmseg.apis import MMSegInferencer
    pre = _build(SOP_PRE, 'mmseg')
    randomise_(pre.decode_head.bottleneck)
    src = _save(pre, str(tmp_path / 'iter_200.pth'), iter=200)
    dst = str(tmp_path / 'sop_to_seg.pth')
    assert _tool('sop_to_seg').main([src, dst, '--check-config', SOP_FT]) == 0
    converted = torch.load(dst, weights_only=True)['state_dict']
    cfg = _user_config(tmp_path, 'my_deeplab.py', SOP_FT, f'''
        data_root = {osp.join(demo_data, 'soda') + '/'!r}
        load_from = None
    ''')
    classes = Config.fromfile(cfg).soda_metainfo['classes']
    palette = [[i * 12 % 256, i * 37 % 256, i * 91 % 256] for i in range(len(classes))]

    inferencer = MMSegInferencer(model=cfg, weights=dst, device='cpu',
                                 classes=classes, palette=palette)
    same = _equal_keys(inferencer.model, pre.state_dict(),
                       [k for k in converted if k in pre.state_dict()
                        and k != 'backbone.stem.0.weight'])
    assert any(k.startswith('decode_head.bottleneck.') for k in same)
    stem = inferencer.model.state_dict()['backbone.stem.0.weight']
    assert torch.equal(stem, converted['backbone.stem.0.weight'])  # 6 -> 3 channels
    assert stem.shape[1] == 3
    out = inferencer(_soda_image(demo_data), out_dir=str(tmp_path / 'out'),
                     return_vis=True)
    assert out['predictions'].shape == out['visualization'].shape[:2]
    assert glob.glob(str(tmp_path / 'out' / 'vis' / '*'))

    # control: without the converted weights the head is not the pre-trained one
    fresh = MMSegInferencer(model=cfg, weights=None, device='cpu',
                            classes=classes, palette=palette)
    assert 'decode_head.bottleneck.conv.weight' in same
    assert _equal_keys(fresh.model, pre.state_dict(),
                       ['decode_head.bottleneck.conv.weight']) == []


# A user's script: only the hosts are imported, mmpad comes from custom_imports.
# First the control: the same config with custom_imports emptied cannot be built
# (before anything has imported mmpad into this process).
USER_SCRIPT = '''
import json, sys
import torch
from mmdet.apis import DetInferencer
from mmseg.apis import MMSegInferencer
bare_cfg, det_cfg, det_ckpt, seg_cfg, seg_ckpt, det_img, seg_img, out = sys.argv[1:]
try:
    DetInferencer(model=bare_cfg, weights=det_ckpt, device='cpu')
    control = 'built'
except KeyError as err:
    control = str(err)
control_mmpad = 'mmpad' in sys.modules
det = DetInferencer(model=det_cfg, weights=det_ckpt, device='cpu', show_progress=False)
boxes = det(det_img, out_dir=out)['predictions'][0]['bboxes']
seg = MMSegInferencer(model=seg_cfg, weights=seg_ckpt, device='cpu')
mask = seg(seg_img)['predictions']  # (H, W) class ids
def adapters(model):
    return sum(float(v.double().sum()) for k, v in model.state_dict().items()
               if '.adapter.' in k)
print('RESULT ' + json.dumps(dict(
    control=control, control_mmpad=control_mmpad,
    det_backbone=type(det.model.backbone).__name__, det_adapters=adapters(det.model),
    seg_backbone=type(seg.model.backbone).__name__, seg_adapters=adapters(seg.model),
    boxes=len(boxes), mask=list(mask.shape), mmpad='mmpad' in sys.modules)))
'''


def _adapter_sum(model) -> float:
    return sum(float(v.double().sum()) for k, v in model.state_dict().items()
               if '.adapter.' in k)


def test_stock_inferencers_find_mmpad_modules_through_custom_imports(
        tmp_path, demo_data):
    """PAD downstream models: the fine-tuned checkpoint (here: a built model with
    random adapters, in the layout tools/train.py writes) runs in mmdet's and
    mmseg's inferencers from the config file alone."""
    det = _build(PAD_DET, 'mmdet', **{'model.backbone.init_cfg': None})
    seg = _build(PAD_SEG, 'mmseg', **{'model.backbone.init_cfg': None})
    for model in (det, seg):
        randomise_(model.backbone)
    det_meta = dict(dataset_meta=dict(classes=('person', 'bicycle', 'car')))
    det_ckpt = _save(det, str(tmp_path / 'det.pth'), **det_meta)
    seg_ckpt = _save(seg, str(tmp_path / 'seg.pth'))
    # the users' configs: no pretrained backbone file needed to run inference
    det_cfg = _user_config(tmp_path, 'my_pad_det.py', PAD_DET,
                           "model = dict(backbone=dict(init_cfg=None))\n")
    seg_cfg = _user_config(tmp_path, 'my_pad_seg.py', PAD_SEG,
                           "model = dict(backbone=dict(init_cfg=None))\n")
    bare = _user_config(tmp_path, 'my_pad_det_bare.py', PAD_DET,
                        "model = dict(backbone=dict(init_cfg=None))\n"
                        "custom_imports = dict(imports=[], "
                        "allow_failed_imports=False)\n")
    script = tmp_path / 'infer.py'
    script.write_text(USER_SCRIPT)
    args = [str(script), bare, det_cfg, det_ckpt, seg_cfg, seg_ckpt,
            _flir_image(demo_data), _soda_image(demo_data), str(tmp_path / 'out')]
    proc = run_tool(args, hang_note='measured: about 30 s')
    result = json.loads(proc.stdout.split('RESULT ', 1)[1].splitlines()[0])
    # control: without custom_imports the mmpad backbone is unknown to mmdet
    assert result['control_mmpad'] is False
    assert 'PADViTDet' in result['control'] and 'not in the' in result['control']
    assert result['mmpad'] is True  # imported by custom_imports, not the script
    assert result['det_backbone'] == 'PADViTDet' and result['seg_backbone'] == 'PADMAE'
    assert result['det_adapters'] == pytest.approx(_adapter_sum(det), rel=1e-9)
    assert result['seg_adapters'] == pytest.approx(_adapter_sum(seg), rel=1e-9)
    assert result['boxes'] >= 0 and len(result['mask']) == 2
    assert glob.glob(str(tmp_path / 'out' / 'vis' / '*'))
