# Fine-tuning demo from the AlignDet demo pre-training: the tiny RetinaNet of
# configs/foundation/retinanet_r18-tiny_flir-demo.py (its baseline twin),
# initialised from the converted checkpoint, with AlignDet's lr x1.5 / wd x0.5;
# CocoMetric on the FLIR-style val split.
#   python tools/aligndet_to_mmdet.py \
#       work_dirs/aligndet_retinanet_r18-tiny_flir-demo/iter_48.pth \
#       work_dirs/aligndet_retinanet_r18-tiny_flir-demo/aligndet_mmdet.pth
#   python tools/train.py configs/aligndet/demo/retinanet_r18-tiny_flir-demo_aligndet.py
_base_ = ['../../foundation/retinanet_r18-tiny_flir-demo.py']

load_from = 'work_dirs/aligndet_retinanet_r18-tiny_flir-demo/aligndet_mmdet.pth'
optim_wrapper = dict(optimizer=dict(lr=0.015, weight_decay=5e-5))
