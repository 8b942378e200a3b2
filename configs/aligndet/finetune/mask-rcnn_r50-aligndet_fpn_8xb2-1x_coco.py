# mask-rcnn_r50_fpn 1x fine-tuning from an AlignDet pre-training checkpoint converted with
#   python tools/aligndet_to_mmdet.py \
#       work_dirs/aligndet_faster-rcnn_r50_fpn_8xb2-12e_coco-proposals/epoch_12.pth \
#       work_dirs/aligndet_faster-rcnn_r50_fpn_8xb2-12e_coco-proposals/aligndet_mmdet.pth
# (non-strict load_from). AlignDet's fine-tuning hyper-parameters: lr x1.5
# (0.02 -> 0.03), weight decay x0.5 (1e-4 -> 5e-5). Its baseline twin is
# mask-rcnn_r50-in1k_fpn_8xb2-1x_coco.py; AlignDet with stock values: --cfg-options
# optim_wrapper.optimizer.lr=0.02 optim_wrapper.optimizer.weight_decay=1e-4
_base_ = ['./mask-rcnn_r50-in1k_fpn_8xb2-1x_coco.py']

load_from = 'work_dirs/aligndet_faster-rcnn_r50_fpn_8xb2-12e_coco-proposals/aligndet_mmdet.pth'
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=5e-5))
