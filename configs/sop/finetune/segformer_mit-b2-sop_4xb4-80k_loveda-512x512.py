# SOP-initialised twin of segformer_mit-b2-in1k_4xb4-80k_loveda-512x512.py (weights from
# configs/sop/sop_segformer_mit-b2_1xb16-40k_loveda-512x512.py converted by tools/sop_to_seg.py).
_base_ = ['./segformer_mit-b2-in1k_4xb4-80k_loveda-512x512.py']
model = dict(backbone=dict(init_cfg=None))
load_from = 'work_dirs/sop_segformer_mit-b2_1xb16-40k_loveda-512x512/sop_to_seg.pth'
