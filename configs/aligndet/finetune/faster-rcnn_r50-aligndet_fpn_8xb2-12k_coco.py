# faster-rcnn_r50_fpn 12k-iteration fine-tuning from an AlignDet checkpoint (see
# faster-rcnn_r50-aligndet_fpn_8xb2-1x_coco.py for the conversion), lr x1.5, weight decay x0.5.
_base_ = ['./faster-rcnn_r50-in1k_fpn_8xb2-12k_coco.py']

load_from = 'work_dirs/aligndet_faster-rcnn_r50_fpn_8xb2-12e_coco-proposals/aligndet_mmdet.pth'
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=5e-5))
