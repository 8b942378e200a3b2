# DETR R50 50-epoch fine-tuning from an AlignDet checkpoint.
_base_ = ['./detr_r50-in1k_8xb2-50e_coco.py']

load_from = 'work_dirs/aligndet_detr_r50_8xb2-50e_coco-proposals/aligndet_mmdet.pth'
