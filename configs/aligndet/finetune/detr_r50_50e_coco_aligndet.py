# DETR R50 50-epoch fine-tuning from an AlignDet checkpoint.
_base_ = ['./detr_r50_50e_coco_baseline.py']

load_from = 'work_dirs/aligndet_detr_r50_50e_coco-proposals/aligndet_mmdet.pth'
