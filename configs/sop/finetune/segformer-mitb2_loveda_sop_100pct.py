# SOP-initialised twin of segformer-mitb2_loveda_imnet_100pct.py (weights from
# configs/sop/sop_pretrain_segformer-mitb2_loveda.py converted by tools/sop_to_seg.py).
_base_ = ['./segformer-mitb2_loveda_imnet_100pct.py']
model = dict(backbone=dict(init_cfg=None))
load_from = 'work_dirs/sop_pretrain_segformer-mitb2_loveda/sop_to_seg.pth'
