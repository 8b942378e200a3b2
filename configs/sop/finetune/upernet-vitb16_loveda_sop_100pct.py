# SOP-initialised twin of upernet-vitb16_loveda_imnet_100pct.py (weights from
# configs/sop/sop_pretrain_upernet-vitb16_loveda.py converted by tools/sop_to_seg.py,
# which drops the segment embedding; the backbone is the stock VisionTransformer).
_base_ = ['./upernet-vitb16_loveda_imnet_100pct.py']
model = dict(pretrained=None)
load_from = 'work_dirs/sop_pretrain_upernet-vitb16_loveda/sop_to_seg.pth'
