# DETR R50 150e fine-tuning from an AlignDet checkpoint (encoder, decoder,
# input_proj, query_embedding and the regression FFN transfer; the cluster
# classifier and the projector are dropped by tools/aligndet_to_mmdet.py).
# AlignDet's DETR recipe keeps the stock hyper-parameters.
_base_ = ['./detr_r50-in1k_8xb2-150e_coco.py']

load_from = 'work_dirs/aligndet_detr_r50_8xb2-50e_coco-proposals/aligndet_mmdet.pth'
